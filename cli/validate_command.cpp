#include "cli/validate_command.hpp"

#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "analysis/validate.hpp"
#include "cli/options.hpp"
#include "cli/scenario.hpp"

namespace collemu::cli {

namespace {

struct ValidateOptions {
  RunOptions run;
  std::string pairs;
};

std::string us(double s) {
  char t[32];
  std::snprintf(t, sizeof t, "%.1f", s * 1e6);
  return t;
}

void run(ValidateOptions& v) {
  RunOptions& o = v.run;
  if (o.traces.empty())
    throw common::InputError("--trace", "expected the trace to validate (files with measured times: Kineto JSON, "
                             "Flight Recorder dumps, Chakra ET, or a collemu .h5 converted from them)");
  if (!o.jobs.empty()) throw common::InputError("--job", "validate compares one job with its measurements; give --trace");
  o.record_measured = true;
  check_output_file("--out", v.pairs);
  o.quiet = o.quiet || o.json;
  RunResult r;
  run_scenario(o, r);
  const traces::Trace& t = r.traces.front();
  const analysis::Validation val = analysis::compare_measured(t, r.rep);
  if (!v.pairs.empty()) analysis::write_validation_h5(v.pairs, val, t.source, o.topo);
  if (o.json) {
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : val.groups)
      groups.push_back({{"label", g.label}, {"n", g.n}, {"median_measured_s", g.median_measured_s},
                        {"median_predicted_s", g.median_predicted_s}, {"median_signed", g.median_signed},
                        {"median_abs", g.median_abs}, {"p90_abs", g.p90_abs}, {"max_abs", g.max_abs}});
    nlohmann::json spans = nlohmann::json::array();
    for (const auto& s : val.spans)
      spans.push_back({{"rank", s.rank}, {"ops", s.ops}, {"measured_s", s.measured_s}, {"predicted_s", s.predicted_s}});
    std::cout << nlohmann::json{{"trace", t.source}, {"topo", o.topo}, {"ranks", t.world_size},
                                {"measured_ranks", analysis::measured_ranks(t).size()}, {"ops", val.ops.size()},
                                {"step_time_s", r.rep.jobs.front().step_time_s}, {"groups", groups}, {"spans", spans}}
                     .dump(2)
              << "\n";
    return;
  }
  std::printf("collemu validate: %s\n  on %s, %u ranks (%zu with measured times), %zu measured ops\n\n",
              t.source.c_str(), o.topo.c_str(), t.world_size, analysis::measured_ranks(t).size(), val.ops.size());
  std::printf("error = measured time / predicted time - 1 (positive: collemu optimistic)\n");
  std::printf("%-28s %6s %14s %14s %10s %10s %10s %10s\n", "ops", "n", "measured us", "predicted us", "median",
              "median|e|", "p90|e|", "worst|e|");
  for (const auto& g : val.groups)
    std::printf("%-28s %6d %14s %14s %10s %10s %10s %10s\n", g.label.c_str(), g.n, us(g.median_measured_s).c_str(),
                us(g.median_predicted_s).c_str(), signed_percent(g.median_signed).c_str(), signed_percent(g.median_abs).substr(1).c_str(),
                signed_percent(g.p90_abs).substr(1).c_str(), signed_percent(g.max_abs).substr(1).c_str());
  std::printf("\n('span': each measured rank from its first observed op's start to its last one's end, against the "
              "replay's span over the same ops; medians over the group)\n");
  if (!v.pairs.empty()) std::printf("wrote %s (collemu-plot validate %s -o DIR plots it)\n", v.pairs.c_str(), v.pairs.c_str());
}

}  // namespace

void add_validate_command(CLI::App& app) {
  auto v = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate", "Replay a trace that carries measured times on a fabric that describes its machine and compare each "
                  "measured collective and receive, and each rank's span, with the replay: per collective kind "
                  "and size bucket, median, p90 and worst error.");
  add_scenario_options(cmd, v->run);
  cmd->add_flag("--fill-missing", v->run.fill_missing,
                "a partial job (one Kineto file of two): the missing ranks run the program of a rank of the same "
                "communicators (data-parallel symmetry, stated in the output); they have no measured times");
  cmd->add_option("--out", v->pairs, "write every pair (measured, predicted) and the groups to this HDF5 file");
  cmd->add_flag("--json", v->run.json, "the groups and spans as one JSON object");
  cmd->add_flag("-q,--quiet", v->run.quiet, "no progress bar");
  cmd->callback([v] { run(*v); });
}

}  // namespace collemu::cli
