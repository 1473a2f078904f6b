// One scenario of `collemu run`: its options, the fabric, jobs and traces it builds, the replay and its summary.
// `collemu run` prints it; `collemu sweep` runs one per point.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/summary.hpp"
#include "cli/options.hpp"
#include "emulator/replay.hpp"
#include "models/fabric.hpp"
#include "models/network.hpp"
#include "models/placement.hpp"
#include "traces/generate.hpp"
#include "traces/trace.hpp"

namespace collemu::cli {

struct RunOptions {
  std::vector<std::string> gen;  // KEY=VALUE options of the embedded default's generator (`collemu sweep --param gen.KEY`)
  std::string topo = "prometheus";
  std::vector<std::string> sets, fails, set_files, fail_at;
  std::vector<std::string> traces;
  std::vector<std::string> jobs;
  std::string format = "auto";
  std::string placement;  // default: packed for a trace, spread for the embedded default
  std::string solver = "cpu", granularity = "pipelined";
  double finish_tolerance = kDefaultFinishTolerance;  // models::solver::FlowEngineOptions::finish_tolerance
  int qps = 1;
  bool pxn_disable = false;  // NCCL_PXN_DISABLE=1
  std::string nccl_version;  // empty: collectives::kNcclMinor
  int net_channels_per_peer = 0;  // NCCL_NCHANNELS_PER_NET_PEER; 0: NCCL's default
  int min_channels = -1, max_channels = -1;  // NCCL_MIN_NCHANNELS, NCCL_MAX_NCHANNELS; -1: not given
  double compute_scale = 1;
  double sm_contention = 1.0 / 132;
  std::vector<std::string> slow_ranks;
  int top = 5;
  std::string out, timeline;
  int timeline_ranks = 16;
  bool json = false, quiet = false;
  bool no_symmetry = false;  // emulator::ReplayOptions::symmetry off
  // collemu validate: a partial job's missing ranks take a symmetric rank's program (traces::fill_missing_ranks), and
  // the ranks with measured times are recorded op by op (emulator::ReplayOptions::record_ranks).
  bool fill_missing = false, record_measured = false;
};

// What run_scenario builds: the traces, the fabric and network, the jobs and their placements, the replay's report
// and its summary (the jobs point into the traces, the network into the fabric: not copyable).
struct RunResult {
  std::vector<traces::Trace> traces;
  std::unique_ptr<models::Fabric> fabric;
  std::unique_ptr<models::Network> net;
  std::vector<emulator::Job> jobs;
  std::vector<models::PlacementSpec> placements;
  std::vector<emulator::ReplayOptions::TimedFailure> failures;  // --fail-at, parsed
  emulator::ReplayReport rep;
  analysis::StepSummary sum;
  double wall_s = 0;
  RunResult() = default;
  RunResult(const RunResult&) = delete;
  RunResult& operator=(const RunResult&) = delete;
};

// The options a scenario is made of (fabric, failures, traces, jobs, placement, what-ifs, solver), for `run` and
// `sweep`.
void add_scenario_options(CLI::App* cmd, RunOptions& o);

// A job's trace from `files` (format: a name or "auto"), warnings on stderr; a partial job is refused unless
// `fill_missing`: then its missing ranks take a symmetric rank's program (traces::fill_missing_ranks), said on stderr.
traces::Trace read_job_trace(const std::vector<std::string>& files, const std::string& format, bool fill_missing);

// Builds the fabric and the jobs of `o`, replays them (a progress bar on a terminal unless o.quiet) and summarises.
// Throws common::UserError naming the option for bad input.
void run_scenario(const RunOptions& o, RunResult& r);

// The embedded default's generator spec (docs/replay.md), and one KEY=VALUE option applied to a spec (keys: the
// LlmSpec fields gpus, tp, cp, pp, dp, vpp, layers, hidden, ffn, heads, kv_heads, vocab, seq, microbatches,
// microbatch_size, gpu_tflops, mfu, dp_mode (allreduce|zero|fsdp), dp_overlap (true|false)). Throws
// common::InputError naming "gen.KEY=VALUE".
traces::LlmSpec default_spec();
void apply_gen_option(traces::LlmSpec& spec, const std::string& key_value);

// A whole string that is one finite number ("0.8", "1e3"), or nothing.
std::optional<double> parse_number(const std::string& text);

std::string seconds(double s);
std::string bytes_text(double b);
std::pair<std::uint32_t, double> parse_slow_rank(const std::string& text);

}  // namespace collemu::cli
