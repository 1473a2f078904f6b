#include "models/solver/rate_solver.hpp"

#include <algorithm>

#include "models/solver/cpu_solver.hpp"
#ifdef COLLEMU_HAVE_CUDA
#include "models/solver/cuda_solver.hpp"
#endif

namespace collemu::models::solver {

void RateSolver::solve(const RateProblem& problem, std::vector<double>& rates_Bps) {
  solved_ = nullptr;  // until this solve completes: a failed one leaves nothing to re-solve
  problem.validate();
  rates_Bps.assign(problem.num_flows(), 0.0);
  alive_.assign(problem.num_flows(), 1);
  rates_at_ = rates_Bps.data();
  wrote_all_ = true;
  written_.clear();
  if (problem.num_flows() > 0) do_solve(problem, rates_Bps);
  solved_ = &problem;
}

void RateSolver::remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows,
                              std::vector<double>& rates_Bps, Rates given) {
  if (solved_ != &problem || alive_.size() != problem.num_flows())
    throw SolverInputError("remove_flows: solve this problem (the same object) first");
  // Checked before anything changes; a flow listed twice is caught by the marks of this call, undone on error.
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const FlowIndex f = flows[i];
    std::string error;
    if (f >= alive_.size())
      error = "remove_flows: flow " + std::to_string(f) + " does not exist";
    else if (!alive_[f])
      error = "remove_flows: flow " + std::to_string(f) + " was already removed or is listed twice";
    if (!error.empty()) {
      for (std::size_t j = 0; j < i; ++j) alive_[flows[j]] = 1;
      throw SolverInputError(error);
    }
    alive_[f] = 0;
  }
  const bool unchanged = given == Rates::kUnchanged && rates_Bps.data() == rates_at_ &&
                         rates_Bps.size() == problem.num_flows();
  rates_Bps.resize(problem.num_flows());
  rates_at_ = rates_Bps.data();
  solved_ = nullptr;  // a failed re-solve leaves nothing to re-solve
  wrote_all_ = true;
  written_.clear();
  do_remove_flows(problem, flows, rates_Bps, unchanged);
  solved_ = &problem;
}

std::unique_ptr<RateSolver> make_rate_solver(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuRateSolver>();
  if (name == "cpu-rounds") return std::make_unique<RoundsRateSolver>();
#ifdef COLLEMU_HAVE_CUDA
  if (name == "cuda") return make_cuda_rate_solver();
#else
  if (name == "cuda")
    throw BackendUnavailableError(
        "rate solver 'cuda': this build has no CUDA backend (nvcc was not found at configure time)");
#endif
  std::string known;
  for (const auto& n : rate_solver_names()) known += (known.empty() ? "" : ", ") + n;
  throw SolverInputError("unknown rate solver '" + name + "'; this build has: " + known);
}

SolverFactory rate_solver_factory(const std::string& name) {
  make_rate_solver(name);
  return [name] { return make_rate_solver(name); };
}

std::vector<std::string> rate_solver_names() {
#ifdef COLLEMU_HAVE_CUDA
  return {"cpu", "cpu-rounds", "cuda"};
#else
  return {"cpu", "cpu-rounds"};
#endif
}

}  // namespace collemu::models::solver
