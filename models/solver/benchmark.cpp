#include "models/solver/benchmark.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <set>

namespace collemu::models::solver {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

SolverBenchmark benchmark_rate_solver(const std::string& backend, const RateProblem& p, bool to_completion) {
  SolverBenchmark out;
  auto& fig = out.figures;
  auto solver = make_rate_solver(backend);
  auto t = std::chrono::steady_clock::now();
  solver->solve(p, out.rates_Bps);
  fig.emplace_back("first_solve_s", seconds_since(t));
  std::vector<double> warm;
  for (int i = 0; i < 3; ++i) {
    t = std::chrono::steady_clock::now();
    solver->solve(p, out.rates_Bps);
    warm.push_back(seconds_since(t));
  }
  std::sort(warm.begin(), warm.end());
  const double solve_s = warm[1];
  fig.emplace_back("solve_s", solve_s);
  fig.emplace_back("device_s", solver->stats().device_s);
  fig.emplace_back("rounds", static_cast<double>(solver->stats().rounds));
  fig.emplace_back("variables", static_cast<double>(solver->stats().variables));
  fig.emplace_back("flows", static_cast<double>(p.num_flows()));
  fig.emplace_back("entries", static_cast<double>(p.num_entries()));
  fig.emplace_back("links", static_cast<double>(p.num_links()));
  out.certificate = check_max_min(p, out.rates_Bps);
  fig.emplace_back("distinct_rates",
                   static_cast<double>(std::set<double>(out.rates_Bps.begin(), out.rates_Bps.end()).size()));
  const auto entries = static_cast<double>(p.num_entries());
  fig.emplace_back("problem_bytes_per_entry", static_cast<double>(p.memory_bytes()) / entries);
  fig.emplace_back("bytes_per_entry", static_cast<double>(p.memory_bytes() + solver->memory_bytes()) / entries);
  if (backend != "cpu") {
    std::vector<double> ref;
    make_rate_solver("cpu")->solve(p, ref);
    double worst = 0;
    for (std::size_t f = 0; f < ref.size(); ++f)
      if (ref[f] > 0 || out.rates_Bps[f] > 0)
        worst = std::max(worst, std::abs(out.rates_Bps[f] - ref[f]) / std::max(ref[f], out.rates_Bps[f]));
    fig.emplace_back("max_rel_diff_vs_cpu", worst);
  }
  {
    // 1,000 single-flow completions, re-solved incrementally: the fastest flows first, as they would finish when all
    // flows carry the same bytes (ties by flow index).
    std::vector<FlowIndex> order(p.num_flows());
    for (FlowIndex f = 0; f < order.size(); ++f) order[f] = f;
    const std::size_t events = std::min<std::size_t>(1000, order.empty() ? 0 : order.size() - 1);
    const auto& r = out.rates_Bps;
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(events), order.end(),
                      [&](auto a, auto b) { return r[a] != r[b] ? r[a] > r[b] : a < b; });
    std::vector<double> after = r;
    t = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < events; ++i) solver->remove_flows(p, {&order[i], 1}, after, RateSolver::Rates::kUnchanged);
    const double incremental_s = events > 0 ? seconds_since(t) / static_cast<double>(events) : 0.0;
    fig.emplace_back("incremental_events", static_cast<double>(events));
    fig.emplace_back("incremental_event_s", incremental_s);
    fig.emplace_back("full_over_incremental", events > 0 ? solve_s / incremental_s : 0.0);
    // The same for 100 flows drawn at random (a fixed seed) among those left: a removal anywhere in the freezing
    // order, which re-solves from that event on (the first 1,000 left from the end of it).
    std::vector<FlowIndex> left(order.begin() + static_cast<std::ptrdiff_t>(events), order.end());
    std::mt19937_64 rng(1);
    const std::size_t draws = std::min<std::size_t>(100, left.size() > 0 ? left.size() - 1 : 0);
    for (std::size_t i = 0; i < draws; ++i) std::swap(left[i], left[i + rng() % (left.size() - i)]);
    t = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < draws; ++i) solver->remove_flows(p, {&left[i], 1}, after, RateSolver::Rates::kUnchanged);
    const double random_s = draws > 0 ? seconds_since(t) / static_cast<double>(draws) : 0.0;
    fig.emplace_back("incremental_random_event_s", random_s);
    fig.emplace_back("full_over_incremental_random", draws > 0 ? solve_s / random_s : 0.0);
  }
  if (to_completion) {
    const std::vector<double> sizes(p.num_flows(), 1e6);  // every flow sends 1 MB
    t = std::chrono::steady_clock::now();
    out.completion = run_to_completion(rate_solver_factory(backend), p, sizes);
    fig.emplace_back("to_completion_s", seconds_since(t));
    fig.emplace_back("to_completion_solves", static_cast<double>(out.completion.solves));
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  fig.emplace_back("peak_rss_bytes", static_cast<double>(u.ru_maxrss) * 1024.0);
  return out;
}

}  // namespace collemu::models::solver
