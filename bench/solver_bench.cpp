// solver_bench: the rate solver's benchmark with the standard library only (builds with the solver alone:
// `cmake -S models/solver -B build-solver`), for GPU machines that have only a compiler, CMake and the CUDA toolkit.
//   solver_bench [--fat-tree-k K] [--solver cpu|cpu-rounds|cuda] [--seed S] [--to-completion]
// Prints one JSON object (the figures of benchmark_rate_solver on fat_tree_all_to_all_problem(K)); exits 1 when the
// rates fail the max-min certificate, 2 on bad arguments.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "models/solver/benchmark.hpp"
#include "models/solver/instances.hpp"

using namespace collemu::models::solver;

int main(int argc, char** argv) {
  unsigned k = 16;
  unsigned long long seed = 1;
  std::string backend = "cpu";
  bool completion = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw SolverInputError(a + " needs a value");
        return argv[++i];
      };
      if (a == "--fat-tree-k")
        k = static_cast<unsigned>(std::stoul(value()));
      else if (a == "--solver")
        backend = value();
      else if (a == "--seed")
        seed = std::stoull(value());
      else if (a == "--to-completion")
        completion = true;
      else
        throw SolverInputError("unknown argument '" + a + "'");
    }
    const RateProblem p = fat_tree_all_to_all_problem(k, seed);
    const SolverBenchmark b = benchmark_rate_solver(backend, p, completion);
    std::printf("{\n  \"solver\": \"%s\",\n  \"fat_tree_k\": %u,\n  \"max_min_certificate\": \"%s\"", backend.c_str(), k,
                b.certificate.empty() ? "ok" : "violated");
    for (const auto& [name, v] : b.figures) std::printf(",\n  \"%s\": %.17g", name.c_str(), v);
    std::printf("\n}\n");
    if (!b.certificate.empty()) std::fprintf(stderr, "solver_bench: %s\n", b.certificate.c_str());
    return b.certificate.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "solver_bench: %s\n", e.what());
    return 2;
  }
}
