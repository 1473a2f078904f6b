#include "models/summary.hpp"

#include <algorithm>
#include <limits>

namespace collemu::models {

namespace {

// The child end of a link for the bisection's subtree labels: the end nearer the GPUs.
NodeId child_of(const Link& l) { return l.up ? l.src : l.dst; }
NodeId parent_of(const Link& l) { return l.up ? l.dst : l.src; }
bool is_upward(const Link& l) { return l.up; }

constexpr LinkTier kPropagationOrder[] = {LinkTier::HostNic, LinkTier::Access, LinkTier::L1L2, LinkTier::L2L3,
                                          LinkTier::EdgeFabric, LinkTier::Bag};

}  // namespace

double bisection_Bps(const Fabric& f, NodeId first, NodeId split, NodeId end) {
  // side: bit 1 = has first-half GPUs below, bit 2 = has second-half GPUs below.
  std::vector<std::uint8_t> side(f.num_nodes(), 0);
  for (NodeId g = first; g < end; ++g) side[g] = g < split ? 1 : 2;
  std::vector<std::vector<LinkId>> by_tier(kNumLinkTiers);
  for (LinkId id = 0; id < f.num_links(); ++id) by_tier[static_cast<int>(f.link(id).tier)].push_back(id);
  for (LinkTier t : kPropagationOrder)
    for (LinkId id : by_tier[static_cast<int>(t)]) {
      const Link& l = f.link(id);
      if (!l.failed && is_upward(l)) side[parent_of(l)] |= side[child_of(l)];
    }
  double best = std::numeric_limits<double>::infinity();
  // Between regions both ends are BAG switches: the cut is the links from first-half-only to second-half-only.
  double inter = 0;
  for (LinkId id : by_tier[static_cast<int>(LinkTier::InterRegion)]) {
    const Link& l = f.link(id);
    if (!l.failed && side[l.src] == 1 && side[l.dst] == 2) inter += l.capacity_Bps;
  }
  if (inter > 0) best = inter;
  for (LinkTier t : kPropagationOrder) {
    double up_a = 0, down_b = 0;
    for (LinkId id : by_tier[static_cast<int>(t)]) {
      const Link& l = f.link(id);
      if (l.failed) continue;
      const std::uint8_t c = side[child_of(l)];
      if (is_upward(l) && c == 1) up_a += l.capacity_Bps;
      if (!is_upward(l) && c == 2) down_b += l.capacity_Bps;
    }
    // A tier is crossed by every first-to-second path only if both halves hang below it.
    if (up_a > 0) best = std::min(best, up_a);
    if (down_b > 0) best = std::min(best, down_b);
  }
  return best == std::numeric_limits<double>::infinity() ? 0 : best;
}

TopoSummary summarize(const Fabric& f) {
  const FabricLayout& L = f.layout;
  TopoSummary s;
  s.name = L.name;
  s.links = f.num_links();
  s.failed_links = f.num_failed_links();
  s.memory_bytes = f.memory_bytes();
  for (const Node& n : f.nodes()) ++s.nodes_by_kind[static_cast<int>(n.kind)];
  s.gpus = s.nodes_by_kind[static_cast<int>(NodeKind::Gpu)];
  s.nics = s.nodes_by_kind[static_cast<int>(NodeKind::Nic)];
  s.scaleup_domains = s.gpus / std::max<std::uint32_t>(1, L.gpus_per_domain);
  for (NodeKind k : {NodeKind::Leaf, NodeKind::EdgeLeaf, NodeKind::FabricElement, NodeKind::Spine,
                     NodeKind::SuperSpine, NodeKind::Bag})
    s.switches += s.nodes_by_kind[static_cast<int>(k)];

  // Per building and tier: upward capacity (live) and cable count.
  const std::size_t nb = L.buildings.size();
  std::vector<double> cap(nb * kNumLinkTiers, 0.0);
  std::vector<double> total_cap(kNumLinkTiers, 0.0);
  std::vector<std::size_t> cables(kNumLinkTiers, 0);
  auto building_index = [&](NodeId n) {
    const Node& x = f.node(n);
    return L.regions[x.region].first_building + x.building;
  };
  for (const Link& l : f.links()) {
    if (!l.up) continue;
    const int t = static_cast<int>(l.tier);
    ++cables[t];
    if (l.failed) continue;
    total_cap[t] += l.capacity_Bps;
    if (l.tier != LinkTier::InterRegion) cap[building_index(l.src) * kNumLinkTiers + t] += l.capacity_Bps;
  }
  // Oversubscription along each building's chain, summed per tier.
  std::vector<double> below(kNumLinkTiers, 0.0), at(kNumLinkTiers, 0.0);
  for (std::size_t b = 0; b < nb; ++b) {
    const BuildingLayout& B = L.buildings[b];
    std::vector<LinkTier> chain = {LinkTier::Access, LinkTier::L1L2};
    if (B.kind == BuildingKind::Nsf && B.nsf_tiers == 3) chain.push_back(LinkTier::L2L3);
    if (L.has_bag) chain.push_back(LinkTier::Bag);
    BuildingSummary bs;
    bs.region = B.region;
    bs.building = B.building;
    bs.kind = B.kind;
    bs.gpus = B.n_gpus;
    for (std::size_t i = 1; i < chain.size(); ++i) {
      const double lo = cap[b * kNumLinkTiers + static_cast<int>(chain[i - 1])];
      const double hi = cap[b * kNumLinkTiers + static_cast<int>(chain[i])];
      below[static_cast<int>(chain[i])] += lo;
      at[static_cast<int>(chain[i])] += hi;
      if (chain[i] == LinkTier::Bag && hi > 0) bs.bag_oversubscription = lo / hi;
    }
    // Inside a building: half of the smallest tier on the way up (the bisection of a Clos whose halves may
    // split a leaf; every tier is crossed by half of an all-to-all's traffic).
    double smallest = cap[b * kNumLinkTiers + static_cast<int>(LinkTier::HostNic)];
    for (LinkTier t : chain)
      if (t != LinkTier::Bag) smallest = std::min(smallest, cap[b * kNumLinkTiers + static_cast<int>(t)]);
    bs.bisection_Bps = B.n_gpus >= 2 ? smallest / 2 : 0;
    s.buildings.push_back(bs);
  }
  for (int t = 0; t < kNumLinkTiers; ++t) {
    if (cables[t] == 0) continue;
    TierSummary ts;
    ts.tier = static_cast<LinkTier>(t);
    ts.cables = cables[t];
    ts.capacity_Bps = total_cap[t];
    if (at[t] > 0) ts.oversubscription = below[t] / at[t];
    s.tiers.push_back(ts);
  }
  if (L.has_bag && at[static_cast<int>(LinkTier::Bag)] > 0)
    s.bag_oversubscription = below[static_cast<int>(LinkTier::Bag)] / at[static_cast<int>(LinkTier::Bag)];
  if (nb >= 2) {
    const NodeId end = static_cast<NodeId>(nb * L.gpus_per_building);
    const NodeId split = static_cast<NodeId>((nb / 2) * L.gpus_per_building);
    s.bag_bisection_Bps = bisection_Bps(f, 0, split, end);
  }
  for (std::uint32_t a = 0; a < L.regions.size(); ++a)
    for (std::uint32_t b = 0; b < L.regions.size(); ++b) {
      if (a == b) continue;
      RegionPairSummary rp{a, b, 0};
      const RegionLayout &A = L.regions[a], &B = L.regions[b];
      for (std::uint32_t i = 0; i < A.n_bag; ++i)
        for (LinkId l : f.out_links_to(A.bag_base + i, B.bag_base, B.n_bag))
          if (!f.link(l).failed) rp.capacity_Bps += f.link(l).capacity_Bps;
      s.inter_region.push_back(rp);
    }
  return s;
}

}  // namespace collemu::models
