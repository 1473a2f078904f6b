#include "models/solver/completion.hpp"

#include <cmath>
#include <limits>

namespace collemu::models::solver {

CompletionRun run_to_completion(RateSolver& solver, const RateProblem& problem, std::span<const double> sizes_B) {
  const std::size_t nf = problem.num_flows();
  if (sizes_B.size() != nf) throw SolverInputError("run_to_completion: one size per flow expected");
  CompletionRun run;
  run.finish_s.assign(nf, 0.0);
  std::vector<double> remaining(sizes_B.begin(), sizes_B.end());
  std::vector<FlowIndex> active;
  for (FlowIndex f = 0; f < nf; ++f) {
    if (!std::isfinite(sizes_B[f]) || sizes_B[f] < 0)
      throw SolverInputError("flow " + std::to_string(f) + ": size " + std::to_string(sizes_B[f]) +
                             " B; expected a finite size >= 0");
    if (sizes_B[f] > 0) active.push_back(f);
  }
  double now = 0;
  std::vector<double> rates;
  solver.solve(problem, rates);
  ++run.solves;
  std::vector<FlowIndex> done;
  for (FlowIndex f = 0; f < nf; ++f)
    if (sizes_B[f] == 0) done.push_back(f);
  if (!done.empty()) solver.remove_flows(problem, done, rates, RateSolver::Rates::kUnchanged);
  while (!active.empty()) {
    double dt = std::numeric_limits<double>::infinity();
    for (FlowIndex f : active)
      if (rates[f] > 0) dt = std::min(dt, remaining[f] / rates[f]);
    if (!std::isfinite(dt))
      throw SolverInputError("flow " + std::to_string(active.front()) + " can never finish: every remaining flow has rate 0");
    now += dt;
    done.clear();
    std::size_t kept = 0;
    for (FlowIndex f : active) {
      const double sent = rates[f] * dt;
      // Flows within a relative 1e-12 of the end finish at this event (they tie with the one that set dt).
      if (sent >= remaining[f] * (1 - 1e-12)) {
        run.finish_s[f] = now;
        done.push_back(f);
        continue;
      }
      remaining[f] -= sent;
      active[kept++] = f;
    }
    active.resize(kept);
    solver.remove_flows(problem, done, rates, RateSolver::Rates::kUnchanged);
    ++run.solves;
  }
  return run;
}

}  // namespace collemu::models::solver
