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
