#include "models/solver/completion.hpp"

#include <cmath>

#include "models/solver/flow_engine.hpp"

namespace collemu::models::solver {

CompletionRun run_to_completion(const SolverFactory& solver, const RateProblem& problem,
                                std::span<const double> sizes_B) {
  const std::size_t nf = problem.num_flows();
  if (sizes_B.size() != nf) throw SolverInputError("run_to_completion: one size per flow expected");
  problem.validate();
  FlowEngine engine(std::vector<double>(problem.capacities().begin(), problem.capacities().end()), solver);
  for (FlowIndex f = 0; f < nf; ++f) {
    FlowSpec flow;
    flow.bytes = sizes_B[f];
    flow.links = problem.links(f);
    if (!problem.unit(f)) flow.coefficients = problem.coefficients(f);
    flow.weight = problem.weight(f);
    flow.cap_Bps = problem.cap_Bps(f);
    engine.add_flow(flow);
  }
  engine.run();
  CompletionRun run;
  run.finish_s.resize(nf);
  for (FlowIndex f = 0; f < nf; ++f) run.finish_s[f] = engine.finish_s(f);
  run.solves = engine.stats().full_solves + engine.stats().incremental_solves;
  return run;
}

}  // namespace collemu::models::solver
