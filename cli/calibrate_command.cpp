#include "cli/calibrate_command.hpp"

#include <unistd.h>

#include <cerrno>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/calibrate.hpp"
#include "analysis/nccl_tests_log.hpp"
#include "analysis/validate.hpp"
#include "cli/options.hpp"
#include "cli/scenario.hpp"
#include "collectives/nccl.hpp"
#include "common/atomic_file.hpp"
#include "common/collective.hpp"
#include "common/units.hpp"

namespace collemu::cli {

namespace {

struct CalibrateOptions {
  std::vector<std::string> logs;
  std::string cases;
  std::vector<std::string> traces;
  bool fill_missing = false;
  std::string placement = "packed";
  double compute_scale = 1;
  std::string topo = "prometheus";
  std::vector<std::string> sets, set_files;
  std::string op, algo, proto, nccl_version;
  int ranks = 0, channels = 0, qps = 1;
  std::vector<std::string> fit;
  double holdout = 0.2;
  std::string holdout_by = "size";
  std::uint64_t seed = 1;
  int max_iterations = 100;
  std::string out;
  bool json = false;
};

const char* kDefaultParams[] = {"nic.efficiency", "scaleup.efficiency", "nccl.extra_latency", "nccl.extra_hop_latency"};
// From a trace, the compute too (its measured spans hold compute and communication).
const char* kDefaultTraceParams[] = {"nic.efficiency", "scaleup.efficiency", "nccl.extra_latency",
                                     "nccl.extra_hop_latency", "gpu.compute_time"};

// --fit KEY or KEY=LO:HI (with the key's units: 50%:100%, 0us:500us).
analysis::FitParam fit_param(const std::string& text) {
  const auto eq = text.find('=');
  const std::string name = text.substr(0, eq);
  const models::KeySpec* k = models::find_key(name);
  if (!k || !analysis::fittable(*k))
    throw common::InputError("--fit " + text, "expected a fabric key that is a share (%) or a duration, e.g. "
                             "nic.efficiency or nccl.extra_latency=0us:500us (collemu topo --list-keys)");
  analysis::FitParam p = analysis::default_param(*k);
  if (eq == std::string::npos) return p;
  const std::string range = text.substr(eq + 1);
  const auto colon = range.find(':');
  if (colon == std::string::npos)
    throw common::InputError("--fit " + text, "expected KEY=LOWER:UPPER, e.g. nic.efficiency=50%:100%");
  auto value = [&](const std::string& v) { return from_option("--fit", text, [&] { return models::key_number(*k, v); }); };
  p.lower = value(range.substr(0, colon));
  p.upper = value(range.substr(colon + 1));
  if (!(p.lower < p.upper)) throw common::InputError("--fit " + text, "expected the lower bound below the upper one");
  return p;
}

// NCCL's settings the measurements ran with, as coll takes them.
collectives::CollSpec base_spec(const CalibrateOptions& o, common::CollKind op) {
  collectives::CollSpec s;
  s.op = op;
  if (!o.algo.empty()) s.algo = from_option("--algo", o.algo, [&] { return collectives::parse_algo(o.algo); });
  if (!o.proto.empty()) s.proto = from_option("--proto", o.proto, [&] { return collectives::parse_proto(o.proto); });
  s.channels = o.channels;
  s.qps = o.qps;
  if (!o.nccl_version.empty())
    s.nccl_minor = from_option("--nccl-version", o.nccl_version, [&] { return collectives::parse_nccl_minor(o.nccl_version); });
  return s;
}

void read_logs(const CalibrateOptions& o, const models::FabricConfig& base, std::vector<analysis::Measurement>& ms) {
  for (const std::string& path : o.logs) {
    const analysis::NcclTestsLog log = analysis::read_nccl_tests_log(path);
    common::CollKind op;
    if (!o.op.empty()) {
      op = from_option("--op", o.op, [&] { return collectives::parse_collective(o.op); });
    } else if (log.op) {
      op = *log.op;
    } else {
      throw common::InputError(path, "the log does not name its program (no '# Collective test starting:' line, "
                               "nccl-tests before 2.13); give --op");
    }
    int ranks = o.ranks ? o.ranks : log.ranks;
    if (ranks == 0) ranks = static_cast<int>(base.count("building.gpus"));
    analysis::check_nccl_tests_log(log, op, ranks);
    const collectives::CollSpec spec = base_spec(o, op);
    int empty = 0;
    for (const analysis::NcclTestsRow& r : log.rows) {
      if (r.bytes == 0) {  // nccl-tests' 0-byte row times a launch, no data: nothing a fabric key moves
        ++empty;
        continue;
      }
      analysis::Measurement m;
      m.source = path + ":" + std::to_string(r.line);
      m.kind = path + " " + common::to_string(op);
      m.group = m.kind + " " + analysis::size_bucket(r.bytes);
      m.origin = path;
      m.spec = spec;
      m.spec.bytes = r.bytes;
      m.spec.type_bytes = r.type_bytes;
      m.ranks = ranks;
      m.time_s = r.time_s;
      ms.push_back(std::move(m));
    }
    if (empty) std::fprintf(stderr, "collemu: warning: %s: %d row(s) of 0 bytes left out (no data moves)\n", path.c_str(), empty);
  }
}

// --cases: a CSV with a header naming at least group, op, ranks, bytes, time_us and sets (space-separated key=value,
// this point's machine over --topo), and optionally algo, proto, channels, qps, nccl_version.
void read_cases(const CalibrateOptions& o, std::vector<analysis::Measurement>& ms) {
  std::ifstream in(o.cases);
  if (!in) throw common::InputError(o.cases, "cannot open the cases file");
  auto split = [](const std::string& line) {
    std::vector<std::string> out;
    std::stringstream s(line);
    for (std::string f; std::getline(s, f, ',');) out.push_back(f);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
  };
  std::string line;
  if (!std::getline(in, line)) throw common::InputError(o.cases + ":1", "empty; expected a CSV header");
  const auto header = split(line);
  auto column = [&](const char* name, bool required) -> int {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
    if (required)
      throw common::InputError(o.cases + ":1", std::string("no column '") + name + "'; expected group, op, ranks, "
                               "bytes, time_us, sets (and optionally algo, proto, channels, qps, nccl_version)");
    return -1;
  };
  const int c_group = column("group", true), c_op = column("op", true), c_ranks = column("ranks", true),
            c_bytes = column("bytes", true), c_time = column("time_us", true), c_sets = column("sets", true),
            c_algo = column("algo", false), c_proto = column("proto", false), c_channels = column("channels", false),
            c_qps = column("qps", false), c_version = column("nccl_version", false);
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::string where = o.cases + ":" + std::to_string(n);
    const auto f = split(line);
    if (f.size() != header.size())
      throw common::InputError(where, std::to_string(f.size()) + " fields; expected " + std::to_string(header.size()) +
                               " as in the header (no commas inside a field)");
    auto integer = [&](int c, const char* what, long long lo, long long hi) {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(f[c].c_str(), &end, 10);
      if (f[c].empty() || *end || errno == ERANGE || v < lo || v > hi)
        throw common::InputError(where, std::string(what) + " '" + f[c] + "': expected a whole number from " +
                                 std::to_string(lo) + " to " + std::to_string(hi));
      return v;
    };
    analysis::Measurement m;
    m.source = where;
    m.group = m.origin = f[c_group];
    m.kind = f[c_op];
    try {
      m.spec.op = collectives::parse_collective(f[c_op]);
      if (c_algo >= 0 && !f[c_algo].empty()) m.spec.algo = collectives::parse_algo(f[c_algo]);
      if (c_proto >= 0 && !f[c_proto].empty()) m.spec.proto = collectives::parse_proto(f[c_proto]);
      if (c_version >= 0 && !f[c_version].empty()) m.spec.nccl_minor = collectives::parse_nccl_minor(f[c_version]);
    } catch (const common::UserError& e) {
      throw common::InputError(where, e.what());
    }
    m.ranks = static_cast<int>(integer(c_ranks, "ranks", 1, 100'000'000));
    m.spec.bytes = static_cast<double>(integer(c_bytes, "bytes", 0, 1'000'000'000'000'000'000LL));  // 1e18 B, as coll
    if (c_channels >= 0 && !f[c_channels].empty())
      m.spec.channels = static_cast<int>(integer(c_channels, "channels", 1, 64));  // NCCL's MAXCHANNELS
    if (c_qps >= 0 && !f[c_qps].empty()) m.spec.qps = static_cast<int>(integer(c_qps, "qps", 1, 128));
    char* end = nullptr;
    const double us = std::strtod(f[c_time].c_str(), &end);
    if (f[c_time].empty() || *end || !(us > 0) || !std::isfinite(us))
      throw common::InputError(where, "time_us '" + f[c_time] + "': expected a time above 0 us");
    m.time_s = us * 1e-6;
    std::stringstream sets(f[c_sets]);
    for (std::string s; sets >> s;) m.sets.push_back(s);
    ms.push_back(std::move(m));
  }
  if (ms.empty()) throw common::InputError(o.cases, "no case; expected one row per measurement after the header");
}

// A key's value as the report shows it: a share to 0.01%, a duration to 0.01 us (the overlay keeps 9 decimals).
std::string shown(const models::KeySpec& k, double v) {
  char t[48];
  if (k.kind == models::KeyKind::Percent)
    std::snprintf(t, sizeof t, "%.2f%%", 100 * v);
  else
    std::snprintf(t, sizeof t, "%.2fus", 1e6 * v);
  return t;
}


void run(const CalibrateOptions& o) {
  check_output_file("--out", o.out);
  if (!o.logs.empty() + !o.cases.empty() + !o.traces.empty() != 1)
    throw common::InputError("--nccl-tests / --cases / --trace", "expected measurements from one of them: nccl-tests "
                             "outputs (--nccl-tests LOG...), a CSV of cases (--cases FILE) or a trace with measured "
                             "times (--trace FILE...)");
  if (!(o.holdout >= 0 && o.holdout < 1))
    throw common::InputError("--holdout " + std::to_string(o.holdout), "expected a share of the groups from 0 to below 1");
  if (o.channels < 0 || o.channels > 64)
    throw common::InputError("--channels " + std::to_string(o.channels), "expected 1 to 64 channels (0: NCCL's default)");
  if (o.qps < 1 || o.qps > 128) throw common::InputError("--qps " + std::to_string(o.qps), "expected 1 to 128 QPs");
  if (o.max_iterations < 1) throw common::InputError("--max-iterations", "expected at least 1");
  // What the logs' runs share. A CSV of cases gives it per row (its columns); a trace's collectives run as NCCL
  // chooses, each on its own communicator, and only --qps and --nccl-version apply to its replay.
  const std::pair<const char*, bool> log_options[] = {
      {"--op", !o.op.empty()},          {"--ranks", o.ranks != 0},    {"--algo", !o.algo.empty()},
      {"--proto", !o.proto.empty()},    {"--channels", o.channels != 0}, {"--qps", o.qps != 1},
      {"--nccl-version", !o.nccl_version.empty()}};
  for (auto [name, given] : log_options) {
    const bool replay_option = std::string_view(name) == "--qps" || std::string_view(name) == "--nccl-version";
    if (given && (!o.cases.empty() || (!o.traces.empty() && !replay_option)))
      throw common::InputError(name, std::string("says how the --nccl-tests logs ran; ") +
                                         (!o.cases.empty() ? "--cases gives it per row (columns algo, proto, channels, "
                                                             "qps, nccl_version)"
                                                           : "a trace's collectives run with NCCL's own choices") +
                                         ": leave " + name + " out");
  }
  auto base = models::FabricConfig::from_preset_or_file(o.topo);
  for (const auto& f : o.set_files) base.set_file(f);
  for (const auto& s : o.sets) base.set_assignment(s);
  std::vector<analysis::Measurement> ms;
  if (!o.logs.empty())
    read_logs(o, base, ms);
  else if (!o.cases.empty())
    read_cases(o, ms);

  analysis::CalibrateOptions co;
  if (o.fit.empty() && o.traces.empty())
    for (const char* k : kDefaultParams) co.params.push_back(analysis::default_param(*models::find_key(k)));
  if (o.fit.empty() && !o.traces.empty())
    for (const char* k : kDefaultTraceParams) co.params.push_back(analysis::default_param(*models::find_key(k)));
  for (const auto& f : o.fit) co.params.push_back(fit_param(f));
  co.holdout = o.holdout;
  using By = analysis::CalibrateOptions::HoldoutBy;
  if (o.holdout_by == "size") co.holdout_by = By::Size;
  else if (o.holdout_by == "collective") co.holdout_by = By::Collective;
  else if (o.holdout_by == "source") co.holdout_by = By::Source;
  else throw common::InputError("--holdout-by " + o.holdout_by, "expected size, collective or source");
  co.seed = o.seed;
  co.fit.max_iterations = o.max_iterations;
  if (isatty(2))  // progress on a terminal: a fit from a trace replays it for every evaluation
    co.fit.progress = [](int it, double rss, int evals) {
      std::fprintf(stderr, "\r# iteration %d: sum of squares %.6g after %d evaluations   ", it, rss, evals);
      std::fflush(stderr);
    };
  std::FILE* notes = o.json ? stderr : stdout;
  analysis::Calibration cal;
  if (o.traces.empty()) {
    std::fprintf(notes, "# collemu calibrate: %zu measurement(s); fitting %zu parameter(s)\n", ms.size(),
                 co.params.size());
    std::fflush(notes);
    cal = analysis::calibrate(base, ms, co);
  } else {
    const traces::Trace t = read_job_trace(o.traces, "auto", o.fill_missing);
    analysis::TraceReplay how;
    how.placement = from_option("--placement", o.placement, [&] { return models::parse_placement(o.placement); });
    if (!(o.compute_scale > 0) || !std::isfinite(o.compute_scale))
      throw common::InputError("--compute-scale " + std::to_string(o.compute_scale), "expected a factor > 0");
    how.compute_scale = o.compute_scale;
    how.qps = o.qps;
    if (!o.nccl_version.empty())
      how.nccl_minor = from_option("--nccl-version", o.nccl_version,
                                   [&] { return collectives::parse_nccl_minor(o.nccl_version); });
    // Exact (run's default 2e-4 would move predictions by steps as large as the fit's finite differences).
    how.finish_tolerance = 0;
    std::fprintf(notes, "# collemu calibrate: %s, %u ranks; fitting %zu parameter(s) by replaying it\n",
                 t.source.c_str(), t.world_size, co.params.size());
    std::fflush(notes);
    cal = analysis::calibrate_trace(base, t, how, co, ms);
  }
  if (co.fit.progress) std::fprintf(stderr, "\r%70s\r", "");
  const analysis::FitResult& fit = cal.fit;
  if (!fit.converged)
    throw common::UserError("the fit did not converge in " + std::to_string(o.max_iterations) +
                            " iterations (sum of squares " + std::to_string(fit.rss) + " from " +
                            std::to_string(fit.start_rss) + "); give --max-iterations more, or fewer parameters "
                            "(--fit)");
  for (std::size_t j = 0; j < co.params.size(); ++j)
    if (fit.at_bound[j])
      std::fprintf(stderr, "collemu: warning: %s is held at its %s bound: the measurements want a value beyond it; widen "
                   "--fit %s=LOWER:UPPER if such a value is physical\n", co.params[j].name.c_str(),
                   fit.at_bound[j] < 0 ? "lower" : "upper", co.params[j].name.c_str());
  for (const auto& [a, b] : fit.confounded)
    std::fprintf(stderr, "collemu: warning: %s and %s cannot be told apart by these measurements (correlation %.3f): fit one "
                 "of them (--fit), or add measurements that move them differently\n", co.params[a].name.c_str(),
                 co.params[b].name.c_str(), fit.correlation(a, b));

  auto stats_json = [&](bool held, bool after) {
    const auto s = analysis::error_stats(ms, cal.points, held, after);
    return nlohmann::json{{"points", s.n}, {"median_abs", s.median_abs}, {"p90_abs", s.p90_abs},
                          {"max_abs", s.max_abs}, {"mean_signed", s.mean_signed}};
  };
  std::string header = "# collemu calibrate: fitted on " + std::to_string(ms.size()) + " measurements (";
  header += !o.logs.empty() ? std::to_string(o.logs.size()) + " nccl-tests outputs"
            : !o.cases.empty() ? o.cases : "the measured times of " + traces::join_paths(o.traces);
  header += "), " + std::to_string(cal.held_groups.size()) + " group(s) held out; fabric " + o.topo + "\n";
  if (!o.out.empty()) common::write_file_atomically(o.out, analysis::overlay_yaml(co.params, fit, header));

  if (o.json) {
    nlohmann::json params = nlohmann::json::array();
    for (std::size_t j = 0; j < co.params.size(); ++j) {
      const auto J = static_cast<Eigen::Index>(j);
      params.push_back({{"key", co.params[j].name},
                        {"start", cal.start[j]},
                        {"value", fit.value[J]},
                        {"std_error", std::isfinite(fit.std_error[J]) ? nlohmann::json(fit.std_error[J]) : nullptr},
                        {"lower", co.params[j].lower},
                        {"upper", co.params[j].upper},
                        {"at_bound", fit.at_bound[j] < 0 ? "lower" : fit.at_bound[j] > 0 ? "upper" : ""},
                        {"determined", static_cast<bool>(fit.determined[j])}});
    }
    nlohmann::json confounded = nlohmann::json::array();
    for (const auto& [a, b] : fit.confounded) confounded.push_back({co.params[a].name, co.params[b].name});
    nlohmann::json points = nlohmann::json::array();
    for (std::size_t i = 0; i < ms.size(); ++i)
      points.push_back({{"source", ms[i].source}, {"group", ms[i].group}, {"held_out", cal.points[i].held_out},
                        {"op", ms[i].kind == "span" ? "span" : common::to_string(ms[i].spec.op)}, {"bytes", ms[i].spec.bytes},
                        {"measured_s", ms[i].time_s}, {"before_s", cal.points[i].before_s},
                        {"after_s", cal.points[i].after_s}});
    const nlohmann::json out = {
        {"parameters", params},
        {"confounded", confounded},
        {"iterations", fit.iterations},
        {"evaluations", fit.evaluations},
        {"rss", fit.rss},
        {"held_out_groups", cal.held_groups},
        {"error", {{"fitted", {{"before", stats_json(false, false)}, {"after", stats_json(false, true)}}},
                   {"held_out", {{"before", stats_json(true, false)}, {"after", stats_json(true, true)}}}}},
        {"points", points}};
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::printf("# %d iterations, %d evaluations of the measurements; held out: %s\n", fit.iterations, fit.evaluations,
              cal.held_groups.empty() ? "none" : "");
  for (const auto& g : cal.held_groups) std::printf("#   %s\n", g.c_str());
  std::printf("\n%-24s %12s %12s %12s %22s  %s\n", "parameter", "start", "fitted", "+/-", "bounds", "note");
  for (std::size_t j = 0; j < co.params.size(); ++j) {
    const auto J = static_cast<Eigen::Index>(j);
    const models::KeySpec& k = *models::find_key(co.params[j].name);
    const std::string err = fit.at_bound[j] || !fit.determined[j] || !std::isfinite(fit.std_error[J])
                                ? "-" : shown(k, fit.std_error[J]);
    std::string note = fit.at_bound[j] ? std::string("held at its ") + (fit.at_bound[j] < 0 ? "lower" : "upper") +
                                             " bound"
                       : !fit.determined[j] ? "not determined by these measurements" : "";
    for (const auto& [a, b] : fit.confounded)
      if (a == static_cast<int>(j) || b == static_cast<int>(j))
        note += (note.empty() ? "" : "; ") + std::string("cannot be told apart from ") +
                co.params[a == static_cast<int>(j) ? b : a].name;
    std::printf("%-24s %12s %12s %12s %22s  %s\n", co.params[j].name.c_str(), shown(k, cal.start[j]).c_str(),
                shown(k, fit.value[J]).c_str(), err.c_str(),
                (shown(k, co.params[j].lower) + ".." + shown(k, co.params[j].upper)).c_str(), note.c_str());
  }
  std::printf("\nerror = measured time / predicted time - 1 (a collective's: predicted busbw / measured busbw - 1; "
              "positive: optimistic), before -> after the fit\n");
  std::printf("%-10s %6s %20s %20s %20s %20s\n", "part", "points", "median |error|", "p90 |error|", "max |error|",
              "mean error");
  for (bool held : {false, true}) {
    const auto b = analysis::error_stats(ms, cal.points, held, false), a = analysis::error_stats(ms, cal.points, held, true);
    if (!b.n) continue;
    auto both = [](double x, double y) { return signed_percent(x).substr(1) + " -> " + signed_percent(y).substr(1); };
    std::printf("%-10s %6d %20s %20s %20s %20s\n", held ? "held out" : "fitted", b.n, both(b.median_abs, a.median_abs).c_str(),
                both(b.p90_abs, a.p90_abs).c_str(), both(b.max_abs, a.max_abs).c_str(),
                (signed_percent(b.mean_signed) + " -> " + signed_percent(a.mean_signed)).c_str());
  }
  if (!o.out.empty()) std::printf("\n# wrote %s: apply it with --set-file %s (run, coll, sweep)\n", o.out.c_str(), o.out.c_str());
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto o = std::make_shared<CalibrateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Fit fabric keys (achieved NIC and NVLink shares, extra latencies, compute time) to measured "
                   "collective times (nccl-tests outputs, a CSV of cases, or a trace's measured times), report the error "
                   "before and after on the fitted and the held-out measurements, and write the fitted keys as an "
                   "overlay for --set-file.");
  cmd->add_option("--nccl-tests", o->logs, "nccl-tests outputs (all_reduce_perf ... > LOG) of the machine --topo "
                  "describes (repeatable)")->check(CLI::ExistingFile);
  cmd->add_option("--cases", o->cases, "a CSV of measurements on several machines: group, op, ranks, bytes, time_us, "
                  "sets (key=value over --topo, space-separated), optional algo, proto, channels, qps, nccl_version")
      ->check(CLI::ExistingFile);
  cmd->add_option("--trace", o->traces, "a trace with measured times (Kineto NCCL kernels, Flight Recorder durations): "
                  "fitted by replaying it; its ops grouped by kind and size bucket, each rank's span apart")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--fill-missing", o->fill_missing, "--trace: a partial data-parallel job's missing ranks run a rank's "
                "program of the same communicators (as collemu validate)");
  cmd->add_option("--placement", o->placement, "--trace: the job's placement (as collemu run)")->capture_default_str();
  cmd->add_option("--compute-scale", o->compute_scale, "--trace: every compute time times this (as collemu run)");
  cmd->add_option("--topo", o->topo, "preset or fabric file of the measured machine")->capture_default_str();
  cmd->add_option("--set", o->sets, "override a fabric key (repeatable)");
  cmd->add_option("--set-file", o->set_files, "an overlay of fabric keys, applied before --set (repeatable)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--op", o->op, "the collective of the logs, when they do not name their program");
  cmd->add_option("--ranks", o->ranks, "ranks of the logs' runs (default: their '# Rank' lines, else building.gpus)");
  cmd->add_option("--algo", o->algo, "NCCL_ALGO the logs ran with");
  cmd->add_option("--proto", o->proto, "NCCL_PROTO the logs ran with");
  cmd->add_option("--channels", o->channels, "channels the logs ran with (NCCL_MIN_CTAS)");
  cmd->add_option("--qps", o->qps, "NCCL_IB_QPS_PER_CONNECTION the logs or the trace ran with");
  cmd->add_option("--nccl-version", o->nccl_version, "the NCCL version the logs or the trace ran with (default 2.28)");
  cmd->add_option("--fit", o->fit, "a key to fit, KEY or KEY=LOWER:UPPER (repeatable; default nic.efficiency, "
                  "scaleup.efficiency, nccl.extra_latency, nccl.extra_hop_latency, and gpu.compute_time from a trace; shares "
                  "20%:100%, gpu.compute_time 25%:400%, durations 0us:2ms)");
  cmd->add_option("--holdout", o->holdout, "share of the groups (a log's size bucket of a factor 4, a case's group) "
                  "held out of the fit and reported apart")->capture_default_str();
  cmd->add_option("--holdout-by", o->holdout_by, "what is held out whole: size (a log's collective in one size bucket "
                  "of a factor 4; a case's group), collective (a log's collective, a case's op, a trace's kind) or "
                  "source (a log, a case's group)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "which groups are held out")->capture_default_str();
  cmd->add_option("--max-iterations", o->max_iterations, "iterations of the fit before it is called not converged")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "write the fitted keys here (YAML overlay for --set-file), atomically");
  cmd->add_flag("--json", o->json, "parameters, errors and every point as JSON");
  cmd->callback([o] { run(*o); });
}

}  // namespace collemu::cli
