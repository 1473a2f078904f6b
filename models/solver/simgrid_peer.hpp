// SimGrid 3.32 as a peer: the same links and single-path flows simulated by SimGrid's flow-level max-min model,
// for the validation tests and for `collemu bench solver --simgrid`. Built only where SimGrid is found.
//
// Platform: a full zone, one host pair per flow with an explicit route over the flow's links, latency 0, the CM02
// model with bandwidth and latency factors 1, TCP-gamma 0 (no window bound), no cross-traffic. Every flow sends
// its bytes from time 0. SimGrid allows one engine per process, so each run happens in a forked child.
#pragma once

#include <vector>

#include "models/solver/rate_problem.hpp"

namespace collemu::models::solver {

struct SimGridRun {
  std::vector<double> finish_s;  // per flow, simulated seconds
  double run_wall_s = 0;         // wall time of SimGrid's simulation (Engine::run), without building the platform
};

// Throws std::runtime_error when the child fails, SolverInputError for multi-path flows (coefficient < 1).
SimGridRun simgrid_run_to_completion(const RateProblem& problem, const std::vector<double>& sizes_B);

}  // namespace collemu::models::solver
