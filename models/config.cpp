#include "models/config.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <map>
#include <set>
#include <functional>

#include "common/error.hpp"
#include "common/units.hpp"
#include "models/fabric.hpp"

namespace collemu::models {

using common::InputError;
using common::UnitError;

namespace {

// The schema. Defaults live in preset_default() below; sources for them are in docs/fabric-model.md.
const std::vector<KeySpec> kKeys = {
    {"regions", KeyKind::Count, "", "regions, each with its own BAG super-spine"},
    {"region.buildings", KeyKind::Count, "", "buildings per region, each one L1/L2 fabric"},
    {"region.distance", KeyKind::Distance, "", "fibre between the BAGs of two regions (5 us/km)"},
    {"building.gpus", KeyKind::Count, "", "GPUs per building (a multiple of scaleup.gpus)"},
    {"building.distance", KeyKind::Distance, "", "fibre between a building's top tier and its region's BAG"},
    {"fabric.kind", KeyKind::Choice, "dsf|nsf|mixed",
     "building fabric: dsf (scheduled, sprayed), nsf (Ethernet Clos, ECMP), mixed (even buildings DSF, odd NSF)"},
    {"fabric.planes", KeyKind::Count, "", "independent copies of each building fabric; NIC ports striped over them"},
    {"fabric.attach", KeyKind::Choice, "rack|rail",
     "how NIC ports fill leaves: rack (consecutive GPUs) or rail (GPU i of every domain on the same leaves)"},
    {"fabric.hop_latency", KeyKind::Duration, "", "latency of each switch-to-switch link inside a building"},
    {"scaleup.gpus", KeyKind::Count, "", "GPUs per NVLink domain (host or rack); 1 = no NVLink"},
    {"scaleup.bandwidth", KeyKind::Bandwidth, "", "NVLink bandwidth per GPU per direction (default: gpu.type's)"},
    {"gpu.type", KeyKind::Choice, "a100|h100|h200|h20|b200|gb200|gb300",
     "GPU generation: NVLink bandwidth default, NVLS (Hopper on), NCCL's per-generation tuning constants"},
    {"gpu.compute_time", KeyKind::Percent, "",
     "the GPUs' compute time as a share of what the trace says (80%: 1.25x as fast; 100%: as traced; a fitted value, "
     "collemu calibrate --trace; times run --compute-scale)"},
    {"scaleup.latency", KeyKind::Duration, "", "latency of a GPU-NVSwitch link"},
    {"scaleup.efficiency", KeyKind::Percent, "",
     "achieved share of the NVLink payload rate NCCL's model gives (100%: that rate; a fitted or measured value)"},
    {"nic.speed", KeyKind::Bandwidth, "", "backend NIC line rate, all ports together"},
    {"nic.ports", KeyKind::Count, "", "ports per NIC, a multiple of fabric.planes"},
    {"nic.gpus_per_nic", KeyKind::Count, "",
     "GPUs that share one NIC through a PCIe switch (2: 4 NICs for 8 GPUs); divides scaleup.gpus"},
    {"nic.per_gpu", KeyKind::Count, "", "NICs per GPU (2: two NICs for each GPU), built as one NIC with all their ports"},
    {"nic.transport", KeyKind::Choice, "roce|ib",
     "the backend network's transport: roce (RoCEv2 framing, 4096 of 4178 bytes: 49.0 of 50 GB/s per 400G) or ib "
     "(InfiniBand: 94% of the line rate, the 46-48 GB/s per 400G NDR NIC NCCL reaches)"},
    {"host.cpu", KeyKind::Choice, "intel|amd|arm",
     "the hosts' CPU vendor, which NCCL's tuning reads across nodes (tuning.cc: LL's bandwidth ceiling, the network's "
     "post overhead): intel (DGX/HGX reference hosts), amd (EPYC hosts) or arm (Grace; tuned as intel)"},
    {"nic.efficiency", KeyKind::Percent, "",
     "achieved share of the payload rate nic.transport gives, on every network link (RoCE clusters: about "
     "85-95%, 40-46 of 49 GB/s per 400G NIC)"},
    {"nccl.extra_latency", KeyKind::Duration, "",
     "a fixed cost added to every collective and transfer on top of NCCL's modelled latency (0s: that model; a fitted "
     "value, collemu calibrate)"},
    {"nccl.extra_hop_latency", KeyKind::Duration, "",
     "added for every network step on a collective's critical path (Ring AllReduce 2(nodes-1), Tree and NVLSTree "
     "2 log2(nodes), ...) on top of NCCL's per-hop latency (0s; a fitted value, collemu calibrate)"},
    {"nic.port_select", KeyKind::Choice, "spray|hash",
     "how a flow uses the NIC's ports: spray (equal share on every plane) or hash (one port per QP)"},
    {"dsf.leaf_ports", KeyKind::Count, "", "NIC-facing ports per DSF leaf (RDSW, Jericho3-AI)"},
    {"dsf.leaf_oversubscription", KeyKind::Ratio, "", "DSF leaf: NIC-facing over fabric-facing capacity"},
    {"dsf.fabric_elements", KeyKind::Count, "", "fabric elements (FDSW, Ramon3) modelled per plane"},
    {"dsf.fe_ports", KeyKind::Count, "", "leaves (host and edge) one fabric element can connect"},
    {"nsf.tiers", KeyKind::Count, "", "NSF Clos tiers: 2 (leaf, spine) or 3 (leaf, pod spine, super-spine)"},
    {"nsf.leaf_ports", KeyKind::Count, "", "NIC-facing ports per NSF leaf (rack switch)"},
    {"nsf.leaf_oversubscription", KeyKind::Ratio, "", "NSF leaf: NIC-facing over spine-facing capacity"},
    {"nsf.spines", KeyKind::Count, "", "spines per plane (2 tiers) or per pod (3 tiers)"},
    {"nsf.spine_ports", KeyKind::Count, "", "leaves one spine can connect"},
    {"nsf.pod_leaves", KeyKind::Count, "", "leaves per pod (3 tiers)"},
    {"nsf.spine_oversubscription", KeyKind::Ratio, "", "3 tiers: pod spine leaf-facing over super-facing capacity"},
    {"nsf.supers", KeyKind::Count, "", "3 tiers: super-spines per spine group (one group per pod spine index)"},
    {"nsf.super_ports", KeyKind::Count, "", "3 tiers: pods one super-spine can connect"},
    {"nsf.hash", KeyKind::Choice, "five-tuple|qp",
     "ECMP hash: five-tuple (RoCE UDP 5-tuple, low entropy) or qp (E-ECMP, hashes the destination QP)"},
    {"nsf.routing", KeyKind::Choice, "ecmp|adaptive",
     "how an NSF building's switches pick a spine or super-spine: ecmp (one by hash, nsf.hash) or adaptive "
     "(InfiniBand adaptive routing: every flow inside a building spread evenly over all live paths; flows to and from "
     "the BAG keep ECMP up to the top tier and UCMP beyond)"},
    {"routing.hash_seed", KeyKind::Count, "",
     "seed of every ECMP hash (1: the hashes of a flow fixed by its endpoints, QP and port, as before this key); "
     "repeat a what-if over several seeds to tell a trend from hash luck"},
    {"bag.enabled", KeyKind::Bool, "", "build a BAG super-spine above the buildings"},
    {"bag.oversubscription", KeyKind::Ratio, "", "L2->BAG: a building's top-tier capacity over its BAG capacity"},
    {"bag.switches", KeyKind::CountOrAuto, "", "BAG switches per region, a multiple of fabric.planes, or auto"},
    {"bag.ports", KeyKind::Count, "", "ports per BAG switch (Jericho3 chassis: 432)"},
    {"bag.port_speed", KeyKind::Bandwidth, "", "BAG port speed"},
    {"bag.wiring", KeyKind::Choice, "planar|spread",
     "inter-region BAG links: planar (switch i to switch i) or spread (every switch to every switch)"},
    {"bag.region_capacity", KeyKind::Bandwidth, "", "inter-BAG capacity per region pair, per direction"},
    {"fat_tree.k", KeyKind::Count, "", "fat-tree preset: switch radix k (even); k^3/4 hosts"},
};

const std::vector<std::string_view> kPresets = {"prometheus", "llama3-24k", "fat-tree"};

// Defaults shared by every preset (keys a preset does not override).
const std::map<std::string_view, std::string_view> kCommon = {
    {"regions", "1"},
    {"region.buildings", "1"},
    {"region.distance", "50km"},  // not published; Jericho4 targets sites up to 100 km apart (FABRIC.md)
    {"building.distance", "1km"},  // not published
    {"fabric.planes", "1"},
    {"fabric.attach", "rack"},
    {"fabric.hop_latency", "0s"},  // switch latency is not modelled unless set
    {"scaleup.gpus", "8"},
    {"gpu.type", "h100"},  // scaleup.bandwidth follows it unless set (FabricConfig::value)
    {"gpu.compute_time", "100%"},  // the trace's compute durations as they are
    {"scaleup.latency", "0s"},
    {"scaleup.efficiency", "100%"},  // NCCL's NVLink payload model as it is (collectives/nccl.cpp)
    {"nic.transport", "roce"},       // Meta's backend fabrics are RoCE (FABRIC.md)
    {"host.cpu", "intel"},           // DGX H100 and DGX B200 hosts are Intel Xeon (NVIDIA DGX user guides)
    {"nic.efficiency", "100%"},      // the transport's payload rate as it is (collectives::network_payload_efficiency)
    {"nccl.extra_latency", "0s"},    // NCCL's latency model as it is (collectives/nccl.cpp, tuning.cc)
    {"nccl.extra_hop_latency", "0s"},
    {"nic.speed", "400Gbps"},
    {"nic.ports", "1"},
    {"nic.gpus_per_nic", "1"},  // HGX/DGX H100, H200, B200: eight NICs for eight GPUs
    {"nic.per_gpu", "1"},
    {"nic.port_select", "spray"},
    {"dsf.leaf_ports", "36"},  // 18,432-GPU two-stage DSF = 512 leaves x 36 x 400G (FABRIC.md)
    {"dsf.leaf_oversubscription", "1:1"},
    {"dsf.fabric_elements", "16"},
    {"dsf.fe_ports", "512"},  // see dsf.leaf_ports
    {"nsf.tiers", "2"},
    {"nsf.leaf_ports", "64"},
    {"nsf.leaf_oversubscription", "1:1"},
    {"nsf.spines", "32"},
    {"nsf.spine_ports", "256"},
    {"nsf.pod_leaves", "32"},
    {"nsf.spine_oversubscription", "1:1"},
    {"nsf.supers", "4"},
    {"nsf.super_ports", "64"},
    {"nsf.hash", "qp"},  // Meta runs E-ECMP (QP hashing) in production (FABRIC.md)
    {"nsf.routing", "ecmp"},  // Meta's RoCE fabrics hash (FABRIC.md); adaptive: InfiniBand with AR on
    {"routing.hash_seed", "1"},
    {"bag.enabled", "false"},
    {"bag.oversubscription", "4.5:1"},  // typical L2->BAG ratio (FABRIC.md, Prometheus post)
    {"bag.switches", "auto"},
    {"bag.ports", "432"},  // Jericho3 chassis, 432 x 800G (FABRIC.md)
    {"bag.port_speed", "800Gbps"},
    {"bag.wiring", "planar"},
    {"bag.region_capacity", "16Pbps"},  // low end of 16-48 Pbps per region pair (FABRIC.md)
    {"fat_tree.k", "8"},
};

// Prometheus-like region (sizes not published; chosen so that every tier is a whole number of switches):
// two buildings, one DSF and one NSF, 16,384 GPUs each (8-GPU hosts, one 800G NIC per GPU as 4 x 200G
// ports on 4 planes), behind a BAG at 4.5:1.
const std::map<std::string_view, std::string_view> kPrometheus = {
    {"region.buildings", "2"},
    {"building.gpus", "16384"},
    {"fabric.kind", "mixed"},
    {"fabric.planes", "4"},
    {"nic.speed", "800Gbps"},
    {"nic.ports", "4"},
    {"dsf.leaf_ports", "72"},  // 14.4 Tbps per leaf (18,432 x 400G / 512 leaves) at 200G per port
    {"nsf.tiers", "2"},
    {"nsf.leaf_ports", "128"},  // 51.2T switch: 128 x 200G down, 128 x 200G up
    {"nsf.spines", "64"},
    {"bag.enabled", "true"},
};

// Llama 3 cluster (FABRIC.md, Meta SIGCOMM'24): 24,576 H100, 3,072 hosts x 8, 2 hosts per rack, 8 x 400G NICs
// per host; RTSW (16 NIC ports) -> CTSW -> ATSW; pods of 3,072 GPUs non-blocking; 7:1 above the pods.
// CTSWs per pod and ATSWs per group are not published.
const std::map<std::string_view, std::string_view> kLlama3 = {
    {"building.gpus", "24576"},
    {"fabric.kind", "nsf"},
    {"nsf.tiers", "3"},
    {"nsf.leaf_ports", "16"},
    {"nsf.pod_leaves", "192"},  // 3,072 GPUs per pod / 16 per RTSW
    {"nsf.spines", "16"},
    {"nsf.spine_oversubscription", "7:1"},
    {"nsf.supers", "4"},
    {"nsf.hash", "qp"},
};

std::optional<std::string> preset_default(std::string_view preset, std::string_view key,
                                          const std::function<std::int64_t()>& fat_tree_k) {
  auto from = [&](const std::map<std::string_view, std::string_view>& m) -> std::optional<std::string> {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    return std::string(it->second);
  };
  if (preset == "prometheus") {
    if (auto v = from(kPrometheus)) return v;
  } else if (preset == "llama3-24k") {
    if (auto v = from(kLlama3)) return v;
  } else if (preset == "fat-tree" && key != "fat_tree.k") {
    // A k-ary fat-tree (Al-Fares et al., SIGCOMM'08): k pods of k/2 edge and k/2 aggregation switches, (k/2)^2
    // cores, k^3/4 hosts with one GPU and one NIC each, every link at nic.speed.
    static const std::map<std::string_view, std::string_view> fixed = {
        {"fabric.kind", "nsf"}, {"nsf.tiers", "3"}, {"scaleup.gpus", "1"}, {"nic.speed", "100Gbps"}};
    if (auto v = from(fixed)) return v;
    const std::int64_t k = fat_tree_k();
    const std::int64_t half = k / 2;
    if (key == "building.gpus") return std::to_string(k * k * k / 4);
    if (key == "nsf.leaf_ports" || key == "nsf.pod_leaves" || key == "nsf.spines" || key == "nsf.supers")
      return std::to_string(half);
    if (key == "nsf.spine_ports" || key == "nsf.super_ports") return std::to_string(k);
  }
  return from(kCommon);
}

}  // namespace

const std::vector<KeySpec>& config_keys() { return kKeys; }
const std::vector<std::string_view>& preset_names() { return kPresets; }

const KeySpec* find_key(std::string_view name) {
  for (const auto& k : kKeys)
    if (k.name == name) return &k;
  return nullptr;
}

static std::string preset_list() {
  std::string s;
  for (auto p : kPresets) s += (s.empty() ? "" : ", ") + std::string(p);
  return s;
}

FabricConfig FabricConfig::from_preset(std::string_view preset) {
  bool known = false;
  for (auto p : kPresets) known |= (p == preset);
  if (!known)
    throw InputError("", "unknown preset '" + std::string(preset) + "'; expected one of " + preset_list() +
                             ", or a YAML/JSON file");
  FabricConfig c;
  c.preset_ = std::string(preset);
  return c;
}

FabricConfig FabricConfig::from_preset_or_file(const std::string& name_or_path) {
  for (auto p : kPresets)
    if (p == name_or_path) return from_preset(name_or_path);
  if (std::filesystem::exists(name_or_path)) return from_file(name_or_path);
  throw InputError("", "'" + name_or_path + "' is neither a preset (" + preset_list() + ") nor a file");
}

namespace {

std::string yaml_where(const std::string& path, const YAML::Node& n) {
  return path + ":" + std::to_string(n.Mark().line + 1);
}

void flatten(const std::string& path, const YAML::Node& node, const std::string& prefix,
             std::vector<std::tuple<std::string, std::string, std::string>>& out) {
  for (const auto& kv : node) {
    const std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (v.IsMap()) {
      flatten(path, v, key, out);
    } else if (v.IsScalar()) {
      out.emplace_back(key, v.Scalar(), yaml_where(path, kv.first));
    } else if (v.IsNull()) {
      throw InputError(yaml_where(path, kv.first), "key '" + key + "' has no value");
    } else {
      throw InputError(yaml_where(path, kv.first), "key '" + key + "' must be a single value, not a list");
    }
  }
}

}  // namespace

namespace {
// Every key once, anywhere in the tree (YAML 1.2 requires unique keys; yaml-cpp keeps both and the last would win);
// every key a name (not a mapping or a list); at most kMaxKeys keys in all, counted as aliases expand them (a chain of
// anchors that doubles at each step would otherwise flatten into billions of keys); at most kMaxDepth mappings deep
// (an alias to the mapping it is in makes a cycle, found by fuzzing).
constexpr std::size_t kMaxKeys = 100000, kMaxDepth = 16;
void check_unique_keys(const std::string& path, const YAML::Node& map, const std::string& prefix,
                       std::size_t& visited, std::size_t depth = 0) {
  if (depth > kMaxDepth)
    throw InputError(yaml_where(path, map),
                     "mappings nested more than " + std::to_string(kMaxDepth) +
                         " deep (an alias to the mapping it is in?); a fabric config nests one level");
  std::map<std::string, int> seen;
  for (const auto& kv : map) {
    if (++visited > kMaxKeys)
      throw InputError(path, "more than " + std::to_string(kMaxKeys) +
                                 " keys (aliases that expand into more?); a fabric config has a few dozen");
    if (!kv.first.IsScalar())
      throw InputError(yaml_where(path, kv.first),
                       std::string("a key must be a name, not ") +
                           (kv.first.IsMap() ? "a mapping" : kv.first.IsSequence() ? "a list" : "empty") +
                           (prefix.empty() ? "" : " (under '" + prefix + "')"));
    const std::string name = kv.first.Scalar();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const int line = kv.first.Mark().line + 1;
    if (auto [it, fresh] = seen.emplace(name, line); !fresh)
      throw InputError(yaml_where(path, kv.first),
                       "key '" + key + "' is given twice (first at line " + std::to_string(it->second) + ")");
    if (kv.second.IsMap()) check_unique_keys(path, kv.second, key, visited, depth + 1);
  }
}

// Where each YAML document of a text starts, at most `limit` of them. yaml-cpp 0.7's LoadAll loops for ever on some
// malformed texts (`,"i`: every next document starts where the last did, found by fuzzing), so documents are counted
// here, and one that does not start past the previous one ends the count.
std::vector<YAML::Mark> document_starts(const std::string& text, std::size_t limit) {
  struct Starts : YAML::EventHandler {
    std::vector<YAML::Mark> marks;
    void OnDocumentStart(const YAML::Mark& m) override { marks.push_back(m); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } starts;
  std::istringstream in(text);
  YAML::Parser parser(in);
  while (starts.marks.size() < limit && parser.HandleNextDocument(starts))
    if (starts.marks.size() > 1 && starts.marks.back().pos <= starts.marks[starts.marks.size() - 2].pos) {
      starts.marks.pop_back();
      break;
    }
  return starts.marks;
}

YAML::Node load_config_file(const std::string& path) {
  if (std::filesystem::is_directory(path))
    throw InputError(path, "is a directory; expected a fabric config file (YAML or JSON)");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InputError(path, "cannot open the fabric config file");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<YAML::Node> docs;
  try {
    const auto starts = document_starts(text, 2);
    if (starts.size() > 1)
      throw InputError(path + ":" + std::to_string(starts[1].line + 1),
                       "a second YAML document; a fabric config is one document (no '---')");
    if (!starts.empty()) docs.push_back(YAML::Load(text));
  } catch (const YAML::ParserException& e) {
    throw InputError(path + ":" + std::to_string(e.mark.line + 1), "not valid YAML/JSON: " + e.msg);
  }
  const YAML::Node root = docs.empty() ? YAML::Node() : docs.front();
  if (!root.IsMap())
    throw InputError(path, "a fabric config must be a mapping of keys (preset: NAME, nic: {speed: 400Gbps}, ...)");
  std::size_t visited = 0;
  check_unique_keys(path, root, "", visited);
  return root;
}
}  // namespace

void FabricConfig::set_file(const std::string& path) {
  const YAML::Node root = load_config_file(path);
  for (const auto& kv : root)
    if (kv.first.as<std::string>() == "preset")
      throw InputError(yaml_where(path, kv.first),
                       "an overlay sets keys over the fabric it is applied to; it cannot choose the preset (--topo does)");
  std::vector<std::tuple<std::string, std::string, std::string>> entries;
  flatten(path, root, "", entries);
  for (auto& [key, value, where] : entries) set(key, value, where);
}

FabricConfig FabricConfig::from_file(const std::string& path) {
  const YAML::Node root = load_config_file(path);
  std::vector<std::tuple<std::string, std::string, std::string>> entries;
  std::string preset = "prometheus";
  std::string preset_where = path;
  for (const auto& kv : root) {
    if (kv.first.as<std::string>() == "preset") {
      if (!kv.second.IsScalar())
        throw InputError(yaml_where(path, kv.first), "'preset' must be one of " + preset_list());
      preset = kv.second.Scalar();
      preset_where = yaml_where(path, kv.first);
    }
  }
  FabricConfig c;
  try {
    c = from_preset(preset);
  } catch (const InputError& e) {
    throw InputError(preset_where, e.what());
  }
  flatten(path, root, "", entries);
  for (auto& [key, value, where] : entries)
    if (key != "preset") c.set(key, value, where);
  return c;
}

void FabricConfig::set_assignment(std::string_view assignment) {
  const std::string where = "--set " + std::string(assignment);
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw InputError(where, "expected KEY=VALUE, e.g. --set bag.oversubscription=7:1");
  set(assignment.substr(0, eq), assignment.substr(eq + 1), where);
}

namespace {
void check_text(const KeySpec& k, std::string_view text) {
  switch (k.kind) {
    case KeyKind::Count: common::parse_count(text); break;
    case KeyKind::CountOrAuto:
      if (text != "auto") common::parse_count(text);
      break;
    case KeyKind::Bandwidth: common::parse_bandwidth_Bps(text); break;
    case KeyKind::Duration: common::parse_duration_s(text); break;
    case KeyKind::Distance: common::parse_distance_m(text); break;
    case KeyKind::Ratio: common::parse_ratio(text); break;
    case KeyKind::Percent: common::parse_percent(text); break;
    case KeyKind::Bool: common::parse_bool(text); break;
    case KeyKind::Choice: {
      std::string_view rest = k.choices;
      while (true) {
        auto bar = rest.find('|');
        if (rest.substr(0, bar) == text) return;
        if (bar == std::string_view::npos) break;
        rest.remove_prefix(bar + 1);
      }
      throw UnitError("'" + std::string(text) + "' is not one of " + std::string(k.choices));
    }
  }
}
}  // namespace

namespace {
// Physical ranges of the keys with units (in B/s, s, m or a ratio), with why: a value outside is a typo or a unit
// slip, never a fabric (nic.speed=1e-300Gbps would print 300-digit times).
struct Range {
  std::string_view key;
  double lo, hi;
  std::string_view shown;  // the range as the user writes it
  std::string_view why;
};
constexpr Range kRanges[] = {
    {"nic.speed", 1e9 / 8, 100e12 / 8, "1Gbps to 100Tbps", "NICs run at 1 Gbps to 1.6 Tbps"},
    {"bag.port_speed", 1e9 / 8, 100e12 / 8, "1Gbps to 100Tbps", "switch ports run at 1 Gbps to 1.6 Tbps"},
    {"scaleup.bandwidth", 1e9, 100e12, "1GB/s to 100TB/s", "NVLink5 gives 900 GB/s per GPU"},
    {"bag.region_capacity", 1e9 / 8, 1e18 / 8, "1Gbps to 1Ebps", "16 to 48 Pbps per region pair are published"},
    {"fabric.hop_latency", 0, 1e-3, "0s to 1ms", "a switch hop takes hundreds of ns to a few us"},
    {"scaleup.latency", 0, 1e-3, "0s to 1ms", "an NVLink hop takes under a microsecond"},
    {"region.distance", 0, 2e7, "0km to 20000km", "half the Earth's circumference"},
    {"building.distance", 0, 2e7, "0km to 20000km", "half the Earth's circumference"},
    {"dsf.leaf_oversubscription", 1, 1000, "1:1 to 1000:1", "beyond 1000:1 a tier carries nothing"},
    {"nsf.leaf_oversubscription", 1, 1000, "1:1 to 1000:1", "beyond 1000:1 a tier carries nothing"},
    {"nsf.spine_oversubscription", 1, 1000, "1:1 to 1000:1", "beyond 1000:1 a tier carries nothing"},
    {"bag.oversubscription", 1, 1000, "1:1 to 1000:1", "beyond 1000:1 a tier carries nothing"},
    {"nic.efficiency", 0.01, 1, "1% to 100%", "a link cannot carry more than all of its payload rate"},
    {"scaleup.efficiency", 0.01, 1, "1% to 100%", "a link cannot carry more than all of its payload rate"},
    {"gpu.compute_time", 0.01, 100, "1% to 10000%", "beyond a factor of 100 either way it is a unit slip"},
};

}  // namespace

double key_number(const KeySpec& k, std::string_view text) {
  switch (k.kind) {
    case KeyKind::Bandwidth: return common::parse_bandwidth_Bps(text);
    case KeyKind::Duration: return common::parse_duration_s(text);
    case KeyKind::Distance: return common::parse_distance_m(text);
    case KeyKind::Ratio: return common::parse_ratio(text);
    case KeyKind::Percent: return common::parse_percent(text);
    default: throw UnitError("key '" + std::string(k.name) + "' does not hold a quantity");
  }
}

double FabricConfig::number(std::string_view key) const {
  const KeySpec* k = find_key(key);
  COLLEMU_ASSERT(k, "number() of an undeclared key");
  return key_number(*k, value(key).text);
}

void FabricConfig::set(std::string_view key, std::string_view value, std::string where) {
  const KeySpec* k = find_key(key);
  if (!k) throw InputError(where, "unknown key '" + std::string(key) + "' (collemu topo --list-keys lists them)");
  try {
    check_text(*k, value);
  } catch (const UnitError& e) {
    throw InputError(where, "key '" + std::string(key) + "': " + e.what());
  }
  for (const Range& r : kRanges)
    if (r.key == key) {
      const double v = key_number(*k, value);
      if (!(v >= r.lo && v <= r.hi))
        throw InputError(where, "key '" + std::string(key) + "': " + std::string(value) + " is outside " +
                                    std::string(r.shown) + " (" + std::string(r.why) + ")");
    }
  user_[std::string(key)] = Value{std::string(value), std::move(where)};
}

FabricConfig::Value FabricConfig::value(std::string_view key) const {
  if (auto it = user_.find(key); it != user_.end()) return it->second;
  if (key == "scaleup.bandwidth") {  // the GPU's NVLink unless set (models/fabric.hpp gpu_nvlink_default_Bps)
    const Value gpu = value("gpu.type");
    const auto type = parse_gpu_type(gpu.text);
    COLLEMU_ASSERT(type.has_value(), "gpu.type was checked when set");
    char text[32];
    std::snprintf(text, sizeof text, "%.0fGB/s", gpu_nvlink_default_Bps(*type) / 1e9);
    return Value{text, gpu.where + " (gpu.type " + gpu.text + ")"};
  }
  auto k = [this] { return count("fat_tree.k"); };
  auto d = preset_default(preset_, key, k);
  COLLEMU_ASSERT(d.has_value(), "no default for key " + std::string(key));
  // The fat-tree's sizes follow from fat_tree.k: where the user gave k, a size is theirs (an impossible one is
  // blamed on their k, not on the preset).
  static const std::set<std::string_view> from_k = {"building.gpus", "nsf.leaf_ports", "nsf.pod_leaves", "nsf.spines",
                                                    "nsf.supers", "nsf.spine_ports", "nsf.super_ports"};
  if (preset_ == "fat-tree" && from_k.count(key))
    if (auto it = user_.find(std::string_view("fat_tree.k")); it != user_.end())
      return Value{*d, it->second.where + " (fat_tree.k " + it->second.text + ")"};
  return Value{*d, "preset " + preset_};
}

const KeySpec& FabricConfig::spec(std::string_view key, KeyKind kind) const {
  const KeySpec* k = find_key(key);
  COLLEMU_ASSERT(k != nullptr, "undeclared key " + std::string(key));
  COLLEMU_ASSERT(k->kind == kind, "key read with the wrong kind: " + std::string(key));
  return *k;
}

template <class F>
auto FabricConfig::parse(std::string_view key, KeyKind kind, F&& f) const {
  spec(key, kind);
  Value v = value(key);
  try {
    return f(v.text);
  } catch (const UnitError& e) {
    throw InputError(v.where, "key '" + std::string(key) + "': " + e.what());
  }
}

std::int64_t FabricConfig::count(std::string_view key) const {
  return parse(key, KeyKind::Count, [](const std::string& t) { return common::parse_count(t); });
}
std::optional<std::int64_t> FabricConfig::count_or_auto(std::string_view key) const {
  return parse(key, KeyKind::CountOrAuto, [](const std::string& t) -> std::optional<std::int64_t> {
    if (t == "auto") return std::nullopt;
    return common::parse_count(t);
  });
}
double FabricConfig::bandwidth_Bps(std::string_view key) const {
  return parse(key, KeyKind::Bandwidth, [](const std::string& t) { return common::parse_bandwidth_Bps(t); });
}
double FabricConfig::duration_s(std::string_view key) const {
  return parse(key, KeyKind::Duration, [](const std::string& t) { return common::parse_duration_s(t); });
}
double FabricConfig::distance_m(std::string_view key) const {
  return parse(key, KeyKind::Distance, [](const std::string& t) { return common::parse_distance_m(t); });
}
double FabricConfig::ratio(std::string_view key) const {
  return parse(key, KeyKind::Ratio, [](const std::string& t) { return common::parse_ratio(t); });
}
double FabricConfig::fraction(std::string_view key) const {
  return parse(key, KeyKind::Percent, [](const std::string& t) { return common::parse_percent(t); });
}
bool FabricConfig::boolean(std::string_view key) const {
  return parse(key, KeyKind::Bool, [](const std::string& t) { return common::parse_bool(t); });
}
std::string FabricConfig::choice(std::string_view key) const {
  return parse(key, KeyKind::Choice, [](const std::string& t) { return t; });
}
std::string FabricConfig::text(std::string_view key) const { return value(key).text; }

std::string FabricConfig::to_yaml() const {
  std::string out = "# collemu fabric config: what the preset, files and --set options made (collemu topo FILE reads it)\n";
  out += "preset: " + preset_ + "\n";
  for (const KeySpec& k : kKeys) {
    const Value v = value(k.name);
    std::string quoted = "\"";
    for (char ch : v.text) {
      if (ch == '"' || ch == '\\') quoted += '\\';
      quoted += ch;
    }
    quoted += '"';
    out += std::string(k.name) + ": " + quoted + "  # " + v.where + "\n";
  }
  return out;
}
std::string FabricConfig::where(std::string_view key) const { return value(key).where; }
std::string FabricConfig::describe(std::string_view key) const {
  Value v = value(key);
  return v.where + ": key '" + std::string(key) + "' = '" + v.text + "'";
}

}  // namespace collemu::models
