#include "models/fabric.hpp"

#include <algorithm>
#include <cstdio>

#include "common/error.hpp"

namespace collemu::models {

const char* to_string(NodeKind k) {
  switch (k) {
    case NodeKind::Gpu: return "gpu";
    case NodeKind::Nic: return "nic";
    case NodeKind::NvSwitch: return "nvswitch";
    case NodeKind::Leaf: return "leaf";
    case NodeKind::EdgeLeaf: return "edge-leaf";
    case NodeKind::FabricElement: return "fabric-element";
    case NodeKind::Spine: return "spine";
    case NodeKind::SuperSpine: return "super-spine";
    case NodeKind::Bag: return "bag";
  }
  return "?";
}

const char* to_string(LinkTier t) {
  switch (t) {
    case LinkTier::NvLink: return "nvlink";
    case LinkTier::HostNic: return "host-nic";
    case LinkTier::Access: return "access";
    case LinkTier::L1L2: return "l1-l2";
    case LinkTier::EdgeFabric: return "edge-fabric";
    case LinkTier::L2L3: return "l2-l3";
    case LinkTier::Bag: return "bag";
    case LinkTier::InterRegion: return "inter-region";
  }
  return "?";
}

const char* to_string(BuildingKind k) { return k == BuildingKind::Dsf ? "dsf" : "nsf"; }

namespace {
struct GpuFacts {
  GpuType type;
  const char* name;
  double nvlink_GBps;
};
constexpr GpuFacts kGpus[] = {
    {GpuType::A100, "a100", 300}, {GpuType::H100, "h100", 450}, {GpuType::H200, "h200", 450},
    {GpuType::H20, "h20", 450},    {GpuType::B200, "b200", 900}, {GpuType::GB200, "gb200", 900},
    {GpuType::GB300, "gb300", 900},
};
const GpuFacts& facts(GpuType g) { return kGpus[static_cast<int>(g)]; }
}  // namespace

const char* to_string(GpuType g) { return facts(g).name; }
std::optional<GpuType> parse_gpu_type(std::string_view text) {
  for (const GpuFacts& f : kGpus)
    if (text == f.name) return f.type;
  return std::nullopt;
}
double gpu_nvlink_default_Bps(GpuType g) { return facts(g).nvlink_GBps * 1e9; }

namespace {
constexpr std::size_t kMaxIds = 0xFFFFFFF0u;  // node and link ids are 32-bit; kNoNode / kNoLink are reserved
}

NodeId Fabric::add_node(const Node& n) {
  COLLEMU_ASSERT(!finalized_, "add_node after finalize");
  if (nodes_.size() >= kMaxIds)
    throw common::InputError("", "the fabric has more than 4.29 billion nodes; collemu indexes them with 32 bits");
  nodes_.push_back(n);
  return static_cast<NodeId>(nodes_.size() - 1);
}

LinkId Fabric::add_link(NodeId src, NodeId dst, double capacity_Bps, double latency_s, LinkTier tier, bool up) {
  COLLEMU_ASSERT(!finalized_, "add_link after finalize");
  COLLEMU_ASSERT(src < nodes_.size() && dst < nodes_.size() && src != dst, "bad link endpoints");
  COLLEMU_ASSERT(capacity_Bps > 0, "link capacity must be positive");
  if (links_.size() >= kMaxIds)
    throw common::InputError("", "the fabric has more than 4.29 billion links; collemu indexes them with 32 bits");
  links_.push_back(Link{src, dst, capacity_Bps, latency_s, tier, up, false});
  return static_cast<LinkId>(links_.size() - 1);
}

LinkId Fabric::add_duplex(NodeId lower, NodeId upper, double capacity_Bps, double latency_s, LinkTier tier) {
  LinkId id = add_link(lower, upper, capacity_Bps, latency_s, tier, true);
  add_link(upper, lower, capacity_Bps, latency_s, tier, false);
  return id;
}

void Fabric::finalize() {
  nodes_.shrink_to_fit();
  links_.shrink_to_fit();
  out_begin_.assign(nodes_.size() + 1, 0);
  for (const Link& l : links_) ++out_begin_[l.src + 1];
  for (std::size_t i = 0; i < nodes_.size(); ++i) out_begin_[i + 1] += out_begin_[i];
  out_ids_.resize(links_.size());
  std::vector<std::uint64_t> fill(out_begin_.begin(), out_begin_.end() - 1);
  for (LinkId id = 0; id < links_.size(); ++id) out_ids_[fill[links_[id].src]++] = id;
  for (std::size_t u = 0; u < nodes_.size(); ++u) {
    auto b = out_ids_.begin() + static_cast<std::ptrdiff_t>(out_begin_[u]);
    auto e = out_ids_.begin() + static_cast<std::ptrdiff_t>(out_begin_[u + 1]);
    std::sort(b, e, [&](LinkId a, LinkId c) {
      return links_[a].dst != links_[c].dst ? links_[a].dst < links_[c].dst : a < c;
    });
  }
  out_dst_.resize(out_ids_.size());
  for (std::size_t i = 0; i < out_ids_.size(); ++i) out_dst_[i] = links_[out_ids_[i]].dst;
  finalized_ = true;
}

std::span<const LinkId> Fabric::out_links_to(NodeId u, NodeId first, std::uint32_t count) const {
  // Searched on the compact destination array, not through the link records: one cache line per few probes.
  const NodeId* b = out_dst_.data() + out_begin_[u];
  const NodeId* e = out_dst_.data() + out_begin_[u + 1];
  const NodeId* lo = std::lower_bound(b, e, first);
  const NodeId* hi = std::lower_bound(lo, e, first + count);
  const LinkId* ids = out_ids_.data() + out_begin_[u];
  return {ids + (lo - b), ids + (hi - b)};
}

LinkId Fabric::find_link(NodeId u, NodeId v) const {
  auto r = out_links_to(u, v, 1);
  return r.empty() ? kNoLink : r.front();
}

std::string Fabric::node_name(NodeId id) const {
  const Node& n = nodes_[id];
  char buf[96];
  if (n.kind == NodeKind::Bag) {
    std::snprintf(buf, sizeof buf, "r%u.bag%u", unsigned{n.region}, n.index);
    return buf;
  }
  const char* kind = "?";
  switch (n.kind) {
    case NodeKind::Gpu: kind = "gpu"; break;
    case NodeKind::Nic: kind = "nic"; break;
    case NodeKind::NvSwitch: kind = "nvs"; break;
    case NodeKind::Leaf: kind = "leaf"; break;
    case NodeKind::EdgeLeaf: kind = "edge"; break;
    case NodeKind::FabricElement: kind = "fe"; break;
    case NodeKind::Spine: kind = "spine"; break;
    case NodeKind::SuperSpine: kind = "ss"; break;
    case NodeKind::Bag: break;
  }
  if (n.kind == NodeKind::Gpu || n.kind == NodeKind::Nic || n.kind == NodeKind::NvSwitch)
    std::snprintf(buf, sizeof buf, "r%u.b%u.%s%u", unsigned{n.region}, unsigned{n.building}, kind, n.index);
  else
    std::snprintf(buf, sizeof buf, "r%u.b%u.p%u.%s%u", unsigned{n.region}, unsigned{n.building}, unsigned{n.plane},
                  kind, n.index);
  return buf;
}

std::string Fabric::link_name(LinkId id) const {
  return node_name(links_[id].src) + "->" + node_name(links_[id].dst);
}

NodeId Fabric::find_node(std::string_view name) const {
  for (NodeId i = 0; i < nodes_.size(); ++i)
    if (node_name(i) == name) return i;
  return kNoNode;
}

void Fabric::fail_link(LinkId id) {
  COLLEMU_ASSERT(id < links_.size(), "fail_link: no such link");
  auto mark = [this](LinkId l) {
    if (!links_[l].failed) {
      links_[l].failed = true;
      ++failed_;
    }
  };
  mark(id);
  mark(reverse(id));
}

void Fabric::fail_node(NodeId id) {
  COLLEMU_ASSERT(id < nodes_.size(), "fail_node: no such node");
  for (LinkId l : out_links(id)) fail_link(l);
}

void Fabric::fail(std::string_view spec) {
  const std::string where(spec);
  auto arrow = spec.find("->");
  if (arrow != std::string_view::npos) {
    NodeId a = find_node(spec.substr(0, arrow));
    NodeId b = find_node(spec.substr(arrow + 2));
    auto cables = (a == kNoNode || b == kNoNode) ? std::span<const LinkId>{} : out_links_to(a, b, 1);
    if (cables.empty())
      throw common::InputError(where, "no such link; expected NODE->NODE between adjacent nodes, e.g. "
                                      "r0.b0.p0.leaf0->r0.b0.p0.fe0");
    const LinkTier t = links_[cables.front()].tier;
    if (t == LinkTier::NvLink || t == LinkTier::HostNic)
      throw common::InputError(where, "only scale-out cables (NIC-leaf and above) can fail, not NVLink or GPU-NIC");
    for (LinkId l : cables) fail_link(l);  // parallel cables between the two nodes fail together
    return;
  }
  NodeId n = find_node(spec);
  if (n == kNoNode)
    throw common::InputError(where, "no such node; expected a switch name such as r0.b0.p0.fe3 or r0.bag2, "
                                    "or a link A->B");
  const NodeKind k = nodes_[n].kind;
  if (k == NodeKind::Gpu || k == NodeKind::Nic || k == NodeKind::NvSwitch)
    throw common::InputError(where, "only scale-out switches and cables can fail, not a GPU, NIC or NVSwitch");
  fail_node(n);
}

std::size_t Fabric::memory_bytes() const {
  return nodes_.capacity() * sizeof(Node) + links_.capacity() * sizeof(Link) +
         out_begin_.capacity() * sizeof(std::uint64_t) + out_ids_.capacity() * sizeof(LinkId) + out_dst_.capacity() * sizeof(NodeId);
}

}  // namespace collemu::models
