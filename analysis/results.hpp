// results.h5: a replayed step as columns that h5py and pandas read as arrays. Schema (version 1) in
// docs/results-format.md. Written atomically (temp + rename).
#pragma once

#include <string>
#include <vector>

#include "analysis/summary.hpp"
#include "emulator/replay.hpp"

namespace collemu::analysis {

inline constexpr int kResultsFormatVersion = 1;

struct RunInfo {
  std::string topo, placement, solver;
  double finish_tolerance = 0;  // the flow engine's (an approximation; 0: exact)
};

// Throws common::InputError naming the file when it cannot be written.
void write_results_h5(const std::string& path, const emulator::ReplayReport& report, const StepSummary& summary,
                      const std::vector<emulator::Job>& jobs, const RunInfo& info);

}  // namespace collemu::analysis
