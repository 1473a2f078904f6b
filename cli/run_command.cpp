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

struct RunOptions {
  std::string topo = "prometheus";
  std::vector<std::string> sets, fails, set_files, fail_at;
  std::vector<std::string> traces;
  std::vector<std::string> jobs;
  std::string format = "auto";
  std::string placement;  // default: packed for a trace, spread for the embedded default
  std::string solver = "cpu", granularity = "pipelined";
  int qps = 1;
  double compute_scale = 1;
  double sm_contention = 1.0 / 132;
  std::vector<std::string> slow_ranks;
  int top = 5;
  std::string out, timeline;
  int timeline_ranks = 16;
  bool json = false, quiet = false;
};

// The embedded default (docs/replay.md): a Llama-like dense model on the whole prometheus preset, 32,768 GPUs: TP 8
// inside each NVLink domain, DP 4,096 (PP 1), 2 microbatches, gradients all-reduced in buckets overlapping the last
// backward; its NVLink domains spread over the preset's two buildings, so that NCCL's tree for the data-parallel
// all-reduce (NVLSTree, which NCCL's model picks here) crosses the BAG on about half its edges from every domain:
// about 408 TB/s up into the BAG per building at 1:1, against the 234 TB/s the BAG leaves a building at 7:1. A
// smaller job, or one with pipeline stages that reduce at different times, does not load the BAG enough to feel its
// ratio (docs/replay.md). The TP collectives inside NVLink domains do not cross it.
traces::LlmSpec default_spec() {
  traces::LlmSpec s;
  s.gpus = 32768;
  s.tp = 8;
  s.pp = 1;
  s.dp = 4096;
  // Llama 3 8B's shapes ("The Llama 3 Herd of Models", Table 3) with 4 of its 32 layers.
  s.layers = 4;
  s.hidden = 4096;
  s.ffn = 14336;
  s.heads = 32;
  s.kv_heads = 8;
  s.seq = 8192;
  s.microbatches = 2;
  s.dp_mode = traces::LlmSpec::DpMode::AllReduce;
  return s;
}

std::string seconds(double s) {
  char buf[64];
  if (s >= 1) std::snprintf(buf, sizeof buf, "%.3f s", s);
  else if (s >= 1e-3) std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  return buf;
}

std::string bytes_text(double b) {
  char buf[64];
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.2f kB", b / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

// "R=F": a slow rank and its compute factor.
std::pair<std::uint32_t, double> parse_slow_rank(const std::string& text) {
  const auto eq = text.find('=');
  try {
    if (eq == std::string::npos) throw std::invalid_argument("no =");
    std::size_t used = 0;
    const unsigned long long r = std::stoull(text.substr(0, eq), &used);
    // A rank above 2^32 would wrap onto another rank: refuse it (the replay names ranks beyond the job's).
    if (used != eq || text[0] == '-' || r > 0xFFFFFFFFull) throw std::invalid_argument("rank");
    const std::string f = text.substr(eq + 1);
    const double factor = std::stod(f, &used);
    if (used != f.size() || !(factor > 0) || !std::isfinite(factor)) throw std::invalid_argument("factor");
    return {static_cast<std::uint32_t>(r), factor};
  } catch (const std::logic_error&) {
    throw common::InputError("--slow-rank " + text, "expected RANK=FACTOR, e.g. 17=1.2 (rank 17 computes 20% slower)");
  }
}

void run(const RunOptions& o) {
  const auto wall0 = std::chrono::steady_clock::now();
  const auto solver = from_option("--solver", o.solver, [&] { return models::solver::rate_solver_factory(o.solver); });
  emulator::ReplayOptions ropt;
  ropt.solver = solver;
  ropt.granularity = from_option("--granularity", o.granularity,
                                 [&] { return collectives::parse_granularity(o.granularity); });
  if (o.qps < 1) throw common::InputError("--qps " + std::to_string(o.qps), "expected at least 1 QP per connection");
  ropt.qps = o.qps;
  if (!(o.sm_contention >= 0 && o.sm_contention <= 1))
    throw common::InputError("--sm-contention " + std::to_string(o.sm_contention),
                             "expected a share of the GPU per NCCL channel in [0, 1] (H100: 1/132 = 0.0076)");
  ropt.sm_share_per_channel = o.sm_contention;
  if (!(o.compute_scale > 0) || !std::isfinite(o.compute_scale))
    throw common::InputError("--compute-scale " + std::to_string(o.compute_scale), "expected a factor > 0");

  std::vector<std::pair<std::uint32_t, double>> slow_ranks;
  for (const auto& s : o.slow_ranks) slow_ranks.push_back(parse_slow_rank(s));

  bool known = o.format == "auto";
  for (const auto& f : traces::trace_formats()) known = known || o.format == f.name;
  if (!known)
    throw common::InputError("--format " + o.format, "unknown trace format; expected " + traces::trace_format_names());
  auto load = [&](const std::vector<std::string>& files) {
    traces::ReadReport report;
    traces::Trace t = traces::read_trace(files, o.format, &report);
    for (const auto& w : report.warnings) std::fprintf(stderr, "collemu: warning: %s\n", w.c_str());
    return t;
  };
  // The jobs: --trace (or the embedded default when there is no --job either), then every --job, placed in order on
  // the GPUs the jobs before them left free.
  struct JobSpec {
    std::string name, placement, option;
    std::vector<std::string> files;
  };
  std::vector<JobSpec> specs;
  if (!o.traces.empty() || o.jobs.empty()) specs.push_back({"job", o.placement, "--placement", o.traces});
  for (const auto& text : o.jobs) {
    // [NAME=]FILE[,FILE...][@PLACEMENT]
    JobSpec j;
    j.option = "--job " + text;
    std::string rest = text;
    if (const auto at = rest.rfind('@'); at != std::string::npos) {
      j.placement = rest.substr(at + 1);
      rest.resize(at);
    }
    if (const auto eq = rest.find('='); eq != std::string::npos) {
      j.name = rest.substr(0, eq);
      rest = rest.substr(eq + 1);
    }
    for (std::size_t pos = 0; pos <= rest.size();) {
      const auto comma = std::min(rest.find(',', pos), rest.size());
      if (comma > pos) j.files.push_back(rest.substr(pos, comma - pos));
      pos = comma + 1;
    }
    if (j.files.empty() || j.name.find_first_of(" \t") != std::string::npos)
      throw common::InputError(j.option, "expected [NAME=]FILE[,FILE...][@PLACEMENT]");
    for (const auto& f : j.files)
      if (::access(f.c_str(), R_OK) != 0) throw common::InputError(j.option, "cannot read " + f);
    if (j.name.empty()) j.name = "job" + std::to_string(specs.size());
    specs.push_back(std::move(j));
  }
  std::vector<traces::Trace> traces_store;
  traces_store.reserve(specs.size());
  for (auto& j : specs) {
    if (j.files.empty()) {
      traces_store.push_back(traces::generate_llm(default_spec()));
      traces_store.back().source = "the embedded default (Llama-like, 4 layers, 32,768 GPUs: TP 8, DP 4,096)";
      if (j.placement.empty()) j.placement = "spread";
    } else {
      traces_store.push_back(load(j.files));
      if (j.placement.empty()) j.placement = "packed";
    }
  }

  models::Fabric fabric = build_fabric_from_options(o.topo, o.sets, o.fails, o.set_files);
  // --fail-at TIME:TARGET: checked here against a copy of the fabric, so that the error names the option.
  for (const auto& text : o.fail_at) {
    const auto colon = text.find(':');
    emulator::ReplayOptions::TimedFailure f;
    if (colon == std::string::npos || colon + 1 == text.size())
      throw common::InputError("--fail-at " + text, "expected TIME:TARGET, e.g. 2ms:r0.bag0 or 150us:A->B");
    f.at_s = from_option("--fail-at", text, [&] { return common::parse_duration_s(text.substr(0, colon)); });
    f.spec = text.substr(colon + 1);
    from_option("--fail-at", text, [&] {
      models::Fabric probe = fabric;
      probe.fail(f.spec);
    });
    ropt.failures.push_back(std::move(f));
  }
  // With failures at a time, engine links are the fabric's own (no groups), so that the networks before and after a
  // failure number them alike.
  const models::Network net(fabric, collectives::payload_efficiency(), ropt.failures.empty());
  std::vector<emulator::Job> jobs;
  std::vector<std::uint8_t> taken(net.num_gpus(), 0);
  std::vector<models::PlacementSpec> placements;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const traces::Trace& t = traces_store[k];
    const JobSpec& j = specs[k];
    const std::string opt = j.option == "--placement" ? "--placement" : "--job";
    const std::string value = j.option == "--placement" ? j.placement : j.option.substr(6);
    placements.push_back(from_option(opt, value, [&] { return models::parse_placement_spec(j.placement); }));
    if (t.world_size > net.num_gpus())
      throw common::InputError(t.source, std::to_string(t.world_size) + " ranks but the fabric (" + o.topo + ") has " +
                                             std::to_string(net.num_gpus()) + " GPUs");
    emulator::Job job;
    job.name = j.name;
    job.trace = &t;
    job.compute_scale = o.compute_scale;
    if (k == 0) job.slow_ranks = slow_ranks;
    // A placement file's errors name the file and line; the others the option they came from.
    auto place = [&] { return models::place_job(fabric, static_cast<int>(t.world_size), placements.back(), taken); };
    job.gpus = placements.back().kind == models::Placement::File ? place() : from_option(opt, value, place);
    for (models::NodeId g : job.gpus)
      if (g < taken.size()) taken[g] = 1;
    jobs.push_back(std::move(job));
  }
  const traces::Trace& trace = traces_store.front();
  const models::PlacementSpec& placement = placements.front();

  const bool bar = !o.quiet && isatty(2);
  if (bar)
    ropt.progress = [&](const emulator::ReplayOptions::Progress& p) {
      const double frac = p.colls_total ? static_cast<double>(p.colls_done) / p.colls_total : 0;
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      const double eta = frac > 0 ? el * (1 - frac) / frac : 0;
      std::fprintf(stderr, "\r[%-30s] %5.1f%%  sim %s  collectives %zu/%zu  ETA %.0f s   ",
                   std::string(static_cast<std::size_t>(frac * 30), '#').c_str(), frac * 100,
                   seconds(p.sim_time_s).c_str(), p.colls_done, p.colls_total, eta);
      std::fflush(stderr);
    };
  if (!o.timeline.empty()) {
    if (o.timeline_ranks < 1)
      throw common::InputError("--timeline-ranks " + std::to_string(o.timeline_ranks), "expected at least 1 rank");
    // One rank per program first (ranks that share a program are equivalent as far as the trace goes), then in order.
    std::vector<std::uint8_t> seen(trace.programs.size(), 0), picked(trace.world_size, 0);
    for (std::uint32_t r = 0; r < trace.world_size && ropt.record_ranks.size() < static_cast<std::size_t>(o.timeline_ranks); ++r)
      if (!seen[trace.program_of_rank[r]]++) ropt.record_ranks.push_back(r), picked[r] = 1;
    for (std::uint32_t r = 0; r < trace.world_size && ropt.record_ranks.size() < static_cast<std::size_t>(o.timeline_ranks); ++r)
      if (!picked[r]) ropt.record_ranks.push_back(r);
  }
  const emulator::ReplayReport rep = emulator::replay(net, jobs, ropt);
  if (bar) std::fprintf(stderr, "\r%100s\r", "");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const emulator::JobReport& jr = rep.jobs.front();
  const double step = jr.step_time_s;

  const analysis::StepSummary sum = analysis::summarize_step(rep, net, std::max(o.top, 1000));
  if (!o.out.empty()) analysis::write_results_h5(o.out, rep, sum, jobs, {o.topo, models::to_string(placement), o.solver});
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
                    {"binding_tier", models::to_string(g.binding_tier)}});
    j["collectives"] = cj;
    j["collective_count"] = rep.colls.size();
    j["flows"] = rep.flows;
    j["rerouted_flows"] = rep.rerouted_flows;
    j["events"] = rep.replay_events;
    j["engine"] = {{"events", rep.engine.events},         {"full_solves", rep.engine.full_solves},
                   {"shared_solves", rep.engine.shared_solves}, {"incremental_solves", rep.engine.incremental_solves},
                   {"max_sending", rep.engine.max_sending}, {"max_component", rep.engine.max_component}};
    j["wall_s"] = wall;
    std::cout << j.dump(2) << "\n";
    return;
  }
  const emulator::RankTimes& c = jr.critical;
  auto pct = [&](double x) { return step > 0 ? 100 * x / step : 0.0; };
  std::printf("collemu run: %s\n", trace.source.c_str());
  std::printf("  on %s, %u ranks placed %s, solver %s\n\n", o.topo.c_str(), trace.world_size,
              models::to_string(placement).c_str(), o.solver.c_str());
  std::printf("step time        %s\n", seconds(step).c_str());
  if (rep.jobs.size() > 1)
    for (std::size_t k = 0; k < rep.jobs.size(); ++k)
      std::printf("  job %-10s %s (%u ranks, %s; %s)\n", rep.jobs[k].name.c_str(), seconds(rep.jobs[k].step_time_s).c_str(),
                  jobs[k].trace->world_size, models::to_string(placements[k]).c_str(), jobs[k].trace->source.c_str());
  std::printf("breakdown        %-14s %-14s %-14s %-14s\n", "compute", "exposed comm", "bubble", "waiting");
  std::printf("  critical rank %-5u %5.1f%% %-7s %5.1f%% %-7s %5.1f%% %-7s %5.1f%% %s\n", jr.critical_rank,
              pct(c.compute_s), seconds(c.compute_s).c_str(), pct(c.exposed_comm_s), seconds(c.exposed_comm_s).c_str(),
              pct(c.bubble_s), seconds(c.bubble_s).c_str(), pct(c.wait_s), seconds(c.wait_s).c_str());
  const emulator::RankTimes& m = jr.mean;
  std::printf("  mean of ranks  %5.1f%% %-7s %5.1f%% %-7s %5.1f%% %-7s %5.1f%% %s\n", pct(m.compute_s),
              seconds(m.compute_s).c_str(), pct(m.exposed_comm_s), seconds(m.exposed_comm_s).c_str(), pct(m.bubble_s),
              seconds(m.bubble_s).c_str(), pct(m.wait_s), seconds(m.wait_s).c_str());
  std::printf("\nslowest collectives (the same collective of every group counted once)\n");
  std::printf("  %-14s %6s %10s %7s %11s %11s %9s %-5s %-6s %s\n", "kind", "ranks", "size", "count", "max", "mean",
              "busbw", "algo", "proto", "binding tier");
  for (std::size_t i = 0; i < sum.slowest.size() && static_cast<int>(i) < o.top; ++i) {
    const analysis::CollGroup& g = sum.slowest[i];
    std::printf("  %-14s %6d %10s %7zu %11s %11s %6.1f GB/s %-5s %-6s %s\n", common::to_string(g.kind), g.ranks,
                bytes_text(g.bytes).c_str(), g.count, seconds(g.max_s).c_str(), seconds(g.mean_s).c_str(),
                g.mean_busbw_Bps / 1e9, g.algo.c_str(), g.proto.c_str(), models::to_string(g.binding_tier));
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
  cmd->add_option("--topo", o->topo, "preset (prometheus, llama3-24k, fat-tree) or a YAML/JSON fabric file")
      ->capture_default_str();
  cmd->add_option("--set", o->sets, "override a fabric key, e.g. --set bag.oversubscription=7:1 (repeatable)");
  cmd->add_option("--set-file", o->set_files,
                  "a YAML/JSON overlay of fabric keys (no preset:), applied before --set (repeatable)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--fail", o->fails, "fail a switch or a cable (A->B) first (repeatable)");
  cmd->add_option("--fail-at", o->fail_at,
                  "TIME:TARGET: fail a switch or cable at that time of the step, e.g. 2ms:r0.bag0; routes are computed "
                  "again and flows in flight go on over their new paths (repeatable)");
  cmd->add_option("--trace", o->traces, "the job's trace: files of one job, in any format `collemu trace` reads")
      ->check(CLI::ExistingFile);
  cmd->add_option("--job", o->jobs,
                  "[NAME=]FILE[,FILE...][@PLACEMENT]: another job on the same fabric, placed on the GPUs the jobs before "
                  "it left free (repeatable); its flows share links with the others' where their paths meet");
  cmd->add_option("--format", o->format, "trace format: " + traces::trace_format_names())->capture_default_str();
  cmd->add_option("--placement", o->placement,
                  "packed (rank i on GPU i; default for a trace), spread (the job's NVLink domains dealt over the "
                  "buildings; default for the embedded job), random[:SEED], or file:PATH (one GPU id or name per line, by rank)");
  cmd->add_option("--compute-scale", o->compute_scale, "every compute time times this (a faster GPU: < 1)")
      ->capture_default_str();
  cmd->add_option("--slow-rank", o->slow_ranks, "RANK=FACTOR: that rank computes FACTOR times slower (repeatable)");
  cmd->add_option("--sm-contention", o->sm_contention,
                  "share of a GPU's compute one NCCL channel moving data takes from the compute it overlaps (one CUDA "
                  "block per channel on H100's 132 SMs: 1/132; 0: none)")->capture_default_str();
  cmd->add_option("--qps", o->qps, "QPs per connection, as NCCL_IB_QPS_PER_CONNECTION")->capture_default_str();
  cmd->add_option("--granularity", o->granularity, "pipelined (a flow per ring edge), step (per ring step) or lockstep (a flow per ring channel, at its slowest edge)")->capture_default_str();
  cmd->add_option("--solver", o->solver, "rate solver backend: cpu or cuda")->capture_default_str();
  cmd->add_option("--top", o->top, "rows in the lists of slowest collectives and busiest links")->capture_default_str();
  cmd->add_flag("--json", o->json, "one JSON object (step_time_s, compute_s, exposed_comm_s, wait_s, bubble_s, bag_bytes, ...)");
  cmd->add_option("--out", o->out, "results.h5: the step, every collective, every rank, tiers over time (docs/results-format.md)");
  cmd->add_option("--timeline", o->timeline, "timeline.json for ui.perfetto.dev: ranks' ops, tier utilisation over time");
  cmd->add_option("--timeline-ranks", o->timeline_ranks,
                  "ranks with tracks in the timeline: the first rank of each program (equivalent ranks), then the "
                  "next ones, up to this many")->capture_default_str();
  cmd->add_flag("-q,--quiet", o->quiet, "no progress bar");
  cmd->callback([o] { run(*o); });
}

}  // namespace collemu::cli
