#include "models/builder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>

#include "common/error.hpp"
#include "common/memory.hpp"
#include "common/units.hpp"

namespace collemu::models {

using common::InputError;

namespace {

[[noreturn]] void impossible(const FabricConfig& c, std::string_view key, const std::string& why) {
  throw InputError(c.where(key), "impossible topology: " + why + " (key '" + std::string(key) + "' = '" +
                                     c.text(key) + "')");
}

// A constraint between keys: blamed on the one the user gave (a file or --set), not a preset's default; when the
// user gave several, the first is named at its place and the others after it.
[[noreturn]] void impossible(const FabricConfig& c, std::initializer_list<std::string_view> keys,
                             const std::string& why) {
  std::vector<std::string_view> given;
  for (std::string_view k : keys)
    if (c.where(k).rfind("preset ", 0) != 0) given.push_back(k);
  if (given.empty()) impossible(c, *keys.begin(), why);
  std::string also;
  for (std::size_t i = 1; i < given.size(); ++i)
    also += ", with key '" + std::string(given[i]) + "' = '" + c.text(given[i]) + "' at " + c.where(given[i]);
  throw InputError(c.where(given[0]), "impossible topology: " + why + " (key '" + std::string(given[0]) + "' = '" +
                                          c.text(given[0]) + "'" + also + ")");
}

std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) { return static_cast<std::uint32_t>((a + b - 1) / b); }

struct Params {
  // nic_ports and nic_Bps are those of one NIC node: nic.per_gpu NICs of a GPU are built as one NIC with all their
  // ports; gpus_per_nic GPUs share each NIC node.
  std::uint32_t regions, buildings_per_region, gpus_per_building, gpus_per_domain, planes, nic_ports, gpus_per_nic;
  double nic_Bps, port_Bps, nvlink_Bps, nvlink_latency_s, hop_latency_s, building_delay_s, region_delay_s;
  std::string kind;
  Attach attach;
  // DSF
  std::uint32_t dsf_leaf_ports, dsf_fes, dsf_fe_ports;
  double dsf_leaf_ratio;
  // NSF
  int nsf_tiers;
  std::uint32_t nsf_leaf_ports, nsf_spines, nsf_spine_ports, nsf_pod_leaves, nsf_supers, nsf_super_ports;
  double nsf_leaf_ratio, nsf_spine_ratio;
  // BAG
  bool bag;
  double bag_ratio, bag_port_Bps, region_Bps;
  std::uint32_t bag_ports;
  std::optional<std::int64_t> bag_switches;
};

std::uint32_t as_u32(const FabricConfig& c, std::string_view key, std::int64_t limit = 1'000'000'000) {
  std::int64_t v = c.count(key);
  if (v > limit) impossible(c, key, "at most " + std::to_string(limit) + " allowed");
  return static_cast<std::uint32_t>(v);
}

Params read(const FabricConfig& c) {
  Params p{};
  p.regions = as_u32(c, "regions", 1000);
  p.buildings_per_region = as_u32(c, "region.buildings", 1000);
  p.gpus_per_building = as_u32(c, "building.gpus", 100'000'000);
  p.gpus_per_domain = as_u32(c, "scaleup.gpus", 1'000'000);
  p.planes = as_u32(c, "fabric.planes", 255);
  const std::uint32_t ports_per_nic = as_u32(c, "nic.ports", 256);
  p.gpus_per_nic = as_u32(c, "nic.gpus_per_nic", 64);
  const std::uint32_t nics_per_gpu = as_u32(c, "nic.per_gpu", 64);
  if (p.gpus_per_nic > 1 && nics_per_gpu > 1)
    impossible(c, {"nic.gpus_per_nic", "nic.per_gpu"},
               "GPUs share a NIC (nic.gpus_per_nic > 1) or have several (nic.per_gpu > 1), not both");
  if (ports_per_nic * nics_per_gpu > 256)
    impossible(c, {"nic.per_gpu", "nic.ports"}, "more than 256 NIC ports per GPU (nic.ports x nic.per_gpu)");
  p.nic_ports = ports_per_nic * nics_per_gpu;
  p.port_Bps = c.bandwidth_Bps("nic.speed") / ports_per_nic;
  p.nic_Bps = c.bandwidth_Bps("nic.speed") * nics_per_gpu;
  p.nvlink_Bps = c.bandwidth_Bps("scaleup.bandwidth");
  p.nvlink_latency_s = c.duration_s("scaleup.latency");
  p.hop_latency_s = c.duration_s("fabric.hop_latency");
  p.building_delay_s = c.distance_m("building.distance") * common::kFibreDelay_s_per_m;
  p.region_delay_s = c.distance_m("region.distance") * common::kFibreDelay_s_per_m;
  p.kind = c.choice("fabric.kind");
  p.attach = c.choice("fabric.attach") == "rail" ? Attach::Rail : Attach::Rack;
  p.dsf_leaf_ports = as_u32(c, "dsf.leaf_ports");
  p.dsf_fes = as_u32(c, "dsf.fabric_elements");
  p.dsf_fe_ports = as_u32(c, "dsf.fe_ports");
  p.dsf_leaf_ratio = c.ratio("dsf.leaf_oversubscription");
  p.nsf_tiers = static_cast<int>(c.count("nsf.tiers"));
  p.nsf_leaf_ports = as_u32(c, "nsf.leaf_ports");
  p.nsf_spines = as_u32(c, "nsf.spines");
  p.nsf_spine_ports = as_u32(c, "nsf.spine_ports");
  p.nsf_pod_leaves = as_u32(c, "nsf.pod_leaves");
  p.nsf_supers = as_u32(c, "nsf.supers");
  p.nsf_super_ports = as_u32(c, "nsf.super_ports");
  p.nsf_leaf_ratio = c.ratio("nsf.leaf_oversubscription");
  p.nsf_spine_ratio = c.ratio("nsf.spine_oversubscription");
  p.bag = c.boolean("bag.enabled");
  p.bag_ratio = c.ratio("bag.oversubscription");
  p.bag_port_Bps = c.bandwidth_Bps("bag.port_speed");
  p.region_Bps = c.bandwidth_Bps("bag.region_capacity");
  p.bag_ports = as_u32(c, "bag.ports");
  // The BAG is modelled by its capacity (every top switch of a plane reaches every BAG switch of that plane through a
  // share of its ports), but a switch that joins buildings has a port toward each side at least.
  if (p.bag && p.bag_ports < 2) impossible(c, "bag.ports", "a BAG switch joins buildings: it needs at least 2 ports");
  p.bag_switches = c.count_or_auto("bag.switches");

  // About 0.8 KB of graph and index per GPU (its NVLink, NIC, leaf and upper links; measured 0.9-1.1 KB from 32,768 to
  // 524,288 GPUs): refused at once when even that is more than this process may use.
  const double gpus = static_cast<double>(p.gpus_per_building) * p.buildings_per_region * p.regions;
  {
    std::string where = c.where("building.gpus");
    for (std::string_view k : {"building.gpus", "region.buildings", "regions"})
      if (c.where(k).rfind("preset ", 0) != 0) {
        where = c.where(k);
        break;
      }
    char what[96];
    std::snprintf(what, sizeof what, "a fabric of %.0f GPUs", gpus);
    common::check_memory(gpus * 800, where, what);
  }
  if (p.gpus_per_domain % p.gpus_per_nic != 0)
    impossible(c, {"nic.gpus_per_nic", "scaleup.gpus"},
               "the GPUs sharing a NIC sit in one scale-up domain, so nic.gpus_per_nic must divide scaleup.gpus = " +
                   std::to_string(p.gpus_per_domain));
  if (p.gpus_per_building % p.gpus_per_domain != 0)
    impossible(c, {"building.gpus", "scaleup.gpus"}, "a building must hold whole scale-up domains of scaleup.gpus = " +
                                       std::to_string(p.gpus_per_domain) + " GPUs");
  if (p.nic_ports % p.planes != 0)
    impossible(c, {"nic.ports", "fabric.planes"}, "every plane needs the same number of ports of each NIC, so nic.ports must be "
                               "a multiple of fabric.planes = " + std::to_string(p.planes));
  if (p.nsf_tiers != 2 && p.nsf_tiers != 3) impossible(c, "nsf.tiers", "an NSF has 2 or 3 tiers");
  // Every port of a NIC in one plane lands on one leaf, so all of a flow's port paths have the same length.
  const std::uint32_t ppp = p.nic_ports / p.planes;
  for (std::string_view key : {"dsf.leaf_ports", "nsf.leaf_ports"})
    if (c.count(key) % ppp != 0)
      impossible(c, {key, "nic.ports", "fabric.planes"}, "a NIC's " + std::to_string(ppp) + " ports in one plane must land on one leaf, so " +
                             std::string(key) + " must be a multiple of nic.ports / fabric.planes = " +
                             std::to_string(ppp));
  if (std::uint64_t{p.gpus_per_building} * ppp > 2'000'000'000ULL)
    impossible(c, "building.gpus", "more than 2 billion NIC ports per plane in one building");
  if (c.preset() == "fat-tree" && c.count("fat_tree.k") % 2 != 0)
    impossible(c, "fat_tree.k", "a k-ary fat-tree needs an even k");
  const std::uint64_t total = std::uint64_t{p.regions} * p.buildings_per_region * p.gpus_per_building;
  if (total > 4'000'000'000ULL / 3) impossible(c, "building.gpus", "more than 1.3 billion GPUs in all");
  return p;
}

class Builder {
 public:
  Builder(const FabricConfig& c, Fabric& f) : c_(c), f_(f), p_(read(c)) {}

  void build() {
    auto& L = f_.layout;
    L.name = c_.preset();
    L.gpus_per_domain = p_.gpus_per_domain;
    L.gpu = *parse_gpu_type(c_.choice("gpu.type"));  // checked against the key's choices when set
    L.nic_efficiency = c_.fraction("nic.efficiency");
    L.transport = c_.choice("nic.transport") == "ib" ? Transport::Ib : Transport::Roce;
    const std::string cpu = c_.choice("host.cpu");
    L.cpu = cpu == "amd" ? CpuVendor::Amd : cpu == "arm" ? CpuVendor::Arm : CpuVendor::Intel;
    L.scaleup_efficiency = c_.fraction("scaleup.efficiency");
    L.extra_latency_s = c_.duration_s("nccl.extra_latency");
    L.extra_hop_latency_s = c_.duration_s("nccl.extra_hop_latency");
    L.compute_time = c_.fraction("gpu.compute_time");
    // A second or more per collective is a unit slip (1s for 1us), not a cost of software.
    if (L.extra_latency_s >= 1) impossible(c_, "nccl.extra_latency", "expected under 1s per collective");
    if (L.extra_hop_latency_s >= 1) impossible(c_, "nccl.extra_hop_latency", "expected under 1s per network step");
    L.planes = p_.planes;
    L.nic_ports = p_.nic_ports;
    L.gpus_per_nic = p_.gpus_per_nic;
    L.attach = p_.attach;
    L.port_select = c_.choice("nic.port_select") == "hash" ? PortSelect::Hash : PortSelect::Spray;
    L.ecmp_hash = c_.choice("nsf.hash") == "five-tuple" ? EcmpHash::FiveTuple : EcmpHash::QueuePair;
    L.nsf_routing = c_.choice("nsf.routing") == "adaptive" ? NsfRouting::Adaptive : NsfRouting::Ecmp;
    L.hash_seed = static_cast<std::uint64_t>(c_.count("routing.hash_seed"));
    L.wiring = c_.choice("bag.wiring") == "spread" ? BagWiring::Spread : BagWiring::Planar;
    L.has_bag = p_.bag;
    L.gpus_per_building = p_.gpus_per_building;
    L.configured_bag_oversubscription = p_.bag ? p_.bag_ratio : 0;

    const std::uint32_t nb = p_.regions * p_.buildings_per_region;
    L.buildings.resize(nb);
    for (std::uint32_t r = 0; r < p_.regions; ++r)
      L.regions.push_back(RegionLayout{kNoNode, 0, r * p_.buildings_per_region, p_.buildings_per_region});
    // GPUs first so that a GPU's node id is its global ordinal, then NICs (NIC of GPU g is G + g / gpus_per_nic).
    for (std::uint32_t bi = 0; bi < nb; ++bi) {
      BuildingLayout& B = L.buildings[bi];
      B.region = static_cast<std::uint16_t>(bi / p_.buildings_per_region);
      B.building = static_cast<std::uint16_t>(bi % p_.buildings_per_region);
      B.kind = building_kind(bi);
      B.nsf_tiers = B.kind == BuildingKind::Nsf ? p_.nsf_tiers : 0;
      B.n_gpus = p_.gpus_per_building;
      B.leaf_ports = B.kind == BuildingKind::Dsf ? p_.dsf_leaf_ports : p_.nsf_leaf_ports;
      for (std::uint32_t i = 0; i < B.n_gpus; ++i) {
        NodeId id = f_.add_node(Node{NodeKind::Gpu, 0, B.region, B.building, i, 0});
        if (i == 0) B.gpu_base = id;
      }
    }
    for (auto& B : L.buildings) {
      B.n_nics = B.n_gpus / p_.gpus_per_nic;
      for (std::uint32_t i = 0; i < B.n_nics; ++i) {
        NodeId id = f_.add_node(Node{NodeKind::Nic, 0, B.region, B.building, i, 0});
        if (i == 0) B.nic_base = id;
      }
    }
    for (auto& B : L.buildings) add_switch_nodes(B);
    if (p_.bag) add_bag_nodes();

    for (auto& B : L.buildings) add_building_links(B);
    if (p_.bag) {
      for (auto& B : L.buildings) add_top_bag_links(B);
      add_inter_region_links();
      check_bag_ports();
    }
    f_.finalize();
  }

 private:
  BuildingKind building_kind(std::uint32_t bi) const {
    if (p_.kind == "dsf") return BuildingKind::Dsf;
    if (p_.kind == "nsf") return BuildingKind::Nsf;
    return (bi % p_.buildings_per_region) % 2 == 0 ? BuildingKind::Dsf : BuildingKind::Nsf;  // mixed
  }

  std::uint32_t ports_per_plane() const { return p_.nic_ports / p_.planes; }
  std::uint32_t slots(const BuildingLayout& B) const { return B.n_nics * ports_per_plane(); }
  // NIC-facing ports in use on host leaf i.
  std::uint32_t used_ports(const BuildingLayout& B, std::uint32_t leaf) const {
    return std::min(B.leaf_ports, slots(B) - leaf * B.leaf_ports);
  }

  NodeId add_block(NodeKind kind, const BuildingLayout& B, std::uint32_t plane, std::uint32_t n,
                   std::uint32_t group_size = 0) {
    NodeId base = kNoNode;
    for (std::uint32_t i = 0; i < n; ++i) {
      std::uint32_t group = group_size ? i / group_size : 0;
      NodeId id = f_.add_node(Node{kind, static_cast<std::uint8_t>(plane), B.region, B.building, i, group});
      if (i == 0) base = id;
    }
    return base;
  }

  // The building's BAG capacity per plane (per direction), given the capacity entering its top tier.
  double bag_capacity(double below_top_Bps) const { return below_top_Bps / p_.bag_ratio; }
  // DSF: one plane's BAG capacity, from its host leaves' fabric uplinks (per direction).
  double dsf_plane_bag_Bps(const BuildingLayout& B) const {
    return bag_capacity(slots(B) * p_.port_Bps / p_.dsf_leaf_ratio);
  }

  void add_switch_nodes(BuildingLayout& B) {
    if (p_.gpus_per_domain > 1) B.nvs_base = add_block(NodeKind::NvSwitch, B, 0, B.n_gpus / p_.gpus_per_domain);
    const std::uint32_t n_leaves = ceil_div(slots(B), B.leaf_ports);
    B.planes.resize(p_.planes);
    for (std::uint32_t pl = 0; pl < p_.planes; ++pl) {
      PlaneLayout& P = B.planes[pl];
      P.n_leaves = n_leaves;
      P.leaf_base = add_block(NodeKind::Leaf, B, pl, n_leaves, B.kind == BuildingKind::Nsf ? p_.nsf_pod_leaves : 0);
      if (B.kind == BuildingKind::Dsf) {
        if (p_.bag) {
          // Edge leaves have as many ports as host leaves, all facing the BAG.
          const double edges = std::ceil(dsf_plane_bag_Bps(B) / (B.leaf_ports * p_.port_Bps) - 1e-9);
          if (edges > 1e6) impossible(c_, "bag.oversubscription", "more than a million edge leaves per plane");
          P.n_edges = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(edges));
          P.edge_base = add_block(NodeKind::EdgeLeaf, B, pl, P.n_edges);
        }
        if (n_leaves + P.n_edges > p_.dsf_fe_ports)
          impossible(c_, {"building.gpus", "dsf.fe_ports", "dsf.leaf_ports", "fabric.planes", "nic.ports"},
                     "more GPUs than ports: a DSF plane needs " + std::to_string(n_leaves) + " host leaves + " +
                         std::to_string(P.n_edges) + " edge leaves but a fabric element connects at most " +
                         std::to_string(p_.dsf_fe_ports) + " (dsf.fe_ports); use more planes or fewer GPUs");
        P.n_mid = p_.dsf_fes;
        P.mid_base = add_block(NodeKind::FabricElement, B, pl, P.n_mid);
        P.top_base = P.edge_base;
        P.n_top = P.n_edges;
      } else if (p_.nsf_tiers == 2) {
        if (n_leaves > p_.nsf_spine_ports)
          impossible(c_, {"building.gpus", "nsf.spine_ports", "nsf.leaf_ports", "fabric.planes", "nic.ports"},
                     "more GPUs than ports: a 2-tier NSF plane needs " + std::to_string(n_leaves) +
                         " leaves but a spine connects at most " + std::to_string(p_.nsf_spine_ports) +
                         " (nsf.spine_ports); use nsf.tiers=3 or more planes");
        P.n_pods = 1;
        P.leaves_per_pod = n_leaves;
        P.spines_per_pod = p_.nsf_spines;
        P.n_mid = p_.nsf_spines;
        P.mid_base = add_block(NodeKind::Spine, B, pl, P.n_mid);
        P.top_base = P.mid_base;
        P.n_top = P.n_mid;
      } else {
        if (p_.nsf_pod_leaves > p_.nsf_spine_ports)
          impossible(c_, "nsf.pod_leaves", "a pod spine connects at most " + std::to_string(p_.nsf_spine_ports) +
                                               " leaves (nsf.spine_ports)");
        P.leaves_per_pod = p_.nsf_pod_leaves;
        P.n_pods = ceil_div(n_leaves, p_.nsf_pod_leaves);
        if (P.n_pods > p_.nsf_super_ports)
          impossible(c_, {"building.gpus", "nsf.super_ports", "nsf.pod_leaves", "nsf.leaf_ports", "fabric.planes"},
                     "more GPUs than ports: a 3-tier NSF plane needs " + std::to_string(P.n_pods) +
                         " pods but a super-spine connects at most " + std::to_string(p_.nsf_super_ports) +
                         " (nsf.super_ports)");
        P.spines_per_pod = p_.nsf_spines;
        P.n_mid = P.n_pods * p_.nsf_spines;
        P.mid_base = add_block(NodeKind::Spine, B, pl, P.n_mid, p_.nsf_spines);
        P.supers_per_group = p_.nsf_supers;
        P.super_base = add_block(NodeKind::SuperSpine, B, pl, p_.nsf_spines * p_.nsf_supers, p_.nsf_supers);
        P.top_base = P.super_base;
        P.n_top = p_.nsf_spines * p_.nsf_supers;
      }
    }
  }

  void add_bag_nodes() {
    auto& L = f_.layout;
    // Capacity each region's BAG must switch, per direction: its buildings' BAG links + inter-region links.
    double building_Bps = 0;
    for (std::uint32_t b = 0; b < p_.buildings_per_region; ++b)
      building_Bps += building_bag_Bps(L.buildings[b]);
    const double inter_Bps = (p_.regions - 1) * p_.region_Bps;
    const double switch_Bps = p_.bag_ports * p_.bag_port_Bps;
    std::uint32_t n;
    if (p_.bag_switches) {
      if (*p_.bag_switches > 1'000'000) impossible(c_, "bag.switches", "at most a million BAG switches per region");
      if (*p_.bag_switches % p_.planes != 0)
        impossible(c_, {"bag.switches", "fabric.planes"}, "BAG switches are split evenly over the planes, so bag.switches must be a "
                                       "multiple of fabric.planes = " + std::to_string(p_.planes));
      n = static_cast<std::uint32_t>(*p_.bag_switches);
    } else {
      const double needed = std::ceil((building_Bps + inter_Bps) / switch_Bps - 1e-9);
      if (needed > 1e6)
        impossible(c_, "bag.port_speed", "the BAG would need more than a million switches per region");
      n = std::max<std::uint32_t>(static_cast<std::uint32_t>(needed), 1);
      n = ceil_div(n, p_.planes) * p_.planes;
    }
    for (auto& R : L.regions) {
      R.n_bag = n;
      for (std::uint32_t i = 0; i < n; ++i) {
        NodeId id = f_.add_node(Node{NodeKind::Bag, static_cast<std::uint8_t>(i / (n / p_.planes)),
                                     static_cast<std::uint16_t>(&R - L.regions.data()), 0, i, 0});
        if (i == 0) R.bag_base = id;
      }
    }
  }

  // The capacity a building sends up to the BAG (all planes, per direction).
  double building_bag_Bps(const BuildingLayout& B) const {
    const double nic_side = slots(B) * p_.port_Bps * p_.planes;
    if (B.kind == BuildingKind::Dsf) return dsf_plane_bag_Bps(B) * p_.planes;
    double up = nic_side / p_.nsf_leaf_ratio;
    if (p_.nsf_tiers == 3) up /= p_.nsf_spine_ratio;
    return bag_capacity(up);
  }

  std::uint32_t domains(const BuildingLayout& B) const { return B.n_gpus / p_.gpus_per_domain; }

  void add_building_links(BuildingLayout& B) {
    const double lat = p_.hop_latency_s;
    for (std::uint32_t i = 0; i < B.n_gpus; ++i) {
      // GPUs that share a NIC each reach it at its full rate (a PCIe switch): they share its ports.
      const NodeId gpu = B.gpu_base + i, nic = B.nic_base + i / p_.gpus_per_nic;
      if (B.nvs_base != kNoNode)
        f_.add_duplex(gpu, B.nvs_base + i / p_.gpus_per_domain, p_.nvlink_Bps, p_.nvlink_latency_s,
                      LinkTier::NvLink);
      f_.add_duplex(gpu, nic, p_.nic_Bps, 0.0, LinkTier::HostNic);
    }
    // NIC port k is on plane k % planes, in slot j = k / planes of that plane. Slots fill leaves in order.
    const std::uint32_t ppp = ports_per_plane();
    const std::uint32_t nd = domains(B), nics_per_domain = p_.gpus_per_domain / p_.gpus_per_nic;
    for (std::uint32_t i = 0; i < B.n_nics; ++i) {
      const std::uint32_t d = i / nics_per_domain, g = i % nics_per_domain;
      const std::uint32_t order = p_.attach == Attach::Rack ? i : g * nd + d;
      for (std::uint32_t k = 0; k < p_.nic_ports; ++k) {
        const std::uint32_t pl = k % p_.planes, slot = order * ppp + k / p_.planes;
        f_.add_duplex(B.nic_base + i, B.planes[pl].leaf_base + slot / B.leaf_ports, p_.port_Bps, lat,
                      LinkTier::Access);
      }
    }
    for (std::uint32_t pl = 0; pl < p_.planes; ++pl) {
      PlaneLayout& P = B.planes[pl];
      if (B.kind == BuildingKind::Dsf) {
        for (std::uint32_t l = 0; l < P.n_leaves; ++l) {
          const double up = used_ports(B, l) * p_.port_Bps / p_.dsf_leaf_ratio;
          for (std::uint32_t fe = 0; fe < P.n_mid; ++fe)
            f_.add_duplex(P.leaf_base + l, P.mid_base + fe, up / P.n_mid, lat, LinkTier::L1L2);
        }
        if (P.n_edges) {
          const double per_edge = dsf_plane_bag_Bps(B) / P.n_edges;
          for (std::uint32_t e = 0; e < P.n_edges; ++e)
            for (std::uint32_t fe = 0; fe < P.n_mid; ++fe)
              // Edge leaves sit above the fabric elements: GPU -> leaf -> FE -> edge leaf -> BAG.
              f_.add_duplex(P.mid_base + fe, P.edge_base + e, per_edge / P.n_mid, lat, LinkTier::EdgeFabric);
        }
      } else {
        for (std::uint32_t l = 0; l < P.n_leaves; ++l) {
          const double up = used_ports(B, l) * p_.port_Bps / p_.nsf_leaf_ratio;
          const std::uint32_t pod = l / P.leaves_per_pod;
          for (std::uint32_t s = 0; s < P.spines_per_pod; ++s)
            f_.add_duplex(P.leaf_base + l, P.mid_base + pod * P.spines_per_pod + s, up / P.spines_per_pod, lat,
                          LinkTier::L1L2);
        }
        if (B.nsf_tiers == 3) {
          for (std::uint32_t pod = 0; pod < P.n_pods; ++pod) {
            double down = 0;  // leaf-facing capacity of one spine of this pod
            const std::uint32_t l0 = pod * P.leaves_per_pod, l1 = std::min(P.n_leaves, l0 + P.leaves_per_pod);
            for (std::uint32_t l = l0; l < l1; ++l) down += used_ports(B, l) * p_.port_Bps / p_.nsf_leaf_ratio;
            down /= P.spines_per_pod;
            const double up = down / p_.nsf_spine_ratio;
            for (std::uint32_t s = 0; s < P.spines_per_pod; ++s)
              for (std::uint32_t x = 0; x < P.supers_per_group; ++x)
                f_.add_duplex(P.mid_base + pod * P.spines_per_pod + s, P.super_base + s * P.supers_per_group + x,
                              up / P.supers_per_group, lat, LinkTier::L2L3);
          }
        }
      }
    }
  }

  void add_top_bag_links(BuildingLayout& B) {
    const RegionLayout& R = f_.layout.regions[B.region];
    const std::uint32_t per_plane = R.n_bag / p_.planes;
    const double lat = p_.building_delay_s + p_.hop_latency_s;
    // Capacity entering the top tier from below, per top node, from the construction above:
    //   DSF: the top is the edge leaves, which share the building's BAG capacity equally.
    //   NSF: the top is the spines (2 tiers) or super-spines (3 tiers), each with its own below capacity.
    for (std::uint32_t pl = 0; pl < p_.planes; ++pl) {
      PlaneLayout& P = B.planes[pl];
      // Every top node of a plane carries the same BAG capacity.
      const double top_bag = B.kind == BuildingKind::Dsf ? dsf_plane_bag_Bps(B) / P.n_top : bag_capacity(below(P, B));
      for (std::uint32_t t = 0; t < P.n_top; ++t)
        for (std::uint32_t m = 0; m < per_plane; ++m)
          f_.add_duplex(P.top_base + t, R.bag_base + pl * per_plane + m, top_bag / per_plane, lat,
                        LinkTier::Bag);
    }
  }

  // NSF: capacity entering one top node of plane P from below (one direction), from the construction rules;
  // every top node of a plane receives the same (one link from each leaf, or from spine g of every pod).
  double below(const PlaneLayout& P, const BuildingLayout& B) const {
    auto leaf_up = [&](std::uint32_t l) { return used_ports(B, l) * p_.port_Bps / p_.nsf_leaf_ratio; };
    if (B.nsf_tiers == 2) {
      double sum = 0;
      for (std::uint32_t l = 0; l < P.n_leaves; ++l) sum += leaf_up(l) / P.spines_per_pod;
      return sum;
    }
    // Super t is in group s = t / supers_per_group and receives from spine s of every pod.
    double sum = 0;
    for (std::uint32_t pod = 0; pod < P.n_pods; ++pod) {
      double down = 0;
      const std::uint32_t l0 = pod * P.leaves_per_pod, l1 = std::min(P.n_leaves, l0 + P.leaves_per_pod);
      for (std::uint32_t l = l0; l < l1; ++l) down += leaf_up(l);
      sum += down / P.spines_per_pod / p_.nsf_spine_ratio / P.supers_per_group;
    }
    return sum;
  }

  void add_inter_region_links() {
    auto& L = f_.layout;
    const double lat = p_.region_delay_s + p_.hop_latency_s;
    for (std::uint32_t a = 0; a < L.regions.size(); ++a)
      for (std::uint32_t b = a + 1; b < L.regions.size(); ++b) {
        const RegionLayout &A = L.regions[a], &Bq = L.regions[b];
        const std::uint32_t n = A.n_bag;
        if (L.wiring == BagWiring::Planar) {
          for (std::uint32_t i = 0; i < n; ++i)
            f_.add_duplex(A.bag_base + i, Bq.bag_base + i, p_.region_Bps / n, lat, LinkTier::InterRegion);
        } else {
          for (std::uint32_t i = 0; i < n; ++i)
            for (std::uint32_t k = 0; k < n; ++k)
              f_.add_duplex(A.bag_base + i, Bq.bag_base + k, p_.region_Bps / (double(n) * n), lat,
                            LinkTier::InterRegion);
        }
      }
  }

  void check_bag_ports() {
    const double switch_Bps = p_.bag_ports * p_.bag_port_Bps;
    std::vector<double> used(f_.num_nodes(), 0.0);
    for (const Link& l : f_.links())
      if (f_.node(l.src).kind == NodeKind::Bag) used[l.src] += l.capacity_Bps;
    for (const auto& R : f_.layout.regions)
      for (std::uint32_t i = 0; i < R.n_bag; ++i) {
        const std::string name = "BAG switch r" + std::to_string(&R - f_.layout.regions.data()) + ".bag" + std::to_string(i);
        const double need = used[R.bag_base + i];
        if (need > switch_Bps * (1 + 1e-9))
          impossible(c_, "bag.switches",
                     name + " needs " + common::format_bandwidth(need) + " of ports but has " +
                         std::to_string(p_.bag_ports) + " x " + common::format_bandwidth(p_.bag_port_Bps) +
                         " (bag.ports, bag.port_speed); use more BAG switches or auto");
      }
  }

  const FabricConfig& c_;
  Fabric& f_;
  Params p_;
};

}  // namespace

void check_connected(const Fabric& f) {
  const std::size_t n_gpus = f.layout.buildings.empty()
                                 ? 0
                                 : std::size_t{f.layout.gpus_per_building} * f.layout.buildings.size();
  if (n_gpus < 2) return;
  std::vector<char> seen(f.num_nodes(), 0);
  std::deque<NodeId> q{0};
  seen[0] = 1;
  while (!q.empty()) {
    NodeId u = q.front();
    q.pop_front();
    for (LinkId l : f.out_links(u)) {
      const Link& L = f.link(l);
      if (L.failed || seen[L.dst]) continue;
      // Paths never turn around at a GPU: a GPU is an end point, not a switch.
      seen[L.dst] = 1;
      if (f.node(L.dst).kind != NodeKind::Gpu) q.push_back(L.dst);
    }
  }
  for (NodeId g = 1; g < n_gpus; ++g)
    if (!seen[g]) {
      std::string hint;
      if (!f.layout.has_bag && f.layout.buildings.size() > 1)
        hint = "; buildings are joined only by a BAG: set bag.enabled=true";
      throw InputError("", "the fabric is disconnected: " + f.node_name(g) + " cannot be reached from " +
                               f.node_name(0) + hint);
    }
}

Fabric build_fabric(const FabricConfig& config) {
  Fabric f;
  Builder(config, f).build();
  try {
    check_connected(f);
  } catch (const InputError& e) {
    // Buildings without a BAG: the place to name is where the BAG was turned off.
    if (!f.layout.has_bag && f.layout.buildings.size() > 1) throw InputError(config.where("bag.enabled"), e.detail());
    throw;
  }
  return f;
}

}  // namespace collemu::models
