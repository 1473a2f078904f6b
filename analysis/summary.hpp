// What a replayed step's report says at a glance: per link tier the bytes carried and the utilisation over the step,
// the busiest links, the bytes over the BAG, and the collectives grouped by kind, size and communicator size (the
// same collective of every group is one row), slowest first. Used by `collemu run`'s summary, its JSON and
// results.h5.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "emulator/replay.hpp"
#include "models/network.hpp"

namespace collemu::analysis {

struct TierUse {
  models::LinkTier tier;
  std::size_t links = 0;    // engine links (link groups) of the tier
  double bytes = 0;         // carried, B
  double capacity_Bps = 0;  // sum over its links
  double utilisation = 0;   // bytes / (capacity x step time)
};

struct LinkUse {
  models::EngineLink link = 0;
  std::string name;  // a fabric link of the group
  models::LinkTier tier = models::LinkTier::NvLink;
  double bytes = 0, utilisation = 0;
};

struct CollGroup {
  common::CollKind kind = common::CollKind::AllReduce;
  int ranks = 0;
  double bytes = 0;
  std::size_t count = 0;
  double max_s = 0, mean_s = 0, mean_busbw_Bps = 0;
  std::string algo, proto;
  models::LinkTier binding_tier = models::LinkTier::NvLink;  // of its slowest instance
};

struct StepSummary {
  double step_time_s = 0;
  std::vector<TierUse> tiers;      // tiers that exist, bottom up
  std::vector<LinkUse> busiest;    // by utilisation, at most `busiest_links`
  double bag_bytes = 0;            // carried up into the BAG
  std::vector<CollGroup> slowest;  // every group, by max_s (descending)
};

StepSummary summarize_step(const emulator::ReplayReport& report, const models::Network& network,
                           std::size_t busiest_links = 32);

}  // namespace collemu::analysis
