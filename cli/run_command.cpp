#include "cli/run_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "cli/scenario.hpp"
#include "collectives/coll.hpp"
#include "common/error.hpp"
#include "common/units.hpp"
#include "analysis/results.hpp"
#include "analysis/summary.hpp"
#include "analysis/timeline.hpp"
#include "emulator/replay.hpp"
#include "models/network.hpp"
#include "models/placement.hpp"
#include "traces/generate.hpp"
#include "traces/read_trace.hpp"

namespace collemu::cli {

namespace {

// A collective of no bytes carries nothing: no link binds it.
const char* tier_of(const analysis::CollGroup& g) { return g.bytes > 0 ? models::to_string(g.binding_tier) : "none"; }

void run(const RunOptions& o) {
  check_output_file("--out", o.out);
  check_output_file("--timeline", o.timeline);
  RunResult r;
  run_scenario(o, r);
  const emulator::ReplayReport& rep = r.rep;
  const analysis::StepSummary& sum = r.sum;
  const std::vector<emulator::Job>& jobs = r.jobs;
  const std::vector<models::PlacementSpec>& placements = r.placements;
  const traces::Trace& trace = r.traces.front();
  const models::PlacementSpec& placement = placements.front();
  const double wall = r.wall_s;
  const emulator::JobReport& jr = rep.jobs.front();
  const double step = jr.step_time_s;
  // A failure timed after every job ended changed nothing: say so, not just print the healthy step.
  double last_end = 0;
  for (const auto& j : rep.jobs) last_end = std::max(last_end, j.step_time_s);
  for (const auto& f : r.failures)
    if (f.at_s >= last_end)
      std::fprintf(stderr, "collemu: warning: --fail-at: %s fails at %s, after the step ended at %s: it changed "
                           "nothing\n", f.spec.c_str(), seconds(f.at_s).c_str(), seconds(last_end).c_str());
  if (!o.out.empty())
    analysis::write_results_h5(o.out, rep, sum, jobs,
                               {o.topo, models::to_string(placement), o.solver, o.finish_tolerance});
  if (!o.timeline.empty()) analysis::write_timeline(o.timeline, rep, sum, jobs);
  const double bag_bytes = sum.bag_bytes;
  auto breakdown_json = [](const emulator::RankTimes& t) {
    return nlohmann::json{{"compute_s", t.compute_s}, {"exposed_comm_s", t.exposed_comm_s},
                          {"bubble_s", t.bubble_s},   {"wait_s", t.wait_s},
                          {"end_s", t.end_s},         {"caused_wait_s", t.caused_wait_s}};
  };
  if (o.json) {
    nlohmann::json j;
    j["trace"] = trace.source;
    j["topo"] = o.topo;
    j["placement"] = models::to_string(placement);
    j["ranks"] = trace.world_size;
    j["step_time_s"] = step;
    j["compute_s"] = jr.critical.compute_s;
    j["exposed_comm_s"] = jr.critical.exposed_comm_s;
    j["wait_s"] = jr.critical.wait_s;
    j["bubble_s"] = jr.critical.bubble_s;
    j["critical_rank"] = jr.critical_rank;
    j["critical"] = breakdown_json(jr.critical);
    j["mean"] = breakdown_json(jr.mean);
    j["bag_bytes"] = bag_bytes;
    nlohmann::json jj = nlohmann::json::array();
    for (std::size_t k = 0; k < rep.jobs.size(); ++k) {
      const auto& x = rep.jobs[k];
      jj.push_back({{"name", x.name}, {"trace", jobs[k].trace->source}, {"ranks", jobs[k].trace->world_size},
                    {"placement", models::to_string(placements[k])}, {"step_time_s", x.step_time_s},
                    {"critical_rank", x.critical_rank}, {"critical", breakdown_json(x.critical)},
                    {"mean", breakdown_json(x.mean)}});
    }
    j["jobs"] = jj;
    nlohmann::json tj = nlohmann::json::object();
    for (const auto& t : sum.tiers)
      tj[models::to_string(t.tier)] = {{"bytes", t.bytes}, {"utilisation", t.utilisation}};
    j["tiers"] = tj;
    nlohmann::json cj = nlohmann::json::array();
    for (const auto& g : sum.slowest)
      cj.push_back({{"kind", common::to_string(g.kind)}, {"ranks", g.ranks}, {"bytes", g.bytes},
                    {"count", g.count}, {"max_s", g.max_s}, {"mean_s", g.mean_s},
                    {"mean_busbw_GBps", g.mean_busbw_Bps / 1e9}, {"algo", g.algo}, {"proto", g.proto},
                    {"binding_tier", tier_of(g)}});
    j["collectives"] = cj;
    j["collective_count"] = rep.colls.size();
    j["flows"] = rep.flows;
    j["rerouted_flows"] = rep.rerouted_flows;
    j["reused_collectives"] = rep.reused;
    j["events"] = rep.replay_events;
    j["engine"] = {{"events", rep.engine.events},         {"full_solves", rep.engine.full_solves},
                   {"shared_solves", rep.engine.shared_solves}, {"incremental_solves", rep.engine.incremental_solves},
                   {"max_sending", rep.engine.max_sending}, {"max_component", rep.engine.max_component}};
    if (o.finish_tolerance > 0) j["finish_tolerance"] = o.finish_tolerance;  // an approximation: say so
    j["wall_s"] = wall;
    // Names from any file: bytes that are not UTF-8 are shown replaced, never thrown.
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  const emulator::RankTimes& c = jr.critical;
  auto pct = [&](double x) { return step > 0 ? 100 * x / step : 0.0; };
  std::printf("collemu run: %s\n", trace.source.c_str());
  std::printf("  on %s, %u ranks placed %s, solver %s", o.topo.c_str(), trace.world_size,
              models::to_string(placement).c_str(), o.solver.c_str());
  if (o.finish_tolerance > 0) std::printf(", finish tolerance %g (an approximation)", o.finish_tolerance);
  std::printf("\n\n");
  std::printf("step time        %s\n", seconds(step).c_str());
  if (rep.jobs.size() > 1)
    for (std::size_t k = 0; k < rep.jobs.size(); ++k)
      std::printf("  job %-10s %s (%u ranks, %s; %s)\n", rep.jobs[k].name.c_str(), seconds(rep.jobs[k].step_time_s).c_str(),
                  jobs[k].trace->world_size, models::to_string(placements[k]).c_str(), jobs[k].trace->source.c_str());
  // One row per rank kind, each cell "share time" under its header.
  auto row = [&](const std::string& label, const emulator::RankTimes& t) {
    std::string line = "  " + label + " ";  // a long rank number pushes the row right rather than being cut
    if (line.size() < 22) line.resize(22, ' ');
    for (double s : {t.compute_s, t.exposed_comm_s, t.bubble_s, t.wait_s}) {
      char cell[48];
      std::snprintf(cell, sizeof cell, "%5.1f%% %-12s", pct(s), seconds(s).c_str());  // 19 wide, as the headers
      line += cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  };
  std::printf("%-22s%-19s%-19s%-19s%s\n", "breakdown", "compute", "exposed comm", "bubble", "waiting");
  row("critical rank " + std::to_string(jr.critical_rank), c);
  row("mean of ranks", jr.mean);
  std::printf("\nslowest collectives (the same collective of every group counted once)\n");
  std::printf("  %-14s %6s %10s %7s %11s %11s %9s %-5s %-6s %s\n", "kind", "ranks", "size", "count", "max", "mean",
              "busbw", "algo", "proto", "binding tier");
  for (std::size_t i = 0; i < sum.slowest.size() && static_cast<int>(i) < o.top; ++i) {
    const analysis::CollGroup& g = sum.slowest[i];
    std::printf("  %-14s %6d %10s %7zu %11s %11s %6.1f GB/s %-5s %-6s %s\n", common::to_string(g.kind), g.ranks,
                bytes_text(g.bytes).c_str(), g.count, seconds(g.max_s).c_str(), seconds(g.mean_s).c_str(),
                g.mean_busbw_Bps / 1e9, g.algo.c_str(), g.proto.c_str(), tier_of(g));
  }
  std::printf("\nbusiest tiers (bytes carried over capacity x step time)\n");
  std::vector<analysis::TierUse> order;
  for (const auto& t : sum.tiers)
    if (t.bytes > 0) order.push_back(t);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.utilisation > b.utilisation; });
  for (const auto& t : order)
    std::printf("  %-13s %10s %6.2f%%\n", models::to_string(t.tier), bytes_text(t.bytes).c_str(), 100 * t.utilisation);
  std::printf("busiest links\n");
  for (std::size_t i = 0; i < sum.busiest.size() && static_cast<int>(i) < o.top; ++i)
    std::printf("  %-48s %6.2f%%\n", sum.busiest[i].name.c_str(), 100 * sum.busiest[i].utilisation);
  std::printf("\nbytes over the BAG  %s\n", bytes_text(bag_bytes).c_str());
  std::printf("replayed %zu collectives and transfers, %zu flows, %zu events in %.1f s\n", rep.colls.size(), rep.flows,
              rep.replay_events, wall);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Replay one training step on a fabric and predict its time: the step time, its breakdown (compute, exposed "
             "communication, bubble, waiting), the slowest collectives, the busiest tiers and links, the bytes over the "
             "BAG. Without --trace: the embedded default job on the prometheus preset.");
  add_scenario_options(cmd, *o);
  cmd->add_option("--top", o->top, "rows in the lists of slowest collectives and busiest links")->capture_default_str();
  cmd->add_flag("--json", o->json, "one JSON object (step_time_s, compute_s, exposed_comm_s, wait_s, bubble_s, bag_bytes, ...)");
  cmd->add_option("--out", o->out, "results.h5: the step, every collective, every rank, tiers over time (docs/results-format.md)");
  cmd->add_option("--timeline", o->timeline, "timeline.json for ui.perfetto.dev: ranks' ops, tier utilisation over time");
  cmd->add_option("--timeline-ranks", o->timeline_ranks,
                  "ranks with tracks in the timeline, of every job: the first rank of each program (equivalent ranks), "
                  "then the next ones, up to this many")->capture_default_str();
  cmd->add_flag("--fill-missing", o->fill_missing,
                "a partial job (one Kineto file of two): the missing ranks run the program of a rank of the same "
                "communicators (data-parallel symmetry, stated on stderr), as validate does");
  cmd->add_flag("-q,--quiet", o->quiet, "no progress bar");
  cmd->callback([o] { run(*o); });
}

}  // namespace collemu::cli
