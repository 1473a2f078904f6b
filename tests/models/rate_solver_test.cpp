// Rate solvers: one suite instantiated for every backend this build has (rate_solver_names()). Hand-derived cases
// with the derivation in a comment, random instances checked by the max-min certificate, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "models/solver/cpu_solver.hpp"
#include "models/solver/instances.hpp"
#include "models/solver/rate_solver.hpp"
#ifdef COLLEMU_HAVE_CUDA
#include "models/solver/cuda_solver.hpp"
#endif

namespace collemu::models::solver {
namespace {

std::unique_ptr<RateSolver> solver_for(const std::string& name) {
  if (name == "cpu-local") return std::make_unique<CpuRateSolver>(0);
  return make_rate_solver(name);
}

class Solver : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
#ifdef COLLEMU_HAVE_CUDA
    std::string why;
    if (GetParam() == "cuda" && !cuda_device_available(&why)) GTEST_SKIP() << "cuda backend: " << why;
#endif
  }
  std::vector<double> solve(const RateProblem& p) {
    auto s = solver_for(GetParam());
    std::vector<double> r;
    s->solve(p, r);
    last_stats_ = s->stats();
    return r;
  }
  FlowIndex flow(RateProblem& p, std::vector<LinkIndex> links, double w = 1, double cap = kNoCap,
                 std::vector<double> a = {}) {
    if (a.empty()) a.assign(links.size(), 1.0);
    return p.add_flow(w, cap, links, a);
  }
  SolveStats last_stats_;
};

TEST_P(Solver, WeightsShareALink) {
  // One link of 10 B/s, weights 1 and 2: rates grow as w * t until 1t + 2t = 10, t = 10/3: rates 10/3 and 20/3.
  RateProblem p;
  auto l = p.add_link(10);
  flow(p, {l}, 1);
  flow(p, {l}, 2);
  auto r = solve(p);
  EXPECT_NEAR(r[0], 10.0 / 3, 1e-12);
  EXPECT_NEAR(r[1], 20.0 / 3, 1e-12);
}

TEST_P(Solver, ParkingLot) {
  // Links L1, L2 of capacity 1. A crosses both, B only L1, C only L2. Both links have share 1/2 and saturate in
  // the same round: A = B = C = 1/2.
  RateProblem p;
  auto l1 = p.add_link(1), l2 = p.add_link(1);
  flow(p, {l1, l2});
  flow(p, {l1});
  flow(p, {l2});
  auto r = solve(p);
  for (double x : r) EXPECT_NEAR(x, 0.5, 1e-15);
  // The local-minimum rule saturates both links in one round (the event solver counts one event per link).
  if (GetParam() == "cpu-rounds") {
    EXPECT_EQ(last_stats_.rounds, 1u);
  }
}

TEST_P(Solver, SecondLevelTakesWhatIsLeft) {
  // L1 (capacity 1) carries A and B; L2 (capacity 10) carries B and C. L1's share 1/2 is the smallest: A, B = 1/2.
  // L2 then has 10 - 1/2 = 9.5 left for C alone.
  RateProblem p;
  auto l1 = p.add_link(1), l2 = p.add_link(10);
  flow(p, {l1});
  flow(p, {l1, l2});
  flow(p, {l2});
  auto r = solve(p);
  EXPECT_NEAR(r[0], 0.5, 1e-15);
  EXPECT_NEAR(r[1], 0.5, 1e-15);
  EXPECT_NEAR(r[2], 9.5, 1e-14);
}

TEST_P(Solver, CapsAreRespected) {
  // One link of 10: A capped at 1 freezes first (its cap share 1 < the link share 5), B takes the other 9.
  RateProblem p;
  auto l = p.add_link(10);
  flow(p, {l}, 1, 1.0);
  flow(p, {l});
  auto r = solve(p);
  EXPECT_NEAR(r[0], 1.0, 1e-15);
  EXPECT_NEAR(r[1], 9.0, 1e-14);
}

TEST_P(Solver, SprayCoefficients) {
  // A is sprayed half on L1 and half on L2 (capacity 1 each); B uses L1 only. L1 load = t/2 + t: share 2/3;
  // L2 load t/2: share 2. L1 saturates at t = 2/3: A = B = 2/3, and L1 carries 1/3 + 2/3 = 1.
  RateProblem p;
  auto l1 = p.add_link(1), l2 = p.add_link(1);
  flow(p, {l1, l2}, 1, kNoCap, {0.5, 0.5});
  flow(p, {l1});
  auto r = solve(p);
  EXPECT_NEAR(r[0], 2.0 / 3, 1e-15);
  EXPECT_NEAR(r[1], 2.0 / 3, 1e-15);
}

TEST_P(Solver, ZeroCapacityLinkStopsItsFlowsOnly) {
  // A failed link (capacity 0) gives its flows rate 0; C, sharing only L2 with B, gets all of L2.
  RateProblem p;
  auto dead = p.add_link(0), l2 = p.add_link(4);
  flow(p, {dead});
  flow(p, {dead, l2});
  flow(p, {l2});
  auto r = solve(p);
  EXPECT_EQ(r[0], 0.0);
  EXPECT_EQ(r[1], 0.0);
  EXPECT_NEAR(r[2], 4.0, 1e-15);
}

TEST_P(Solver, IdenticalFlowsMergeIntoOneVariable) {
  // Three identical flows and one other on a link of 4: four equal shares of 1; the three merge into one
  // variable of weight 3.
  RateProblem p;
  auto l = p.add_link(4), m = p.add_link(100);
  for (int i = 0; i < 3; ++i) flow(p, {l, m});
  flow(p, {l});
  auto r = solve(p);
  for (double x : r) EXPECT_NEAR(x, 1.0, 1e-15);
  EXPECT_EQ(last_stats_.variables, 2u);
}

RateProblem random_problem(std::uint64_t seed, int links, int flows) { return random_rate_problem(seed, links, flows); }

// The alive flow with the largest rate (the first such), as it would finish first when all flows have the same size.
FlowIndex fastest_alive(const std::vector<double>& rates, const std::vector<std::uint8_t>& alive) {
  FlowIndex fastest = 0;
  double best = -1;
  for (FlowIndex f = 0; f < rates.size(); ++f)
    if (alive[f] && rates[f] > best) {
      best = rates[f];
      fastest = f;
    }
  return fastest;
}

// Whether `rates` (of every flow of p) equal a fresh "cpu" solve of the flows still alive (within `rel` relative), and
// are 0 for the others: the reference for incremental re-solves.
::testing::AssertionResult equals_fresh_solve(const RateProblem& p, const std::vector<std::uint8_t>& alive,
                                              const std::vector<double>& rates, double rel = 1e-12) {
  RateProblem left;
  for (LinkIndex l = 0; l < p.num_links(); ++l) left.add_link(p.capacity_Bps(l));
  std::vector<FlowIndex> index;
  for (FlowIndex f = 0; f < p.num_flows(); ++f)
    if (alive[f]) {
      left.add_flow(p.weight(f), p.cap_Bps(f), p.links(f), p.coefficients(f));
      index.push_back(f);
    }
  std::vector<double> fresh;
  make_rate_solver("cpu")->solve(left, fresh);
  for (std::size_t i = 0; i < index.size(); ++i)
    if (!(std::abs(rates[index[i]] - fresh[i]) <= rel * fresh[i] + 1e-300))
      return ::testing::AssertionFailure() << "flow " << index[i] << ": " << rates[index[i]] << ", fresh solve "
                                           << fresh[i];
  for (FlowIndex f = 0; f < p.num_flows(); ++f)
    if (!alive[f] && rates[f] != 0.0) return ::testing::AssertionFailure() << "removed flow " << f << ": " << rates[f];
  return ::testing::AssertionSuccess();
}

TEST_P(Solver, RandomInstancesPassTheCertificate) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    auto p = random_problem(seed, 5 + seed * 5, 10 + seed * 25);
    auto r = solve(p);
    EXPECT_EQ(check_max_min(p, r), "") << "seed " << seed;
  }
}

TEST_P(Solver, AgreesWithTheReference) {
  // Every backend reaches the same fixed point as "cpu", to 1e-12 relative, on instances with caps and sprays.
  for (std::uint64_t seed = 100; seed < 110; ++seed) {
    auto p = random_problem(seed, 60, 800);
    auto r = solve(p);
    std::vector<double> ref;
    make_rate_solver("cpu")->solve(p, ref);
    for (std::size_t f = 0; f < r.size(); ++f) EXPECT_NEAR(r[f], ref[f], 1e-12 * ref[f]) << "seed " << seed << " flow " << f;
  }
}

TEST_P(Solver, RemovingFlowsEqualsSolvingWhatIsLeft) {
  // Finished flows leave; the incremental result must equal a fresh solve of the remaining flows (1e-12 relative),
  // step after step, with caps, sprays and merged identical flows in the mix.
  for (std::uint64_t seed = 200; seed < 206; ++seed) {
    auto p = random_problem(seed, 40, 600);
    for (int i = 0; i < 50; ++i) {  // some identical flows, so that removals split merged variables
      const FlowIndex g = static_cast<FlowIndex>(i * 7);
      p.add_flow(p.weight(g), p.cap_Bps(g), p.links(g), p.coefficients(g));
    }
    auto solver = solver_for(GetParam());
    std::vector<double> rates;
    solver->solve(p, rates);
    std::mt19937_64 rng(seed);
    std::vector<std::uint8_t> alive(p.num_flows(), 1);
    for (int step = 0; step < 8; ++step) {
      std::vector<FlowIndex> gone;
      for (FlowIndex f = 0; f < p.num_flows(); ++f)
        if (alive[f] && rng() % 10 == 0) {
          gone.push_back(f);
          alive[f] = 0;
        }
      solver->remove_flows(p, gone, rates, RateSolver::Rates::kUnchanged);
      ASSERT_TRUE(equals_fresh_solve(p, alive, rates)) << "seed " << seed << " step " << step;
    }
  }
}

TEST_P(Solver, OneCompletionAtATimeStaysExact) {
  // As in a run to completion: the fastest flow finishes, one at a time, 400 times, each re-solve starting from
  // the previous one (for "cpu", thawing only the events from the finished flow's on). After every 50 the rates
  // must still equal a fresh solve of the remaining flows (1e-12 relative): no drift from thawing and refreezing.
  auto p = random_problem(31, 30, 500);
  auto solver = solver_for(GetParam());
  std::vector<double> rates;
  solver->solve(p, rates);
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  for (int step = 1; step <= 400; ++step) {
    const FlowIndex fastest = fastest_alive(rates, alive);
    alive[fastest] = 0;
    solver->remove_flows(p, {&fastest, 1}, rates, RateSolver::Rates::kUnchanged);
    if (step % 50 != 0) continue;
    ASSERT_TRUE(equals_fresh_solve(p, alive, rates)) << "step " << step;
  }
}

TEST_P(Solver, RandomCompletionsAcrossComponents) {
  // Four independent random problems side by side (disjoint links), flows finishing one at a time in random order:
  // early in the freezing order (a sweep over the component for "cpu") or late (a thaw of the last events). After
  // each removal the other three components keep their rates bit for bit; every 10 removals all rates equal a fresh
  // solve of the remaining flows (1e-12 relative).
  RateProblem p;
  std::vector<int> part_of;
  for (int part = 0; part < 4; ++part) {
    const auto sub = random_problem(500 + part, 12, 150);
    const auto base = static_cast<LinkIndex>(p.num_links());
    for (LinkIndex l = 0; l < sub.num_links(); ++l) p.add_link(sub.capacity_Bps(l));
    for (FlowIndex f = 0; f < sub.num_flows(); ++f) {
      std::vector<LinkIndex> links(sub.links(f).begin(), sub.links(f).end());
      for (auto& l : links) l += base;
      p.add_flow(sub.weight(f), sub.cap_Bps(f), links, sub.coefficients(f));
      part_of.push_back(part);
    }
  }
  auto solver = solver_for(GetParam());
  std::vector<double> rates;
  solver->solve(p, rates);
  std::vector<FlowIndex> order(p.num_flows());
  for (FlowIndex f = 0; f < order.size(); ++f) order[f] = f;
  std::mt19937_64 rng(77);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  for (int step = 1; step <= 120; ++step) {
    const FlowIndex gone = order[static_cast<std::size_t>(step)];
    alive[gone] = 0;
    const std::vector<double> before = rates;
    solver->remove_flows(p, {&gone, 1}, rates, RateSolver::Rates::kUnchanged);
    for (FlowIndex f = 0; f < p.num_flows(); ++f) {
      if (part_of[f] != part_of[gone]) {
        ASSERT_EQ(rates[f], before[f]) << "step " << step << " flow " << f;
      }
    }
    if (step % 10 != 0) continue;
    ASSERT_TRUE(equals_fresh_solve(p, alive, rates)) << "step " << step;
  }
}

TEST_P(Solver, RandomRemovalSequencesMatchFreshSolves) {
  // 24 random problems mixing what an incremental re-solve must handle: caps, sprays, identical flows (merged into
  // one variable), a failed link (capacity 0), three independent parts, and in every other problem integer
  // capacities and weights 1 or 2 (many events at exactly the same level). 30 removals each, of 1-4 flows from
  // anywhere, alternately passing the previous rates back (Rates::kUnchanged) or not; every one checked against a
  // fresh solve of the flows left (1e-12 relative).
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    const bool ties = seed % 2 == 0;
    RateProblem p;
    for (int part = 0; part < 3; ++part) {
      const auto sub = random_problem(seed * 10 + static_cast<std::uint64_t>(part), 10, 80);
      const auto base = static_cast<LinkIndex>(p.num_links());
      for (LinkIndex l = 0; l < sub.num_links(); ++l)
        p.add_link(ties ? std::round(sub.capacity_Bps(l)) : sub.capacity_Bps(l));
      for (FlowIndex f = 0; f < sub.num_flows(); ++f) {
        std::vector<LinkIndex> links(sub.links(f).begin(), sub.links(f).end());
        for (auto& l : links) l += base;
        const double w = ties ? 1.0 + f % 2 : sub.weight(f);
        p.add_flow(w, sub.cap_Bps(f), links, sub.coefficients(f));
        if (f % 5 == 0) p.add_flow(w, sub.cap_Bps(f), links, sub.coefficients(f));  // merges with the previous one
      }
    }
    if (seed % 3 == 0) p.set_capacity_Bps(static_cast<LinkIndex>(seed % p.num_links()), 0.0);
    auto solver = solver_for(GetParam());
    std::vector<double> rates;
    solver->solve(p, rates);
    std::vector<std::uint8_t> alive(p.num_flows(), 1);
    std::vector<FlowIndex> left(p.num_flows());
    for (FlowIndex f = 0; f < left.size(); ++f) left[f] = f;
    std::mt19937_64 rng(seed);
    for (int step = 0; step < 30; ++step) {
      std::vector<FlowIndex> gone;
      for (std::uint64_t n = 1 + rng() % 4; n > 0 && !left.empty(); --n) {
        const std::size_t i = rng() % left.size();
        gone.push_back(left[i]);
        alive[left[i]] = 0;
        left[i] = left.back();
        left.pop_back();
      }
      solver->remove_flows(p, gone, rates, step % 2 ? RateSolver::Rates::kUnchanged : RateSolver::Rates::kAny);
      ASSERT_TRUE(equals_fresh_solve(p, alive, rates)) << "seed " << seed << " step " << step;
    }
  }
}

TEST_P(Solver, RemovalRebuildsOnlyItsComponent) {
  // 50 disjoint groups of 3 links, 20 random flows each: independent problems. Removing flows of group 7 must
  // leave every other group's rates bit for bit, and give group 7 what a fresh solve of the remaining flows gives.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> cap(1, 10);
  RateProblem p;
  std::vector<int> group_of_flow;
  for (int g = 0; g < 50; ++g) {
    const LinkIndex base = static_cast<LinkIndex>(p.num_links());
    for (int l = 0; l < 3; ++l) p.add_link(cap(rng));
    for (int f = 0; f < 20; ++f) {
      std::vector<LinkIndex> ls = {base + static_cast<LinkIndex>(rng() % 3)};
      const LinkIndex other = base + static_cast<LinkIndex>(rng() % 3);
      if (other != ls[0]) ls.push_back(other);
      p.add_flow(1.0 + static_cast<double>(rng() % 3), kNoCap, ls, std::vector<double>(ls.size(), 1.0));
      group_of_flow.push_back(g);
    }
  }
  auto solver = solver_for(GetParam());
  std::vector<double> before, after;
  solver->solve(p, before);
  std::vector<FlowIndex> gone = {7 * 20 + 3, 7 * 20 + 11};
  after = before;
  solver->remove_flows(p, gone, after);
  for (FlowIndex f = 0; f < p.num_flows(); ++f) {
    if (group_of_flow[f] != 7) {
      EXPECT_EQ(after[f], before[f]) << "flow " << f;
    }
  }
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  for (FlowIndex f : gone) alive[f] = 0;
  EXPECT_TRUE(equals_fresh_solve(p, alive, after));
}

TEST_P(Solver, RemovalMisuseIsRefused) {
  RateProblem p;
  auto l = p.add_link(1);
  p.add_flow(1, kNoCap, std::vector<LinkIndex>{l}, std::vector<double>{1.0});
  p.add_flow(1, kNoCap, std::vector<LinkIndex>{l}, std::vector<double>{1.0});
  auto solver = solver_for(GetParam());
  std::vector<double> r;
  const FlowIndex f0 = 0, f9 = 9;
  EXPECT_THROW(solver->remove_flows(p, {&f0, 1}, r), SolverInputError);  // no solve yet
  solver->solve(p, r);
  EXPECT_EQ(r, (std::vector<double>{0.5, 0.5}));
  // A bad list changes nothing: not flow 0 either, listed before the bad entry.
  const FlowIndex bad[] = {0, 9}, twice[] = {0, 0};
  EXPECT_THROW(solver->remove_flows(p, bad, r), SolverInputError);
  EXPECT_THROW(solver->remove_flows(p, twice, r), SolverInputError);
  EXPECT_THROW(solver->remove_flows(p, {&f9, 1}, r), SolverInputError);
  solver->remove_flows(p, {&f0, 1}, r);
  EXPECT_EQ(r, (std::vector<double>{0.0, 1.0}));  // flow 1 alone on the link
  EXPECT_THROW(solver->remove_flows(p, {&f0, 1}, r), SolverInputError);  // already removed
}

TEST_P(Solver, AnyRatesVectorGetsEveryRate) {
  // Only with Rates::kUnchanged may a backend write just the rates that changed. A vector holding anything else, even
  // at the same address (overwritten, or freed and allocated again), gets every rate.
  auto p = random_problem(41, 20, 300);
  auto solver = solver_for(GetParam());
  std::vector<double> rates;
  solver->solve(p, rates);
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  for (FlowIndex gone : {FlowIndex{3}, FlowIndex{150}, FlowIndex{299}}) {
    alive[gone] = 0;
    std::fill(rates.begin(), rates.end(), -1.0);  // same vector, other contents
    solver->remove_flows(p, {&gone, 1}, rates);
    ASSERT_TRUE(equals_fresh_solve(p, alive, rates));
  }
}

TEST_P(Solver, RatesNotListedAsWrittenAreUnchanged) {
  // With Rates::kUnchanged a backend may write only some rates; it says which (written_flows), or that it wrote all.
  // Every rate it does not list must be the one before the call, and the whole vector a fresh solve's (what lets the
  // flow engine touch only the listed flows). Fastest flows first (small thaws) and random ones (large thaws).
  auto p = random_problem(43, 40, 800);
  auto solver = solver_for(GetParam());
  std::vector<double> rates;
  solver->solve(p, rates);
  EXPECT_TRUE(solver->wrote_every_rate());
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  std::mt19937_64 rng(7);
  int partial = 0;
  for (int step = 0; step < 60; ++step) {
    FlowIndex gone = 0;
    if (step < 30) {
      double best = -1;
      for (FlowIndex f = 0; f < p.num_flows(); ++f)
        if (alive[f] && rates[f] > best) best = rates[f], gone = f;
    } else {
      do gone = static_cast<FlowIndex>(rng() % p.num_flows());
      while (!alive[gone]);
    }
    alive[gone] = 0;
    const std::vector<double> before = rates;
    solver->remove_flows(p, {&gone, 1}, rates, RateSolver::Rates::kUnchanged);
    ASSERT_TRUE(equals_fresh_solve(p, alive, rates)) << "step " << step;
    if (solver->wrote_every_rate()) continue;
    ++partial;
    std::vector<std::uint8_t> listed(p.num_flows(), 0);
    for (FlowIndex f : solver->written_flows()) listed[f] = 1;
    EXPECT_TRUE(listed[gone]) << "step " << step;
    for (FlowIndex f = 0; f < p.num_flows(); ++f) {
      if (!listed[f]) {
        ASSERT_EQ(rates[f], before[f]) << "step " << step << " flow " << f;
      }
    }
  }
  if (std::string(GetParam()) == "cpu") {
    EXPECT_GT(partial, 10);  // the reference writes partially when it can
  }
}

TEST_P(Solver, ARemovalReSolvesWhatItReachesAndNothingElse) {
  // Link S (capacity 1) is crossed by the bridges b1 (also on L1) and b2 (also on L2) and by s alone: shares 1/3, the
  // lowest level, so S saturates first and freezes b1, b2, s at 1/3. Group 1: 5 flows on L1 (capacity 5): level
  // (5 - 1/3)/5 ~ 0.93. Group 3: 50 flows on L3 (capacity 100), crossed also by group 1's last flow: level ~ 2. Group
  // 2: 1,000 flows on L2 (capacity 2,000): level ~ 2. (Distinct caps, far above the levels, keep every flow its own
  // variable.) Removing group 1's first flow raises group 1 (L1 loses a flow) and through its last flow takes more of
  // L3, lowering group 3; group 2 is joined to it only through b2, frozen before: untouched. Every backend must give
  // the fresh solve's rates; "cpu" must re-solve group 1 and group 3 but write no rate of group 2.
  RateProblem p;
  const auto S = p.add_link(1), L1 = p.add_link(5), L2 = p.add_link(2000), L3 = p.add_link(100);
  std::vector<FlowIndex> g1, g2, g3;
  double cap = 1000;
  flow(p, {S, L1});
  flow(p, {S, L2});
  flow(p, {S});
  for (int i = 0; i < 5; ++i) g1.push_back(i < 4 ? flow(p, {L1}, 1, cap++) : flow(p, {L1, L3}, 1, cap++));
  for (int i = 0; i < 1000; ++i) g2.push_back(flow(p, {L2}, 1, cap++));
  for (int i = 0; i < 50; ++i) g3.push_back(flow(p, {L3}, 1, cap++));
  auto solver = solver_for(GetParam());
  std::vector<double> rates;
  solver->solve(p, rates);
  const std::vector<double> before = rates;
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  alive[g1[0]] = 0;
  solver->remove_flows(p, {&g1[0], 1}, rates, RateSolver::Rates::kUnchanged);
  ASSERT_TRUE(equals_fresh_solve(p, alive, rates));
  EXPECT_GT(rates[g1[1]], before[g1[1]]);  // group 1 rose
  EXPECT_LT(rates[g3[0]], before[g3[0]]);  // group 3 fell
  for (FlowIndex f : g2) EXPECT_EQ(rates[f], before[f]);
  if (std::string(GetParam()) == "cpu") {
    ASSERT_FALSE(solver->wrote_every_rate());
    for (FlowIndex f : solver->written_flows())
      EXPECT_TRUE(std::find(g2.begin(), g2.end(), f) == g2.end()) << "group 2's flow " << f << " was re-solved";
  }
}

TEST_P(Solver, RemovingALargeMergedWeightLeavesTheSmallOne) {
  // Two identical flows merge into one variable of weight 1e16 + 1, which rounds to 1e16. When the heavy one finishes,
  // the light one is alone on a link of capacity 1 and must get all of it: its weight is summed again (1), not
  // 1e16 - 1e16 = 0 (a rate of 1/0).
  RateProblem p;
  const LinkIndex l = p.add_link(1.0);
  p.add_flow(1e16, kNoCap, {&l, 1}, std::vector<double>{1.0});
  p.add_flow(1.0, kNoCap, {&l, 1}, std::vector<double>{1.0});
  auto solver = solver_for(GetParam());
  std::vector<double> r;
  solver->solve(p, r);
  EXPECT_EQ(solver->stats().variables, 1u);
  const FlowIndex heavy = 0;
  solver->remove_flows(p, {&heavy, 1}, r, RateSolver::Rates::kUnchanged);
  EXPECT_EQ(r[0], 0.0);
  EXPECT_DOUBLE_EQ(r[1], 1.0);
}

TEST_P(Solver, CompletionsOnHashedPlanesMatchFreshSolves) {
  // The shape of data-parallel traffic on a building of hashed planes (the NSF preset): 48 NICs on 6 leaves, each NIC
  // spraying its flows over 8 planes (share 1/8 on each) where a hash picks one of 4 spines, so that collisions give
  // the flows many different levels, and levels that are equal in exact arithmetic come from different events
  // (capacities that are not round: their last bits differ). Flows finish one at a time, the fastest first (equal
  // sizes, as in a collective's step) and every third one at random, each removal checked against a fresh solve of
  // the flows left (1e-12 relative).
  // A re-solve that leaves out a variable at the removed level by rounding, or keeps an allocation that is not the
  // max-min one, fails here.
  const double nic = 98037338439.444717, port = 49018669219.722359;  // 800 and 400 Gb/s at NSF's payload efficiency
  const int nics = 128, leaves = 16, planes = 8, spines = 4;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
  RateProblem p;
  std::vector<LinkIndex> send(nics), recv(nics), up(leaves * planes * spines), down(leaves * planes * spines);
  for (int n = 0; n < nics; ++n) {
    send[n] = p.add_link(nic);
    recv[n] = p.add_link(nic);
  }
  for (std::size_t i = 0; i < up.size(); ++i) {
    up[i] = p.add_link(port);
    down[i] = p.add_link(port);
  }
  std::mt19937_64 rng(seed);
  for (int a = 0; a < nics; ++a)
    for (int k = 1; k <= 4; ++k) {  // 4 peers each, as PAT's steps overlap
      const int b = (a + k * 7) % nics;
      std::vector<LinkIndex> links{send[a], recv[b]};
      std::vector<double> shares{1.0, 1.0};
      for (int pl = 0; pl < planes; ++pl) {
        const auto s = static_cast<int>(rng() % spines);
        links.push_back(up[(a / 8 * planes + pl) * spines + s]);
        links.push_back(down[(b / 8 * planes + pl) * spines + s]);
        shares.insert(shares.end(), {1.0 / planes, 1.0 / planes});
      }
      p.add_flow(1.0, kNoCap, links, shares);
    }
  auto solver = solver_for(GetParam());
  std::vector<double> rates;
  solver->solve(p, rates);
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  for (std::size_t step = 0; step + 1 < p.num_flows(); ++step) {
    FlowIndex gone = fastest_alive(rates, alive);
    if (step % 3 == 2)  // and every third a flow drawn at random, anywhere in the order of levels
      do gone = static_cast<FlowIndex>(rng() % p.num_flows());
      while (!alive[gone]);
    alive[gone] = 0;
    solver->remove_flows(p, {&gone, 1}, rates, RateSolver::Rates::kUnchanged);
    ASSERT_TRUE(equals_fresh_solve(p, alive, rates)) << "seed " << seed << " step " << step;
  }
  }
}

TEST_P(Solver, LongRunsWithZeroCapacityLinksStayExact) {
  // 10,000 completions one at a time (the fastest first, as equal-size flows finish) on 12,000 flows over 60 links,
  // 5 of them failed (capacity 0: their flows stay at rate 0); one removal in twenty is of a flow drawn at random.
  // Every 2,000 the rates must equal a fresh solve of the flows left (1e-12 relative): no drift over a long run.
  auto p = random_problem(61, 60, 12000);
  for (LinkIndex l = 0; l < 5; ++l) p.set_capacity_Bps(l * 11, 0.0);
  auto solver = solver_for(GetParam());
  std::vector<double> rates;
  solver->solve(p, rates);
  std::vector<std::uint8_t> alive(p.num_flows(), 1);
  std::mt19937_64 rng(5);
  for (int step = 1; step <= 10000; ++step) {
    FlowIndex gone = fastest_alive(rates, alive);
    if (step % 20 == 0) {  // a flow drawn at random leaves (some are stopped by a failed link)
      do gone = static_cast<FlowIndex>(rng() % p.num_flows());
      while (!alive[gone]);
    }
    alive[gone] = 0;
    solver->remove_flows(p, {&gone, 1}, rates, RateSolver::Rates::kUnchanged);
    if (step % 2000 != 0) continue;
    ASSERT_TRUE(equals_fresh_solve(p, alive, rates)) << "step " << step;
  }
}

TEST_P(Solver, Deterministic) {
  auto p = random_problem(7, 100, 1000);
  auto a = solve(p), b = solve(p);
  EXPECT_EQ(a, b);  // bit for bit
}

TEST_P(Solver, BadInputIsRefused) {
  auto expect_error = [&](auto&& act, const char* what) {
    try {
      act();
      ADD_FAILURE() << "no error for " << what;
    } catch (const SolverInputError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  // Capacities are checked by the solve (set_capacity_Bps may change them after the flows are in).
  RateProblem nan;
  nan.add_link(std::nan(""));
  expect_error([&] { solve(nan); }, "link 0: capacity nan");
  RateProblem neg;
  neg.add_link(1);
  neg.add_link(-5);
  expect_error([&] { solve(neg); }, "link 1: capacity -5");
  RateProblem changed;
  changed.add_link(1);
  changed.set_capacity_Bps(0, std::numeric_limits<double>::infinity());
  expect_error([&] { solve(changed); }, "link 0: capacity inf");
  // Flows are checked when added, and a refused flow leaves the problem as it was.
  RateProblem p;
  p.add_link(1);
  LinkIndex l0 = 0, missing = 3;
  double zero = 0, big = 1.5, one = 1;
  const LinkIndex twice[] = {0, 0};
  const double ones[] = {1, 1};
  expect_error([&] { p.add_flow(1, kNoCap, {&l0, 1}, {&zero, 1}); }, "flow 0: coefficient 0 on link 0");
  expect_error([&] { p.add_flow(1, kNoCap, {&l0, 1}, {&big, 1}); }, "expected a value in (0, 1]");
  expect_error([&] { p.add_flow(1, kNoCap, {}, {}); }, "flow 0: crosses no link");
  expect_error([&] { p.add_flow(1, 0.0, {&l0, 1}, {&one, 1}); }, "flow 0: rate cap 0");
  expect_error([&] { p.add_flow(std::nan(""), kNoCap, {&l0, 1}, {&one, 1}); }, "flow 0: weight nan");
  expect_error([&] { p.add_flow(1, kNoCap, {&missing, 1}, {&one, 1}); }, "link 3 does not exist");
  expect_error([&] { p.add_flow(1, kNoCap, twice, ones); }, "flow 0: lists link 0 twice");
  expect_error([&] { p.add_flow(1, kNoCap, {&l0, 1}, ones); }, "1 links but 2 coefficients");
  EXPECT_EQ(p.num_flows(), 0u);
  EXPECT_EQ(p.num_entries(), 0u);
  p.add_flow(1, kNoCap, {&l0, 1}, {&one, 1});
  EXPECT_EQ(solve(p), std::vector<double>{1.0});
}

// Every backend of the build, and "cpu" with its local re-solve tried at every removal ("cpu-local": by default
// only removals with a tail longer than CpuRateSolver::kLocalFrom try it, and these instances are small).
std::vector<std::string> backends_under_test() {
  auto names = rate_solver_names();
  names.push_back("cpu-local");
  return names;
}

INSTANTIATE_TEST_SUITE_P(Backends, Solver, ::testing::ValuesIn(backends_under_test()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Certificate, CatchesWrongRates) {
  // The certificate must reject rates that are not max-min fair: here one flow 1% too fast (over capacity) and
  // one flow 1% too slow (no longer bottlenecked anywhere).
  RateProblem p;
  auto l = p.add_link(10);
  p.add_flow(1, kNoCap, std::vector<LinkIndex>{l}, std::vector<double>{1.0});
  p.add_flow(1, kNoCap, std::vector<LinkIndex>{l}, std::vector<double>{1.0});
  EXPECT_EQ(check_max_min(p, std::vector<double>{5, 5}), "");
  EXPECT_NE(check_max_min(p, std::vector<double>{5.05, 5}), "");
  EXPECT_NE(check_max_min(p, std::vector<double>{4.95, 4.95}), "");
  EXPECT_NE(check_max_min(p, std::vector<double>{4.95, 5.05}), "");  // B exceeds A on their only link: not fair
}

}  // namespace
}  // namespace collemu::models::solver
