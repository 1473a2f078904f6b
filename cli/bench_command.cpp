#include "cli/bench_command.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.hpp"
#include "models/solver/completion.hpp"
#include "models/solver/rate_solver.hpp"
#include "models/solver_instances.hpp"
#ifdef COLLEMU_HAVE_SIMGRID
#include "models/solver/simgrid_peer.hpp"
#endif

namespace collemu::cli {

namespace {

struct SolverBenchOptions {
  unsigned k = 16;
  std::string solver = "cpu";
  bool completion = false;
  bool simgrid = false;
  bool json = false;
  unsigned seed = 1;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024.0;
}

void run_solver_bench(const SolverBenchOptions& o) {
  auto solver = models::solver::make_rate_solver(o.solver);
  auto t = std::chrono::steady_clock::now();
  auto inst = models::fat_tree_all_to_all(o.k, o.seed);
  const double build_s = seconds_since(t);
  std::vector<double> rates;
  // The first solve also pays the process's page faults for the solver's arrays; the emulator re-solves with the
  // same solver object, so solve_s is the median of three further solves.
  t = std::chrono::steady_clock::now();
  solver->solve(inst.problem, rates);
  const double first_solve_s = seconds_since(t);
  std::vector<double> warm;
  for (int i = 0; i < 3; ++i) {
    t = std::chrono::steady_clock::now();
    solver->solve(inst.problem, rates);
    warm.push_back(seconds_since(t));
  }
  std::sort(warm.begin(), warm.end());
  const double solve_s = warm[1];
  const std::string certificate = models::solver::check_max_min(inst.problem, rates);
  const std::set<double> distinct(rates.begin(), rates.end());
  nlohmann::json j = {{"solver", solver->name()},
                      {"fat_tree_k", o.k},
                      {"flows", inst.problem.num_flows()},
                      {"entries", inst.problem.num_entries()},
                      {"links", inst.problem.num_links()},
                      {"distinct_rates", distinct.size()},
                      {"instance_build_s", build_s},
                      {"first_solve_s", first_solve_s},
                      {"solve_s", solve_s},
                      {"rounds", solver->stats().rounds},
                      {"variables", solver->stats().variables},
                      {"max_min_certificate", certificate.empty() ? "ok" : certificate},
                      {"problem_bytes_per_entry",
                       static_cast<double>(inst.problem.memory_bytes()) / static_cast<double>(inst.problem.num_entries())},
                      {"bytes_per_entry", static_cast<double>(inst.problem.memory_bytes() + solver->memory_bytes()) /
                                              static_cast<double>(inst.problem.num_entries())}};
  {
    // 1,000 single-flow completions, re-solved incrementally: the fastest flows first, as they would finish when
    // all flows carry the same bytes (ties by flow index).
    std::vector<models::solver::FlowIndex> order(inst.problem.num_flows());
    for (models::solver::FlowIndex f = 0; f < order.size(); ++f) order[f] = f;
    const std::size_t events = std::min<std::size_t>(1000, order.size() - 1);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(events), order.end(),
                      [&](auto a, auto b) { return rates[a] != rates[b] ? rates[a] > rates[b] : a < b; });
    std::vector<double> after = rates;
    t = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < events; ++i) solver->remove_flows(inst.problem, {&order[i], 1}, after);
    const double incremental_s = seconds_since(t) / static_cast<double>(events);
    j["incremental_events"] = events;
    j["incremental_event_s"] = incremental_s;
    j["full_over_incremental"] = solve_s / incremental_s;
  }
  if (o.completion || o.simgrid) {
    // Every flow sends the same 1 MB; rates are re-solved (incrementally) at each completion.
    std::vector<double> sizes(inst.problem.num_flows(), 1e6);
    t = std::chrono::steady_clock::now();
    auto run = models::solver::run_to_completion(*solver, inst.problem, sizes);
    const double ours_s = seconds_since(t);
    j["to_completion_s"] = ours_s;
    j["to_completion_solves"] = run.solves;
    if (o.simgrid) {
#ifdef COLLEMU_HAVE_SIMGRID
      auto peer = models::solver::simgrid_run_to_completion(inst.problem, sizes);
      double worst = 0;
      for (std::size_t f = 0; f < sizes.size(); ++f)
        worst = std::max(worst, std::abs(run.finish_s[f] - peer.finish_s[f]) / peer.finish_s[f]);
      j["simgrid_to_completion_s"] = peer.run_wall_s;
      j["simgrid_over_ours"] = peer.run_wall_s / ours_s;
      j["max_rel_diff_vs_simgrid"] = worst;
#else
      throw common::InputError("--simgrid", "this build has no SimGrid (apt-get install libsimgrid-dev, rebuild)");
#endif
    }
  }
  j["peak_rss_bytes"] = peak_rss_bytes();
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  for (auto it = j.begin(); it != j.end(); ++it) std::cout << it.key() << ": " << it.value().dump() << "\n";
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks of collemu's parts on reference instances");
  bench->require_subcommand(1);
  auto o = std::make_shared<SolverBenchOptions>();
  CLI::App* solver = bench->add_subcommand(
      "solver", "The rate solver on the all-to-all of a k-ary fat-tree (k^3/4 hosts, one random ECMP path per "
                "flow, unit capacities): one full solve, checked by the max-min certificate");
  solver->add_option("--fat-tree-k", o->k, "fat-tree radix k (even); 16 gives 1,047,552 flows")->capture_default_str();
  solver->add_option("--solver", o->solver, "backend: cpu (reference) or cpu-rounds")->capture_default_str();
  solver->add_option("--seed", o->seed, "seed of the random ECMP choices")->capture_default_str();
  solver->add_flag("--to-completion", o->completion,
                   "also run every flow (1 MB each) to completion, re-solving at each completion");
  solver->add_flag("--simgrid", o->simgrid,
                   "also run the same flows to completion in SimGrid 3.32 (one host pair per flow) and compare");
  solver->add_flag("--json", o->json, "print one JSON object");
  solver->callback([o] { run_solver_bench(*o); });
}

}  // namespace collemu::cli
