// The rate solver's benchmark, standard library only: shared by `collemu bench solver` and the standalone
// `solver_bench` that builds on a GPU machine with only a compiler, CMake and the CUDA toolkit.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "models/solver/completion.hpp"
#include "models/solver/rate_solver.hpp"

namespace collemu::models::solver {

struct SolverBenchmark {
  std::vector<std::pair<std::string, double>> figures;  // name -> value, in the order measured
  std::string certificate;                              // the max-min certificate's verdict: "" when the rates pass
  std::vector<double> rates_Bps;                        // of the full solve
  CompletionRun completion;                             // when run to completion
};

// On `problem`: one first solve (which also pays the page faults of a new solver), three more with the same solver
// (solve_s is their median), the max-min certificate, distinct rates, 1,000 single-flow completions re-solved
// incrementally (the fastest flows first), memory per flow-link entry; for a backend other than "cpu", the largest
// relative difference of its rates from "cpu"'s; with `to_completion`, every flow given 1 MB and run to completion.
SolverBenchmark benchmark_rate_solver(const std::string& backend, const RateProblem& problem, bool to_completion);

}  // namespace collemu::models::solver
