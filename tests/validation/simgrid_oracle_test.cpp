// SimGrid 3.32 as an independent oracle for max-min rates (issue 3): the same links and single-path flows built in
// SimGrid through its public s4u API (models/solver/simgrid_peer.hpp says how). Every flow sends its bytes from
// time 0; the completion times must agree with ours to 1e-6 relative.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "models/solver/completion.hpp"
#include "models/solver/rate_solver.hpp"
#include "models/solver/simgrid_peer.hpp"
#include "models/solver_instances.hpp"

namespace collemu::models::solver {
namespace {

std::vector<double> simgrid_completion_times(const RateProblem& p, const std::vector<double>& sizes) {
  return simgrid_run_to_completion(p, sizes).finish_s;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / b[i]);
  return worst;
}

TEST(SimGridOracle, FatTreeK8AllToAllWithRandomEcmp) {
  // 128 hosts, 16,256 flows of 1 MB, one random ECMP path each, 100 Gbps (12.5 GB/s) links.
  auto inst = fat_tree_all_to_all(8, 3);
  for (LinkIndex l = 0; l < inst.problem.num_links(); ++l) inst.problem.set_capacity_Bps(l, 12.5e9);
  std::vector<double> sizes(inst.problem.num_flows(), 1e6);
  auto ours = run_to_completion(rate_solver_factory("cpu"), inst.problem, sizes);
  auto theirs = simgrid_completion_times(inst.problem, sizes);
  const double diff = max_rel_diff(ours.finish_s, theirs);
  std::printf("k=8 all-to-all: %zu flows, %zu solves, max relative difference vs SimGrid %.3g\n",
              inst.problem.num_flows(), ours.solves, diff);
  EXPECT_LT(diff, 1e-6);
}

TEST(SimGridOracle, RandomInstances) {
  // Random single-path flows with random sizes over links of random capacities.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> cap(1e9, 1e11), size(1e5, 1e8);
    RateProblem p;
    const int nl = 30 + 10 * static_cast<int>(seed);
    for (int l = 0; l < nl; ++l) p.add_link(cap(rng));
    std::vector<double> sizes;
    for (int f = 0; f < 200 * static_cast<int>(seed); ++f) {
      std::vector<LinkIndex> ls;
      const int k = 1 + static_cast<int>(rng() % 5);
      while (static_cast<int>(ls.size()) < k) {
        const auto l = static_cast<LinkIndex>(rng() % nl);
        if (std::find(ls.begin(), ls.end(), l) == ls.end()) ls.push_back(l);
      }
      p.add_flow(1.0, kNoCap, ls, std::vector<double>(ls.size(), 1.0));
      sizes.push_back(std::floor(size(rng)));
    }
    auto ours = run_to_completion(rate_solver_factory("cpu"), p, sizes);
    auto theirs = simgrid_completion_times(p, sizes);
    const double diff = max_rel_diff(ours.finish_s, theirs);
    std::printf("seed %llu: %zu flows, max relative difference vs SimGrid %.3g\n",
                static_cast<unsigned long long>(seed), p.num_flows(), diff);
    EXPECT_LT(diff, 1e-6) << "seed " << seed;
  }
}

}  // namespace
}  // namespace collemu::models::solver
