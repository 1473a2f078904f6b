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
  while (!active.empty()) {
    // The sub-problem of the flows still sending (same links and capacities).
    RateProblem sub;
    for (LinkIndex l = 0; l < problem.num_links(); ++l) sub.add_link(problem.capacity_Bps(l));
    for (FlowIndex f : active) sub.add_flow(problem.weight(f), problem.cap_Bps(f), problem.links(f), problem.coefficients(f));
    solver.solve(sub, rates);
    ++run.solves;
    double dt = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < active.size(); ++i)
      if (rates[i] > 0) dt = std::min(dt, remaining[active[i]] / rates[i]);
    if (!std::isfinite(dt))
      throw SolverInputError("flow " + std::to_string(active.front()) + " can never finish: every remaining flow has rate 0");
    now += dt;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < active.size(); ++i) {
      const FlowIndex f = active[i];
      const double sent = rates[i] * dt;
      // Flows within a relative 1e-12 of the end finish at this event (they tie with the one that set dt).
      if (sent >= remaining[f] * (1 - 1e-12)) {
        run.finish_s[f] = now;
        continue;
      }
      remaining[f] -= sent;
      active[kept++] = f;
    }
    active.resize(kept);
  }
  return run;
}

}  // namespace collemu::models::solver
