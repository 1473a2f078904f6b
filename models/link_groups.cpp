#include "models/link_groups.hpp"

#include <algorithm>
#include <map>

namespace collemu::models {

namespace {
bool is_leaf(NodeKind k) { return k == NodeKind::Leaf || k == NodeKind::EdgeLeaf; }
}  // namespace

LinkGroups::LinkGroups(const Fabric& f, std::span<const double> capacity_Bps, bool merge) {
  const std::size_t nl = f.num_links();
  constexpr std::uint32_t kUnset = ~0u;
  group_of_.assign(nl, kUnset);
  // Candidate groups: (leaf, direction) -> its fabric-element links. A group is kept when none of its links failed
  // and all have the same capacity; the plane is not checked as a whole because a failure elsewhere in the plane
  // changes which elements a flow may use (input balanced mode): any failure anywhere keeps every link alone.
  const bool failures = f.num_failed_links() > 0;
  // NSF with adaptive routing and no BAG (every flow stays in its building): a flow leaving a leaf is spread evenly
  // over all of the leaf's spines, one leaving a spine upward over all of its super-spines, and likewise on the way
  // down (router.cpp route_adaptive), so those links merge as a DSF leaf's do. With a BAG, flows to and from it keep
  // ECMP to the top tier and load these links unevenly: they stay alone.
  const bool adaptive = f.layout.nsf_routing == NsfRouting::Adaptive && !f.layout.has_bag;
  std::map<std::pair<NodeId, bool>, std::vector<LinkId>> candidates;
  if (merge && !failures)
    for (LinkId l = 0; l < nl; ++l) {
      const Link& k = f.link(l);
      const NodeKind s = f.node(k.src).kind, d = f.node(k.dst).kind;
      if (is_leaf(s) && d == NodeKind::FabricElement) candidates[{k.src, true}].push_back(l);
      if (s == NodeKind::FabricElement && is_leaf(d)) candidates[{k.dst, false}].push_back(l);
      if (!adaptive) continue;
      if ((s == NodeKind::Leaf && d == NodeKind::Spine) || (s == NodeKind::Spine && d == NodeKind::SuperSpine))
        candidates[{k.src, true}].push_back(l);
      if ((s == NodeKind::Spine && d == NodeKind::Leaf) || (s == NodeKind::SuperSpine && d == NodeKind::Spine))
        candidates[{k.dst, false}].push_back(l);
    }
  for (const auto& [key, links] : candidates) {
    const double c = capacity_Bps[links.front()];
    if (!std::all_of(links.begin(), links.end(), [&](LinkId l) { return capacity_Bps[l] == c; })) continue;
    const auto g = static_cast<std::uint32_t>(capacity_Bps_.size());
    for (LinkId l : links) group_of_[l] = g;
    capacity_Bps_.push_back(c * static_cast<double>(links.size()));
    first_.push_back(links.front());
  }
  for (LinkId l = 0; l < nl; ++l)
    if (group_of_[l] == kUnset) {
      group_of_[l] = static_cast<std::uint32_t>(capacity_Bps_.size());
      capacity_Bps_.push_back(capacity_Bps[l]);
      first_.push_back(l);
    }
}

void LinkGroups::map(const Route& route, std::vector<std::uint32_t>& groups, std::vector<double>& coefficients) const {
  groups.clear();
  coefficients.clear();
  for (std::size_t i = 0; i < route.size(); ++i) {
    const std::uint32_t g = group_of_[route.links[i]];
    // Routes are short after grouping (tens of entries): a linear search beats a hash.
    auto it = std::find(groups.begin(), groups.end(), g);
    if (it == groups.end()) {
      groups.push_back(g);
      coefficients.push_back(route.coefficients[i]);
    } else {
      coefficients[static_cast<std::size_t>(it - groups.begin())] += route.coefficients[i];
    }
  }
  for (double& a : coefficients) a = std::min(a, 1.0);  // sums of shares that add to 1 up to rounding
}

}  // namespace collemu::models
