// Link groups: links whose max-min constraints are the same inequality, merged into one for the solver.
//
// On a DSF plane every flow that leaves a leaf through the fabric is sprayed evenly over all of the leaf's links to
// the fabric elements, and every flow that enters a leaf through the fabric arrives evenly over all of its links from
// them (router.hpp). Without failures, and with equal capacities, the k up-links of a leaf therefore each carry
// (1/k) x the same sum of flow rates: their constraints sum_f r_f / k <= C are one constraint, sum_f r_f <= k C.
// Merging them changes no rate and divides a sprayed route's entries by k (a DSF route of ~130 entries becomes
// ~20). Links of unequal capacities stay alone; with any failed link in the fabric, every link stays alone (a failure
// changes which elements a flow may use). NSF buildings with adaptive routing and no BAG spread every flow over all
// spines and super-spines the same way: a leaf's spine links, and a spine's super-spine links, merge likewise.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/fabric.hpp"
#include "models/router.hpp"

namespace collemu::models {

class LinkGroups {
 public:
  LinkGroups() = default;
  // `capacity_Bps`: the capacity of each fabric link as the caller's model sees it. `merge` false: every link its own
  // group, numbered as the fabric's links (as with any failure): networks of the same fabric with different failures
  // then number their links alike.
  LinkGroups(const Fabric& fabric, std::span<const double> capacity_Bps, bool merge = true);
  std::size_t num_groups() const { return capacity_Bps_.size(); }
  std::uint32_t group(LinkId l) const { return group_of_[l]; }
  double capacity_Bps(std::uint32_t g) const { return capacity_Bps_[g]; }
  const std::vector<double>& capacities() const { return capacity_Bps_; }
  // A link of the group (its first), for its tier and name.
  LinkId representative(std::uint32_t g) const { return first_[g]; }
  // The route's entries as groups: links mapped to their groups, duplicates merged by adding coefficients, in order
  // of first appearance.
  void map(const Route& route, std::vector<std::uint32_t>& groups, std::vector<double>& coefficients) const;

 private:
  std::vector<std::uint32_t> group_of_;
  std::vector<double> capacity_Bps_;
  std::vector<LinkId> first_;
};

}  // namespace collemu::models
