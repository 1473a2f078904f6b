// TopoSummary: what `collemu topo` reports, measured from the built graph (never echoed from the config):
// counts of nodes and links per tier, capacity per tier, the oversubscription at each tier boundary, bisection
// bandwidth inside each building and across the BAG, and inter-region capacity.
//
// Definitions (all capacities per direction, over live links):
//   capacity of a tier      sum of its upward links (a full-duplex cable counted once);
//   oversubscription        capacity of the tier below / capacity of this tier, along each building's chain
//                           access -> l1-l2 -> [l2-l3] -> bag, summed over the buildings that have the tier;
//   bisection (building)    half of the smallest tier capacity from the NICs up to the building's top tier
//                           (the bisection of a Clos fabric);
//   bisection (BAG)         the buildings split in two halves in order; the smallest tier cut between them:
//                           for every tier on the way up, the capacity leaving the first half's buildings, and
//                           on the way down, the capacity entering the second half's.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "models/fabric.hpp"

namespace collemu::models {

struct TierSummary {
  LinkTier tier;
  std::size_t cables = 0;   // full-duplex links (upward direction counted)
  double capacity_Bps = 0;  // per direction
  std::optional<double> oversubscription;
};

struct BuildingSummary {
  std::uint32_t region = 0, building = 0;
  BuildingKind kind = BuildingKind::Dsf;
  std::size_t gpus = 0;
  double bisection_Bps = 0;
  std::optional<double> bag_oversubscription;
};

struct RegionPairSummary {
  std::uint32_t a = 0, b = 0;
  double capacity_Bps = 0;  // a -> b
};

struct TopoSummary {
  std::string name;
  std::size_t gpus = 0, scaleup_domains = 0, nics = 0, switches = 0, links = 0, failed_links = 0;
  std::size_t nodes_by_kind[kNumNodeKinds] = {};
  std::vector<TierSummary> tiers;  // bottom up, only tiers that exist
  std::optional<double> bag_oversubscription;
  std::vector<BuildingSummary> buildings;
  std::optional<double> bag_bisection_Bps;  // half of the buildings to the other half
  std::vector<RegionPairSummary> inter_region;
  std::size_t memory_bytes = 0;
};

TopoSummary summarize(const Fabric& fabric);

// The smallest tier cut between GPUs [first, split) and [split, end). Exact when both halves are whole
// subtrees (whole buildings, whole pods); used for the bisection across the BAG.
double bisection_Bps(const Fabric& fabric, NodeId first_gpu, NodeId split_gpu, NodeId end_gpu);

}  // namespace collemu::models
