#include "models/solver/rate_solver.hpp"

#include <algorithm>

#include "models/solver/cpu_solver.hpp"

namespace collemu::models::solver {

void RateSolver::solve(const RateProblem& problem, std::vector<double>& rates_Bps) {
  problem.validate();
  rates_Bps.assign(problem.num_flows(), 0.0);
  alive_.assign(problem.num_flows(), 1);
  solved_ = &problem;
  if (problem.num_flows() == 0) return;
  do_solve(problem, rates_Bps);
}

void RateSolver::remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows,
                              std::vector<double>& rates_Bps) {
  if (solved_ != &problem || alive_.size() != problem.num_flows())
    throw SolverInputError("remove_flows: solve this problem (the same object) first");
  for (FlowIndex f : flows) {
    if (f >= alive_.size()) throw SolverInputError("remove_flows: flow " + std::to_string(f) + " does not exist");
    if (!alive_[f]) throw SolverInputError("remove_flows: flow " + std::to_string(f) + " was already removed");
    alive_[f] = 0;
  }
  rates_Bps.resize(problem.num_flows());
  do_remove_flows(problem, flows, rates_Bps);
}

std::unique_ptr<RateSolver> make_rate_solver(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuRateSolver>();
  if (name == "cpu-rounds") return std::make_unique<RoundsRateSolver>();
  throw SolverInputError("unknown rate solver '" + name + "'; this build has: cpu, cpu-rounds");
}

std::vector<std::string> rate_solver_names() { return {"cpu", "cpu-rounds"}; }

}  // namespace collemu::models::solver
