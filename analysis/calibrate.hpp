// collemu calibrate: fits fabric keys (achieved shares such as nic.efficiency, extra latencies such as
// nccl.extra_latency) to measured collective times, by bounded least squares on the log of predicted over measured
// time (fit.hpp), with whole groups of measurements held out to report the error on what the fit did not see.
//
// Every measurement is one collective as nccl-tests runs it (collectives::run_collective) on the fabric of its machine:
// the base config with the parameters set, then the measurement's own assignments (the machine of that point, when
// measurements come from several machines). Errors are reported as docs/accuracy.md does: predicted busbw over
// measured busbw - 1 (measured time over predicted time - 1; positive: optimistic).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/fit.hpp"
#include "analysis/validate.hpp"
#include "collectives/plan.hpp"
#include "models/config.hpp"
#include "models/placement.hpp"
#include "traces/trace.hpp"

namespace collemu::analysis {

struct Measurement {
  std::string source;             // "file:line", for errors and the table
  // The units held out together (CalibrateOptions::holdout_by): its size bucket (a log's collective in one size
  // bucket, a case's group), its collective kind, its source (a log, a case's group, a trace).
  std::string group, kind, origin;
  std::vector<std::string> sets;  // "key=value" over the base config: this point's machine
  collectives::CollSpec spec;
  int ranks = 0;
  double time_s = 0;              // measured
};

struct CalibrateOptions {
  // Parameters by fabric key, bounds and start in the key's base unit (a share as a fraction, a duration in seconds);
  // the start is the base config's value unless given (FitParam::start NaN).
  std::vector<FitParam> params;
  double holdout = 0.2;     // the share of groups held out (0: none)
  enum class HoldoutBy { Size, Collective, Source } holdout_by = HoldoutBy::Size;
  std::uint64_t seed = 1;   // which ones
  std::string solver = "cpu";
  FitOptions fit;
};

struct PointResult {
  bool held_out = false;
  double before_s = 0, after_s = 0;  // predicted, with the base config's values and with the fitted ones
};

// summarize_errors (validate.hpp) of measured / predicted - 1 over the points with held_out == `held`.
ErrorStats error_stats(const std::vector<Measurement>& ms, const std::vector<PointResult>& pts, bool held, bool after);

struct Calibration {
  FitResult fit;
  std::vector<double> start;           // each parameter's start (the base config's value, within its bounds)
  std::vector<PointResult> points;     // beside the measurements
  std::vector<std::string> held_groups;
};

// Whether a key can be fitted (a Percent or a Duration key); its value as config text ("87.5%", "12.5us") and its
// default bounds (shares 20% to 100%, durations 0 to 2 ms).
bool fittable(const models::KeySpec& key);
std::string key_text(const models::KeySpec& key, double value);
FitParam default_param(const models::KeySpec& key);

// Throws common::InputError naming a measurement's source when its collective cannot run on its machine, and
// common::UserError for bad parameters; a fit that does not converge is returned with fit.converged false.
Calibration calibrate(const models::FabricConfig& base, const std::vector<Measurement>& ms,
                      const CalibrateOptions& options);

// How a trace is replayed for calibrate_trace (as collemu run would: placement, --compute-scale, finish tolerance).
struct TraceReplay {
  models::Placement placement = models::Placement::Packed;
  double compute_scale = 1;
  double finish_tolerance = 0;
  int qps = 1;                                  // NCCL_IB_QPS_PER_CONNECTION
  int nccl_minor = collectives::kNcclMinor;     // the NCCL version the trace ran with (its p2p channels)
};

// Fits the parameters to the measured times of a trace (Trace::measured): one measurement per measured collective,
// send or receive and per rank's span (analysis/validate.hpp), grouped by collective kind and size bucket ("span" for
// spans), each predicted by replaying the trace on the base config with the parameters set (gpu.compute_time moves
// the compute). `ms` receives the measurements, beside the result's points. Throws common::InputError for a trace
// without measured communication times.
Calibration calibrate_trace(const models::FabricConfig& base, const traces::Trace& t, const TraceReplay& how,
                            const CalibrateOptions& options, std::vector<Measurement>& ms);

// The fitted values as an overlay `--set-file` reads (YAML, dotted keys), each with its standard error and a header
// saying what it was fitted on.
std::string overlay_yaml(const std::vector<FitParam>& params, const FitResult& fit, const std::string& header);

}  // namespace collemu::analysis
