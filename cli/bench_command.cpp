#include "cli/bench_command.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "models/solver/benchmark.hpp"
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

void run_solver_bench(const SolverBenchOptions& o) {
  auto t = std::chrono::steady_clock::now();
  auto inst = models::fat_tree_all_to_all(o.k, o.seed);
  const double build_s = seconds_since(t);
  auto b = models::solver::benchmark_rate_solver(o.solver, inst.problem, o.completion || o.simgrid);
  nlohmann::json j = {{"solver", o.solver}, {"fat_tree_k", o.k}, {"instance_build_s", build_s},
                      {"max_min_certificate", b.certificate.empty() ? "ok" : b.certificate}};
  for (const auto& [name, value] : b.figures) j[name] = value;
  if (o.simgrid) {
#ifdef COLLEMU_HAVE_SIMGRID
    // The same flows (1 MB each) run to completion in SimGrid 3.32, in this process.
    const std::vector<double> sizes(inst.problem.num_flows(), 1e6);
    auto peer = models::solver::simgrid_run_to_completion(inst.problem, sizes);
    double worst = 0;
    for (std::size_t f = 0; f < sizes.size(); ++f)
      worst = std::max(worst, std::abs(b.completion.finish_s[f] - peer.finish_s[f]) / peer.finish_s[f]);
    j["simgrid_to_completion_s"] = peer.run_wall_s;
    j["simgrid_over_ours"] = peer.run_wall_s / j["to_completion_s"].get<double>();
    j["max_rel_diff_vs_simgrid"] = worst;
#else
    throw common::InputError("--simgrid", "this build has no SimGrid (apt-get install libsimgrid-dev, rebuild)");
#endif
  }
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
                "flow, unit capacities): full solves checked by the max-min certificate, incremental completions "
                "(fastest flows first, then random ones), memory; with --to-completion/--simgrid every flow run to "
                "completion, beside SimGrid");
  solver->add_option("--fat-tree-k", o->k, "fat-tree radix k (even); 16 gives 1,047,552 flows")->capture_default_str();
  std::string names;
  for (const auto& n : models::solver::rate_solver_names()) names += (names.empty() ? "" : ", ") + n;
  solver->add_option("--solver", o->solver, "backend of this build: " + names + " (cpu is the reference)")
      ->capture_default_str();
  solver->add_option("--seed", o->seed, "seed of the random ECMP choices")->capture_default_str();
  solver->add_flag("--to-completion", o->completion,
                   "also run every flow (1 MB each) to completion, re-solving at each completion");
  solver->add_flag("--simgrid", o->simgrid,
                   "also run the same flows to completion in SimGrid 3.32 (one host pair per flow) and compare");
  solver->add_flag("--json", o->json, "print one JSON object");
  solver->callback([o] { run_solver_bench(*o); });
}

}  // namespace collemu::cli
