// solver_check: the rate solvers' checks with the standard library only, for a GPU machine with nothing but a
// compiler, CMake and the CUDA toolkit (no GoogleTest there). The full suite is rate_solver_test.cpp (GoogleTest);
// this program repeats its core for every backend against the "cpu" reference:
//   - random instances pass the max-min certificate (no link over capacity, every flow bottlenecked or capped);
//   - rates equal "cpu"'s within 1e-9 relative (DESIGN.md §7), on random instances and a k=8 fat-tree all-to-all;
//   - two solves of the same input give the same bits;
//   - removing flows equals a fresh "cpu" solve of the flows left, within 1e-9.
// Exit 0 when all pass, 1 on a failure, 77 (ctest's skip code here) when a named backend cannot run (no GPU).
//   solver_check [BACKEND...]     (default: every backend of this build)
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "models/solver/instances.hpp"
#include "models/solver/rate_solver.hpp"
#ifdef COLLEMU_HAVE_CUDA
#include "models/solver/cuda_solver.hpp"
#endif

using namespace collemu::models::solver;

namespace {

int passed = 0, failed = 0;

void expect(bool ok, const std::string& backend, const std::string& what) {
  if (ok) {
    ++passed;
    return;
  }
  ++failed;
  std::printf("FAILED [%s] %s\n", backend.c_str(), what.c_str());
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(a[i]), std::abs(b[i])));
  return worst;
}

std::vector<double> cpu_rates(const RateProblem& p) {
  std::vector<double> r;
  make_rate_solver("cpu")->solve(p, r);
  return r;
}

void check_backend(const std::string& backend) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto n = static_cast<int>(seed);
    const RateProblem p = random_rate_problem(seed, 5 + 5 * n, 10 + 40 * n);
    auto solver = make_rate_solver(backend);
    std::vector<double> r, again;
    solver->solve(p, r);
    const std::string at = "random instance seed " + std::to_string(seed);
    const std::string cert = check_max_min(p, r);
    expect(cert.empty(), backend, at + ": certificate: " + cert);
    expect(max_rel_diff(r, cpu_rates(p)) <= 1e-9, backend, at + ": rates differ from cpu by more than 1e-9");
    solver->solve(p, again);
    expect(r == again, backend, at + ": two solves differ");
    // Remove every third flow, then every fifth of the rest, comparing with a fresh solve each time.
    std::vector<std::uint8_t> alive(p.num_flows(), 1);
    for (int step : {3, 5}) {
      std::vector<FlowIndex> gone;
      for (FlowIndex f = 0; f < p.num_flows(); ++f)
        if (alive[f] && f % static_cast<FlowIndex>(step) == 0) {
          gone.push_back(f);
          alive[f] = 0;
        }
      solver->remove_flows(p, gone, r);
      RateProblem left;
      for (LinkIndex l = 0; l < p.num_links(); ++l) left.add_link(p.capacity_Bps(l));
      for (FlowIndex f = 0; f < p.num_flows(); ++f)
        if (alive[f]) left.add_flow(p.weight(f), p.cap_Bps(f), p.links(f), p.coefficients(f));
      const std::vector<double> fresh = cpu_rates(left);
      std::vector<double> ours;
      for (FlowIndex f = 0; f < p.num_flows(); ++f)
        if (alive[f]) ours.push_back(r[f]);
      expect(max_rel_diff(ours, fresh) <= 1e-9, backend,
             at + ": after removing every " + std::to_string(step) + "th flow, rates differ from a fresh solve");
    }
  }
  const RateProblem ft = fat_tree_all_to_all_problem(8, 1);
  std::vector<double> r;
  make_rate_solver(backend)->solve(ft, r);
  const std::string cert = check_max_min(ft, r);
  expect(cert.empty(), backend, "k=8 fat-tree all-to-all: certificate: " + cert);
  expect(max_rel_diff(r, cpu_rates(ft)) <= 1e-9, backend, "k=8 fat-tree all-to-all: rates differ from cpu");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> backends(argv + 1, argv + argc);
  if (backends.empty()) backends = rate_solver_names();
  int skipped = 0;
  for (const auto& b : backends) {
#ifdef COLLEMU_HAVE_CUDA
    std::string why;
    if (b == "cuda" && !cuda_device_available(&why)) {
      std::printf("SKIPPED [cuda] %s\n", why.c_str());
      ++skipped;
      continue;
    }
#endif
    try {
      check_backend(b);
    } catch (const std::exception& e) {
      expect(false, b, std::string("threw: ") + e.what());
    }
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (failed > 0) return 1;
  return skipped > 0 && passed == 0 ? 77 : 0;
}
