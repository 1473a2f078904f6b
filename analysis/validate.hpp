// collemu validate: a replayed trace against what was measured when it was recorded. Each observed collective and
// receive of each rank (not a send: the replay has it done when posted, as NCCL's grouped isend) (a kernel's span, a Flight Recorder entry's duration: traces::Trace::measured) is paired with the replay's
// time for it (from the rank's arrival at the op to its end, as a kernel that waits for its peers measures it), and
// each rank's span (from its first observed op's start to its last one's end) with the replay's span over the same
// ops. Errors as docs/accuracy.md counts them: measured / predicted - 1 (positive: collemu optimistic).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emulator/replay.hpp"
#include "traces/trace.hpp"

namespace collemu::analysis {

struct OpPair {
  std::uint32_t rank = 0, op = 0;
  traces::OpKind kind = traces::OpKind::Collective;
  common::CollKind coll = common::CollKind::AllReduce;
  double bytes = 0;  // the op's buffer (count x element size)
  double measured_s = 0, predicted_s = 0;
};

struct SpanPair {
  std::uint32_t rank = 0;
  std::uint32_t ops = 0;  // observed ops in the span
  double measured_s = 0, predicted_s = 0;
};

// Errors of predictions against measurements, e = measured / predicted - 1 (positive: collemu optimistic): medians,
// p90 (nearest rank) and worst of |e|, median and mean of e. validate's groups and calibrate's parts both use it.
struct ErrorStats {
  int n = 0;
  double median_signed = 0, mean_signed = 0, median_abs = 0, p90_abs = 0, max_abs = 0;
};
ErrorStats summarize_errors(const std::vector<double>& errors);

struct PairStats : ErrorStats {
  std::string label;  // "allreduce 1MiB-4MiB", "all", "span"
  double median_measured_s = 0, median_predicted_s = 0;
};

struct Validation {
  std::vector<OpPair> ops;
  std::vector<SpanPair> spans;
  std::vector<PairStats> groups;  // per collective kind and size bucket (a factor of 4), then "all" and "span"
};

// The size bucket a measurement is grouped (and held out) with: a factor of 4 ("1MiB-4MiB", "4MiB-16MiB"; "0B").
std::string size_bucket(double bytes);

// The ranks of `t` with measured times (what the replay must record: emulator::ReplayOptions::record_ranks).
std::vector<std::uint32_t> measured_ranks(const traces::Trace& t);

// Pairs the measured times of `t` (job 0 of the replay) with the replay's ops (report.rank_ops, recorded for
// measured_ranks). Throws common::InputError naming the trace when it has no measured time of a communication op.
Validation compare_measured(const traces::Trace& t, const emulator::ReplayReport& report);

// The pairs as HDF5 (atomically): /ops/{rank, op, kind, bytes, measured_s, predicted_s}, /spans/{rank, ops,
// measured_s, predicted_s}, /groups/{label, n, median_measured_s, median_predicted_s, median_signed, median_abs, p90_abs,
// max_abs}; attributes format "collemu-validation", version 1, trace, topo.
void write_validation_h5(const std::string& path, const Validation& v, const std::string& trace, const std::string& topo);

}  // namespace collemu::analysis
