#include "models/network.hpp"

#include "common/error.hpp"

namespace collemu::models {

namespace {
std::vector<double> payload_rates(const Fabric& f, const std::array<double, kNumLinkTiers>& efficiency) {
  for (double e : efficiency)
    COLLEMU_ASSERT(e > 0 && e <= 1, "a payload efficiency outside (0, 1]");
  std::vector<double> out(f.num_links());
  for (LinkId l = 0; l < f.num_links(); ++l) {
    const Link& k = f.link(l);
    out[l] = k.capacity_Bps * efficiency[static_cast<int>(k.tier)];
  }
  return out;
}
}  // namespace

Network::Network(const Fabric& fabric, const std::array<double, kNumLinkTiers>& payload_efficiency, bool group_links)
    : fabric_(fabric), efficiency_(payload_efficiency), grouped_(group_links && fabric.num_failed_links() == 0),
      router_(fabric), payload_Bps_(payload_rates(fabric, payload_efficiency)),
      groups_(fabric, payload_Bps_, group_links) {}

std::size_t Network::num_gpus() const {
  return std::size_t{fabric_.layout.gpus_per_building} * fabric_.layout.buildings.size();
}

NodeId Network::rail_proxy(NodeId src, NodeId dst) const {
  const std::uint32_t dom = gpus_per_domain(), k = fabric_.layout.gpus_per_nic;
  if (dom == 1 || src / dom == dst / dom) return kNoNode;
  // The destination's rail is its NIC's index in its domain. A sender on that rail's NIC sends itself (the proxy is
  // src); otherwise the NIC's first GPU relays (NCCL's intermediate rank: the first local GPU closest to the NIC).
  const std::uint32_t rail = dst % dom / k;
  if (src % dom / k == rail) return src;
  return src / dom * dom + rail * k;
}

void Network::path(NodeId src, NodeId dst, std::uint32_t qp, std::uint32_t udp_sport, PathSet& out, NodeId via) const {
  combined_.clear();
  out.latency_s = 0;
  auto leg = [&](NodeId a, NodeId b) {
    router_.route({a, b, qp, udp_sport}, route_);
    combined_.links.insert(combined_.links.end(), route_.links.begin(), route_.links.end());
    combined_.coefficients.insert(combined_.coefficients.end(), route_.coefficients.begin(), route_.coefficients.end());
    out.latency_s += mean_latency_s(fabric_, route_);
  };
  if (via != kNoNode && via != src) {
    leg(src, via);
    leg(via, dst);
  } else {
    leg(src, dst);
  }
  groups_.map(combined_, out.links, out.shares);
}

std::size_t Network::propose_guards(solver::FlowEngine& engine) const {
  const Fabric& f = fabric_;
  std::size_t taken = 0;
  // Hashed ports carry a flow whole (share 1): its host link does not bound a port.
  if (f.layout.port_select != PortSelect::Spray) return 0;
  // Per NIC: its host links (GPU -> NIC up, NIC -> GPU down) and its ports (NIC -> leaf); per host leaf, the host
  // links of the NICs on it and their port count.
  struct LeafNics {
    std::vector<EngineLink> up, down;
    std::uint32_t ports = 0;
    bool mixed = false;  // NICs with different port counts: no single share
  };
  std::vector<LeafNics> leaf_nics(f.num_nodes());
  std::vector<EngineLink> host_up, host_down;
  for (NodeId n = 0; n < f.num_nodes(); ++n) {
    if (f.node(n).kind != NodeKind::Nic) continue;
    host_up.clear();
    host_down.clear();
    std::uint32_t ports = 0;
    for (LinkId l : f.out_links(n)) {
      const LinkTier t = f.link(l).tier;
      if (t == LinkTier::HostNic) {
        host_down.push_back(groups_.group(l));
        host_up.push_back(groups_.group(Fabric::reverse(l)));
      } else if (t == LinkTier::Access) {
        ++ports;
      }
    }
    if (ports == 0 || host_up.empty()) continue;
    const double share = 1.0 / ports;
    for (LinkId l : f.out_links(n)) {
      if (f.link(l).tier != LinkTier::Access) continue;
      taken += engine.guard(groups_.group(l), host_up, share);
      taken += engine.guard(groups_.group(Fabric::reverse(l)), host_down, share);
      LeafNics& ln = leaf_nics[f.link(l).dst];
      if (ln.ports != 0 && ln.ports != ports) ln.mixed = true;
      ln.ports = ports;
      ln.up.insert(ln.up.end(), host_up.begin(), host_up.end());
      ln.down.insert(ln.down.end(), host_down.begin(), host_down.end());
    }
  }
  // A host leaf whose links to the fabric elements form one group each way (a DSF plane without failures), and
  // whose other links all lead to NIC ports.
  for (NodeId u = 0; u < f.num_nodes(); ++u) {
    const LeafNics& ln = leaf_nics[u];
    if (f.node(u).kind != NodeKind::Leaf || ln.ports == 0 || ln.mixed) continue;
    EngineLink up_group = kNoLink, down_group = kNoLink;
    bool one_group = true;
    for (LinkId l : f.out_links(u)) {
      if (f.link(l).tier == LinkTier::Access) continue;
      const EngineLink up = groups_.group(l), down = groups_.group(Fabric::reverse(l));
      if (up_group == kNoLink) up_group = up, down_group = down;
      one_group = one_group && f.node(f.link(l).dst).kind == NodeKind::FabricElement && up == up_group &&
                  down == down_group;
    }
    if (!one_group || up_group == kNoLink) continue;
    const double share = 1.0 / ln.ports;
    taken += engine.guard(up_group, ln.up, share);
    taken += engine.guard(down_group, ln.down, share);
  }
  return taken;
}

double Network::path_latency_s(NodeId src, NodeId dst, std::uint32_t qp, std::uint32_t udp_sport, NodeId via) const {
  if (via != kNoNode && via != src)
    return path_latency_s(src, via, qp, udp_sport) + path_latency_s(via, dst, qp, udp_sport);
  router_.route({src, dst, qp, udp_sport}, route_);
  return mean_latency_s(fabric_, route_);
}

Network::NvLinks Network::nvlinks(NodeId gpu) const {
  NvLinks out;
  LinkId up = kNoLink;
  for (LinkId l : fabric_.out_links(gpu))
    if (fabric_.link(l).tier == LinkTier::NvLink) up = l;
  if (up == kNoLink) return out;
  const LinkId down = Fabric::reverse(up);
  out.found = true;
  out.up = groups_.group(up);
  out.down = groups_.group(down);
  out.up_latency_s = fabric_.link(up).latency_s;
  out.down_latency_s = fabric_.link(down).latency_s;
  return out;
}

double Network::nvlink_Bps(NodeId gpu) const {
  double bw = 0;
  for (LinkId l : fabric_.out_links(gpu))
    if (fabric_.link(l).tier == LinkTier::NvLink) bw = payload_Bps_[l];
  return bw;
}

double Network::nic_Bps(NodeId gpu) const {
  double bw = 0;
  for (LinkId l : fabric_.out_links(gpu))
    if (fabric_.link(l).tier == LinkTier::HostNic) bw = payload_Bps_[l];
  return bw / fabric_.layout.gpus_per_nic;  // GPUs that share a NIC share its rate
}

}  // namespace collemu::models
