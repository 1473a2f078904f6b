// Flow-level completion times: every flow of a RateProblem starts at time 0 with a number of bytes to send; rates are
// re-solved whenever flows complete, and time advances to the next completion. A short loop over the FlowEngine (the
// one implementation of the event stepping), kept for the benchmarks and the SimGrid comparison.
#pragma once

#include <span>
#include <vector>

#include "models/solver/rate_solver.hpp"

namespace collemu::models::solver {

struct CompletionRun {
  std::vector<double> finish_s;  // per flow
  std::size_t solves = 0;        // rate solves performed (full and incremental)
};

// Throws SolverInputError when a size is negative or not finite, or when a flow can never finish (its rate is 0).
CompletionRun run_to_completion(const SolverFactory& solver, const RateProblem& problem,
                                std::span<const double> sizes_B);

}  // namespace collemu::models::solver
