// FlowEngine: flows with sizes, start times, latencies and dependencies. Expected times are derived by hand in
// each test's comment, or come from an independent reference loop (a fresh full solve of the flows left at every
// completion, no components, no incremental re-solve), itself checked against SimGrid in tests/validation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "models/solver/completion.hpp"
#include "models/solver/flow_engine.hpp"
#include "models/solver/instances.hpp"

namespace collemu::models::solver {
namespace {

TEST(FlowEngine, OneFlowTakesLatencyPlusBytesOverBandwidth) {
  // Alpha-beta: 1e9 B over a 1e9 B/s link after 2 us of latency finishes at 1 s + 2 us.
  FlowEngine e({1e9});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  auto f = e.add_flow({.bytes = 1e9, .links = l, .coefficients = a, .latency_s = 2e-6});
  e.run();
  EXPECT_DOUBLE_EQ(e.ready_s(f), 0.0);
  EXPECT_DOUBLE_EQ(e.send_start_s(f), 2e-6);
  EXPECT_NEAR(e.finish_s(f), 1.0 + 2e-6, 1e-15);
  EXPECT_DOUBLE_EQ(e.link_bytes()[0], 1e9);
}

TEST(FlowEngine, ACompletionFreesBandwidthForTheOther) {
  // Link of 1 B/s shared by flows of 1 B and 2 B: both at 1/2 until the first has sent 1 B (t = 2), when the second
  // has 1 B left and the whole link: it finishes at t = 3.
  FlowEngine e({1.0});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  auto f1 = e.add_flow({.bytes = 1, .links = l, .coefficients = a});
  auto f2 = e.add_flow({.bytes = 2, .links = l, .coefficients = a});
  e.run();
  EXPECT_NEAR(e.finish_s(f1), 2.0, 1e-12);
  EXPECT_NEAR(e.finish_s(f2), 3.0, 1e-12);
  EXPECT_NEAR(e.makespan_s(), 3.0, 1e-12);
  EXPECT_EQ(e.stats().full_solves, 1u);
  EXPECT_EQ(e.stats().incremental_solves, 1u);
}

TEST(FlowEngine, AFinishToleranceTiesFlowsWithinItOfTheirSendingTime) {
  // Link of 1e9 B/s; from t = 1 s two flows of B = 5e5 B and B (1 + d). Both at 5e8 B/s until the first is done at
  // t1 = 1 + 2B/C = 1.001 s; exact, the second then has d B left at the whole link: it ends at t1 + d B/C. At t1 its
  // projected end is 1 + 2B(1 + d)/C: 2 B d / C after t1, of a sending time of 2B(1 + d)/C, so a finish tolerance tol
  // ties it to t1 when d <= tol (1 + d), and only then (a tolerance on the clock, tol x t1, would tie any d up to 0.1).
  const double C = 1e9, B = 5e5, tol = 1e-4, t1 = 1.0 + 2 * B / C;
  const LinkIndex l[] = {0};
  for (const double d : {0.5e-4, 2e-4}) {
    for (const double tolerance : {0.0, tol}) {
      FlowEngine e({C}, rate_solver_factory("cpu"), {.finish_tolerance = tolerance});
      const FlowId a = e.add_flow({.bytes = B, .links = l, .start_s = 1.0});
      const FlowId b = e.add_flow({.bytes = B * (1 + d), .links = l, .start_s = 1.0});
      e.run();
      EXPECT_NEAR(e.finish_s(a), t1, 1e-15);
      const bool ties = tolerance > 0 && d <= tolerance * (1 + d);
      EXPECT_NEAR(e.finish_s(b), ties ? t1 : t1 + d * B / C, 1e-15) << "d " << d << " tolerance " << tolerance;
      EXPECT_DOUBLE_EQ(e.link_bytes()[0], B * (2 + d));  // a tied flow's bytes count in full
      EXPECT_EQ(e.stats().events, ties ? 2u : 3u);          // its start, then one completion event or two
    }
  }
  // A flow that another waits for (here a 0-byte barrier after it) finishes exactly even within the tolerance: early
  // ends would add up along chains. The barrier is done with it, at t1 + d B/C.
  {
    const double d = 0.5e-4;
    FlowEngine e({C}, rate_solver_factory("cpu"), {.finish_tolerance = tol});
    e.add_flow({.bytes = B, .links = l, .start_s = 1.0});
    const FlowId b = e.add_flow({.bytes = B * (1 + d), .links = l, .start_s = 1.0});
    const FlowId after_b[] = {b};
    const FlowId w = e.add_flow({.bytes = 0, .after = after_b});
    e.run();
    EXPECT_NEAR(e.finish_s(b), t1 + d * B / C, 1e-15);
    EXPECT_NEAR(e.finish_s(w), t1 + d * B / C, 1e-15);
    EXPECT_EQ(e.stats().events, 3u);
  }
  // Outside [0, 0.01]: refused, naming it.
  for (const double bad : {-1e-6, 0.02, std::numeric_limits<double>::quiet_NaN()})
    EXPECT_THROW(FlowEngine({C}, rate_solver_factory("cpu"), {.finish_tolerance = bad}), SolverInputError);
}

TEST(FlowEngine, ALateStarterSharesFromItsStart) {
  // Link of 1 B/s. A (2 B) alone during [0, 1] sends 1 B; B (0.5 B) starts at t = 1; both at 1/2: B is done at
  // t = 2, A has sent 0.5 B more and has 0.5 B left at full rate: t = 2.5.
  FlowEngine e({1.0});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  auto fa = e.add_flow({.bytes = 2, .links = l, .coefficients = a});
  auto fb = e.add_flow({.bytes = 0.5, .links = l, .coefficients = a, .start_s = 1.0});
  e.run();
  EXPECT_NEAR(e.finish_s(fb), 2.0, 1e-12);
  EXPECT_NEAR(e.finish_s(fa), 2.5, 1e-12);
  EXPECT_EQ(e.stats().full_solves, 2u);  // at 0 and at 1
}

TEST(FlowEngine, DisjointFlowsAreSolvedApartAndABridgeMergesThem) {
  // Links 0 and 1 of 1 B/s. A (2 B) on link 0 and B (2 B) on link 1 are separate components. C (0.5 B) starts at
  // t = 1 over both links: at t = 1 A and B have 1 B left, all three run at 1/2 (each link: one of A/B plus C);
  // C is done at t = 2, A and B then have 0.5 B left at full rate: t = 2.5.
  FlowEngine e({1.0, 1.0});
  const LinkIndex l0[] = {0}, l1[] = {1}, both[] = {0, 1};
  const double a1[] = {1.0}, a2[] = {1.0, 1.0};
  auto fa = e.add_flow({.bytes = 2, .links = l0, .coefficients = a1});
  auto fb = e.add_flow({.bytes = 2, .links = l1, .coefficients = a1});
  auto fc = e.add_flow({.bytes = 0.5, .links = both, .coefficients = a2, .start_s = 1.0});
  e.run();
  EXPECT_NEAR(e.finish_s(fc), 2.0, 1e-12);
  EXPECT_NEAR(e.finish_s(fa), 2.5, 1e-12);
  EXPECT_NEAR(e.finish_s(fb), 2.5, 1e-12);
  EXPECT_EQ(e.stats().full_solves, 3u);  // A and B apart at t = 0, then A + B + C
  EXPECT_EQ(e.stats().max_component, 3u);
}

TEST(FlowEngine, DependentStepsAddUpLikeTheAlphaBetaFormula) {
  // A chain of k steps, each S bytes over a B link after alpha: k (alpha + S / B).
  const int k = 7;
  const double S = 3e6, B = 2e9, alpha = 5e-6;
  FlowEngine e({B});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  FlowId prev = e.add_flow({.bytes = S, .links = l, .coefficients = a, .latency_s = alpha});
  for (int i = 1; i < k; ++i) {
    const FlowId d[] = {prev};
    prev = e.add_flow({.bytes = S, .links = l, .coefficients = a, .latency_s = alpha, .after = d});
  }
  e.run();
  EXPECT_NEAR(e.makespan_s(), k * (alpha + S / B), 1e-15 * k);
}

TEST(FlowEngine, AZeroByteFlowIsABarrier) {
  // Two flows on separate links finish at 1 s and 3 s; a zero-byte flow with latency 1 us depends on both and
  // finishes at 3 s + 1 us; a flow after it starts then.
  FlowEngine e({1.0, 1.0});
  const LinkIndex l0[] = {0}, l1[] = {1};
  const double a[] = {1.0};
  auto f0 = e.add_flow({.bytes = 1, .links = l0, .coefficients = a});
  auto f1 = e.add_flow({.bytes = 3, .links = l1, .coefficients = a});
  const FlowId both[] = {f0, f1};
  auto bar = e.add_flow({.latency_s = 1e-6, .after = both});
  const FlowId after_bar[] = {bar};
  auto next = e.add_flow({.bytes = 2, .links = l0, .coefficients = a, .after = after_bar});
  e.run();
  EXPECT_NEAR(e.finish_s(bar), 3 + 1e-6, 1e-12);
  EXPECT_NEAR(e.finish_s(next), 5 + 1e-6, 1e-12);
}

// The reference: all flows start at 0; at every event a fresh solver solves the flows left from scratch (one problem,
// no components, no incremental state), time advances to the next completion, and flows within 1e-12 of their end
// finish. Nothing of the engine's machinery is shared with it but RateProblem and the "cpu" solve.
std::vector<double> fresh_solve_completion(const RateProblem& p, const std::vector<double>& sizes) {
  std::vector<double> remaining = sizes, finish(p.num_flows(), 0.0);
  std::vector<FlowIndex> left;
  for (FlowIndex f = 0; f < p.num_flows(); ++f)
    if (sizes[f] > 0) left.push_back(f);
  double now = 0;
  while (!left.empty()) {
    RateProblem q;
    for (LinkIndex l = 0; l < p.num_links(); ++l) q.add_link(p.capacity_Bps(l));
    for (FlowIndex f : left) q.add_flow(p.weight(f), p.cap_Bps(f), p.links(f), p.coefficients(f));
    std::vector<double> rates;
    make_rate_solver("cpu")->solve(q, rates);
    double dt = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < left.size(); ++i)
      if (rates[i] > 0) dt = std::min(dt, remaining[left[i]] / rates[i]);
    now += dt;
    std::vector<FlowIndex> kept;
    for (std::size_t i = 0; i < left.size(); ++i) {
      const FlowIndex f = left[i];
      if (rates[i] * dt >= remaining[f] * (1 - 1e-12)) {
        finish[f] = now;
      } else {
        remaining[f] -= rates[i] * dt;
        kept.push_back(f);
      }
    }
    left = std::move(kept);
  }
  return finish;
}

TEST(FlowEngine, MatchesFreshSolvesAtEveryCompletionOnRandomInstances) {
  // The same flows all starting at 0 with no latency, in several components (blocks of links that random flows rarely
  // bridge): the engine (components, incremental re-solves, lazy progress, shared solutions) against the reference.
  for (std::uint64_t seed : {17u, 18u, 19u}) {
    auto p = random_rate_problem(seed, 200, 600);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> size(1, 100);
    std::vector<double> sizes(p.num_flows());
    for (auto& s : sizes) s = size(rng);
    const auto ref = fresh_solve_completion(p, sizes);
    FlowEngine e(std::vector<double>(p.capacities().begin(), p.capacities().end()));
    for (FlowIndex f = 0; f < p.num_flows(); ++f)
      e.add_flow({.bytes = sizes[f], .links = p.links(f), .coefficients = p.coefficients(f), .weight = p.weight(f),
                  .cap_Bps = p.cap_Bps(f)});
    e.run();
    for (FlowIndex f = 0; f < p.num_flows(); ++f)
      ASSERT_NEAR(e.finish_s(f), ref[f], 1e-9 * ref[f]) << "seed " << seed << " flow " << f;
    // run_to_completion is the same loop over the engine.
    const auto run = run_to_completion(rate_solver_factory("cpu"), p, sizes);
    for (FlowIndex f = 0; f < p.num_flows(); ++f) ASSERT_EQ(run.finish_s[f], e.finish_s(f));
  }
}

// K copies of one small network on disjoint links (capacities 1, 2, 1.5 and 3 B/s; six flows, one capped, one sprayed
// over two links), run with and without sharing identical components' solutions.
struct Copies {
  std::vector<double> finish;
  FlowEngineStats stats;
};
Copies run_copies(int K, bool share, bool diverge) {
  std::vector<double> caps;
  for (int k = 0; k < K; ++k) caps.insert(caps.end(), {1.0, 2.0, 1.5, 3.0});
  FlowEngine e(caps, rate_solver_factory("cpu"), {.share_identical_components = share});
  for (int k = 0; k < K; ++k) {
    const LinkIndex b = static_cast<LinkIndex>(4 * k);
    const LinkIndex l01[] = {b, b + 1}, l12[] = {b + 1, b + 2}, l23[] = {b + 2, b + 3}, l03[] = {b, b + 3},
                    l1[] = {b + 1}, l02[] = {b, b + 2};
    const double half[] = {0.5, 0.5};
    // Diverging copies: copy k's first flow is (1 + k/10) times as large, so copies lose flows at different events.
    e.add_flow({.bytes = diverge ? 3.0 * (1 + 0.1 * k) : 3.0, .links = l01});
    e.add_flow({.bytes = 2.0, .links = l12});
    e.add_flow({.bytes = 4.0, .links = l23});
    e.add_flow({.bytes = 1.0, .links = l03, .coefficients = half});
    e.add_flow({.bytes = 2.5, .links = l1, .cap_Bps = 0.3});
    e.add_flow({.bytes = 5.0, .links = l02, .weight = 2.0});
  }
  e.run();
  Copies out;
  for (FlowId f = 0; f < e.num_flows(); ++f) out.finish.push_back(e.finish_s(f));
  out.stats = e.stats();
  return out;
}

TEST(FlowEngine, IdenticalDisjointComponentsSolvedOnceEqualSolvingEach) {
  // Shared: the first copy's component is solved, the other K - 1 take its solution (they lose the same flows at the
  // same events, so they stay shared). Bit for bit the finish times of solving each copy on its own.
  const int K = 12;
  const Copies shared = run_copies(K, true, false), each = run_copies(K, false, false);
  EXPECT_EQ(shared.stats.shared_solves, static_cast<std::size_t>(K - 1));
  EXPECT_EQ(each.stats.shared_solves, 0u);
  EXPECT_LT(shared.stats.incremental_solves * 2, each.stats.incremental_solves);  // one re-solve per event, not K
  ASSERT_EQ(shared.finish.size(), each.finish.size());
  for (std::size_t f = 0; f < shared.finish.size(); ++f) EXPECT_EQ(shared.finish[f], each.finish[f]) << "flow " << f;
  // Every copy finishes as the first does.
  for (std::size_t f = 6; f < shared.finish.size(); ++f) EXPECT_EQ(shared.finish[f], shared.finish[f % 6]);
}

TEST(FlowEngine, SharedComponentsThatDivergeGetTheirOwnSolverAndStayExact) {
  // Identical at the start (shared), then each copy's first flow finishes at another time: the copy that loses a flow
  // first gets a copy of the shared solver state (re-made by replaying its calls), and so on. Still bit for bit the
  // unshared run, and the copies' times differ.
  const int K = 6;
  const Copies shared = run_copies(K, true, true), each = run_copies(K, false, true);
  EXPECT_EQ(shared.stats.shared_solves, static_cast<std::size_t>(K - 1));
  ASSERT_EQ(shared.finish.size(), each.finish.size());
  for (std::size_t f = 0; f < shared.finish.size(); ++f) EXPECT_EQ(shared.finish[f], each.finish[f]) << "flow " << f;
  EXPECT_NE(shared.finish[0], shared.finish[6]);
}

TEST(FlowEngine, OnlineFlowsAtTheClockOrLaterAndWhatFinishedIsReported) {
  // Link of 1 B/s. A (2 B) from 0; the caller advances to 1 (nothing finished: A has 1 B left) and adds B (1 B) now and
  // C (1 B) to start at 3. A and B share 1/2 each: both done at 3 (A: 1 B at 1/2; B: 1 B at 1/2). C then runs alone:
  // done at 4. Flows finishing at one time are reported by id; a start in the past is refused.
  FlowEngine e({1.0});
  const LinkIndex l[] = {0};
  const FlowId a = e.add_flow({.bytes = 2, .links = l});
  EXPECT_DOUBLE_EQ(e.next_event_s(), 0.0);  // A's (zero) latency timer
  EXPECT_TRUE(e.advance_to(1.0).empty());
  EXPECT_DOUBLE_EQ(e.now_s(), 1.0);
  EXPECT_DOUBLE_EQ(e.next_event_s(), 2.0);  // A alone would be done at 2
  const FlowId b = e.add_flow({.bytes = 1, .links = l});
  const FlowId c = e.add_flow({.bytes = 1, .links = l, .start_s = 3.0});
  EXPECT_THROW(e.add_flow({.bytes = 1, .links = l, .start_s = 0.5}), SolverInputError);
  EXPECT_THROW(e.advance_to(0.5), SolverInputError);
  const auto done = e.advance_to(3.5);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].flow, a);
  EXPECT_EQ(done[1].flow, b);
  EXPECT_NEAR(done[0].time_s, 3.0, 1e-12);
  EXPECT_NEAR(done[1].time_s, 3.0, 1e-12);
  EXPECT_NEAR(e.rate_Bps(c), 1.0, 1e-12);
  EXPECT_FALSE(e.done());
  e.run();
  EXPECT_NEAR(e.finish_s(c), 4.0, 1e-12);
  EXPECT_TRUE(e.done());
  EXPECT_EQ(e.next_event_s(), std::numeric_limits<double>::infinity());
}

// Released flows: their pages are freed once full and all released, and nothing else changes. Two waves of 35,000
// flows (a page of 65,536 and more) on 1,000 links, each wave added when the one before is done: each flow on one link, or
// on two with shares (half of them), sizes drawn per link. Run twice, once releasing every flow as soon as it is
// reported finished: the same finish times bit for bit, and the first pages gone.
TEST(FlowEngine, ReleasedFlowsFreeTheirPagesAndChangeNothingElse) {
  constexpr std::size_t kLinks = 1000, kWave = 35000;
  auto run = [&](bool release, std::vector<double>& finish) {
    FlowEngine e(std::vector<double>(kLinks, 1e9));
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::size_t> link(0, kLinks - 1);
    std::uniform_real_distribution<double> size(1e5, 1e7), share(0.1, 1.0);
    finish.clear();
    for (int w = 0; w < 2; ++w) {
      for (std::size_t i = 0; i < kWave; ++i) {
        const LinkIndex l1 = static_cast<LinkIndex>(link(rng)), l2 = static_cast<LinkIndex>((l1 + 1) % kLinks);
        const LinkIndex two[] = {l1, l2};
        const double a[] = {share(rng), share(rng)};
        if (i % 2)
          e.add_flow({.bytes = size(rng), .links = two, .coefficients = a});
        else
          e.add_flow({.bytes = size(rng), .links = {two, 1}});
      }
      while (!e.done())
        for (const FinishedFlow& d : e.advance_to(e.next_event_s())) {
          if (finish.size() <= d.flow) finish.resize(d.flow + 1, -1);
          finish[d.flow] = d.time_s;
          if (release) e.release(d.flow, 1);
        }
    }
    if (release) EXPECT_THROW(e.finish_s(0), SolverInputError);  // the first page is gone
    return e.num_released();
  };
  std::vector<double> kept, released;
  EXPECT_EQ(run(false, kept), 0u);
  EXPECT_EQ(run(true, released), 2 * kWave);
  ASSERT_EQ(kept.size(), released.size());
  for (std::size_t f = 0; f < kept.size(); ++f) ASSERT_EQ(kept[f], released[f]) << "flow " << f;

  // The accessors, on a small engine of one page: a released flow counts as finished; its record stays until its page
  // is full and released (here it never is), and it can no longer be waited for.
  FlowEngine e({1.0});
  const LinkIndex l[] = {0};
  const FlowId a = e.add_flow({.bytes = 1, .links = l});
  const FlowId b = e.add_flow({.bytes = 1, .links = l, .start_s = 5});
  e.advance_to(2.0);
  EXPECT_THROW(e.release(b, 1), SolverInputError);  // not finished
  EXPECT_THROW(e.release(a, 2), SolverInputError);  // b among them: nothing released
  EXPECT_THROW(e.release(a, 3), SolverInputError);  // past the last flow
  e.release(a, 1);
  EXPECT_THROW(e.release(a, 1), SolverInputError);  // twice
  EXPECT_TRUE(e.finished(a));
  EXPECT_DOUBLE_EQ(e.finish_s(a), 1.0);
  EXPECT_THROW(e.add_flow({.bytes = 1, .links = l, .after = std::span<const FlowId>(&a, 1)}), SolverInputError);
  EXPECT_EQ(e.num_released(), 1u);
}

// A page freed: its flows' accessors throw, finished() is true and rate_Bps() 0, a re-route of one is refused; a flow
// over more links than an arena block (a lockstep collective's) is stored whole.
TEST(FlowEngine, AFreedPageIsGoneAndLongFlowsFit) {
  constexpr std::size_t kPage = 1 << 16, kLinks = 70000;
  FlowEngine e(std::vector<double>(kLinks, 1.0));
  std::vector<LinkIndex> all(kLinks);
  for (LinkIndex l = 0; l < kLinks; ++l) all[l] = l;
  for (std::size_t i = 0; i < kPage; ++i) e.add_flow({.latency_s = 1.0});  // timers: done at 1 s
  const FlowId wide = e.add_flow({.bytes = 2, .links = all});              // 2 B at 1 B/s on every link
  e.advance_to(1.5);
  e.release(0, kPage);
  EXPECT_TRUE(e.finished(0));
  EXPECT_EQ(e.rate_Bps(0), 0.0);
  EXPECT_THROW(e.finish_s(kPage - 1), SolverInputError);
  const Reroute moved{0, {all.data(), 1}};
  EXPECT_THROW(e.update({&moved, 1}), SolverInputError);
  EXPECT_EQ(e.links(wide).size(), kLinks);
  EXPECT_EQ(e.links(wide)[kLinks - 1], kLinks - 1);
  e.run();
  EXPECT_DOUBLE_EQ(e.finish_s(wide), 2.0);
}

TEST(FlowEngine, BadFlowsAreRejectedByName) {
  FlowEngine e({1.0});
  const LinkIndex l[] = {0}, bad[] = {3};
  const double a[] = {1.0}, big[] = {1.5};
  auto expect_error = [&](auto&& add, const std::string& needle) {
    try {
      add();
      FAIL() << "expected an error containing '" << needle << "'";
    } catch (const SolverInputError& err) {
      EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
    }
  };
  expect_error([&] { e.add_flow({.bytes = -1, .links = l, .coefficients = a}); }, "flow 0: size -1");
  expect_error([&] { e.add_flow({.bytes = 1, .links = bad, .coefficients = a}); }, "link 3 does not exist");
  expect_error([&] { e.add_flow({.bytes = 1, .links = l, .coefficients = big}); }, "coefficient 1.5");
  expect_error([&] { e.add_flow({.bytes = 1}); }, "over no link");
  expect_error([&] { e.add_flow({.bytes = 1, .links = l, .coefficients = a, .latency_s = std::nan("")}); }, "latency");
  const FlowId later[] = {5};
  expect_error([&] { e.add_flow({.bytes = 1, .links = l, .coefficients = a, .after = later}); }, "waits for flow 5");
  // Refused when added, not at a re-solve in the middle of a run: a link listed twice, a weight of 0.
  const LinkIndex twice[] = {0, 0};
  expect_error([&] { e.add_flow({.bytes = 1, .links = twice}); }, "lists link 0 twice");
  expect_error([&] { e.add_flow({.bytes = 1, .links = l, .weight = 0}); }, "weight 0");
  EXPECT_EQ(e.num_flows(), 0u);
}

TEST(FlowEngine, AFlowOnADeadLinkIsAnErrorNotAHang) {
  FlowEngine e({0.0});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  e.add_flow({.bytes = 1, .links = l, .coefficients = a});
  EXPECT_THROW(e.run(), SolverInputError);
}

// ---- update(): flows that move and links that change capacity at a time (failures at a time) ----

TEST(FlowEngine, AFlowMovedInFlightKeepsWhatItSentAndFinishesOnItsNewLink) {
  // 1e9 B on link 0 (1e9 B/s): at 0.25 s it has sent 2.5e8 B. Moved to link 1 (5e8 B/s), the 7.5e8 B left take 1.5 s:
  // it finishes at 1.75 s. Link 0 carried 2.5e8 B, link 1 7.5e8 B.
  FlowEngine e({1e9, 5e8});
  const LinkIndex l0[] = {0}, l1[] = {1};
  const FlowId f = e.add_flow({.bytes = 1e9, .links = l0});
  e.advance_to(0.25);
  const Reroute r[] = {{f, l1}};
  e.update(r);
  EXPECT_DOUBLE_EQ(e.rate_Bps(f), 5e8);
  EXPECT_EQ(e.links(f)[0], 1u);
  e.run();
  EXPECT_NEAR(e.finish_s(f), 1.75, 1e-12);
  EXPECT_NEAR(e.link_bytes()[0], 2.5e8, 1e-3);
  EXPECT_NEAR(e.link_bytes()[1], 7.5e8, 1e-3);
}

TEST(FlowEngine, AMovedFlowSharesItsNewLinkAndFreesItsOldOne) {
  // Flows a and b (1e9 B each) share link 0 (1e9 B/s) at 5e8 B/s. At 0.5 s both have 7.5e8 B left; b moves to link 1
  // (1e9 B/s, empty). The component they leave is solved again: a gets all of link 0, b all of link 1, and both
  // finish at 0.5 + 0.75 = 1.25 s. A third flow c (1e9 B) alone on link 2 is moved onto link 1 at the same time: b
  // and c then share link 1 at 5e8 B/s: b's 7.5e8 B left take 1.5 s, c's 5e8 B left take 1 s (c at 1.5 s; then b,
  // with 2.5e8 B left, gets 1e9 B/s: 0.25 s more, 1.75 s).
  FlowEngine e({1e9, 1e9, 1e9});
  const LinkIndex l0[] = {0}, l1[] = {1}, l2[] = {2};
  const FlowId a = e.add_flow({.bytes = 1e9, .links = l0});
  const FlowId b = e.add_flow({.bytes = 1e9, .links = l0});
  const FlowId c = e.add_flow({.bytes = 1e9, .links = l2});
  e.advance_to(0.5);
  const Reroute r[] = {{b, l1}};
  e.update(r);
  EXPECT_DOUBLE_EQ(e.rate_Bps(a), 1e9);
  EXPECT_DOUBLE_EQ(e.rate_Bps(b), 1e9);
  const Reroute r2[] = {{c, l1}};
  e.update(r2);
  EXPECT_DOUBLE_EQ(e.rate_Bps(b), 5e8);
  EXPECT_DOUBLE_EQ(e.rate_Bps(c), 5e8);
  e.run();
  EXPECT_NEAR(e.finish_s(a), 1.25, 1e-12);
  EXPECT_NEAR(e.finish_s(c), 1.5, 1e-12);
  EXPECT_NEAR(e.finish_s(b), 1.75, 1e-12);
  // Bytes per link: link 0 had a's 1e9 and b's 2.5e8; link 2 c's 5e8; link 1 b's 7.5e8 and c's 5e8.
  EXPECT_NEAR(e.link_bytes()[0], 1.25e9, 1e-3);
  EXPECT_NEAR(e.link_bytes()[1], 1.25e9, 1e-3);
  EXPECT_NEAR(e.link_bytes()[2], 5e8, 1e-3);
}

TEST(FlowEngine, ACapacityChangeReSolvesItsComponent) {
  // 1e9 B at 1e9 B/s; at 0.5 s the link drops to 2.5e8 B/s: the 5e8 B left take 2 s, 2.5 s in all. A flow on another
  // link keeps its rate. A link that drops to 0 stops its flows: nothing more happens (next event at infinity).
  FlowEngine e({1e9, 1e9});
  const LinkIndex l0[] = {0}, l1[] = {1};
  const FlowId f = e.add_flow({.bytes = 1e9, .links = l0});
  const FlowId g = e.add_flow({.bytes = 4e9, .links = l1});
  e.advance_to(0.5);
  const CapacityChange c[] = {{0, 2.5e8}};
  e.update({}, c);
  EXPECT_DOUBLE_EQ(e.capacity_Bps(0), 2.5e8);
  EXPECT_DOUBLE_EQ(e.rate_Bps(g), 1e9);
  e.advance_to(3.0);
  EXPECT_NEAR(e.finish_s(f), 2.5, 1e-12);
  const CapacityChange dead[] = {{1, 0.0}};
  e.update({}, dead);
  EXPECT_EQ(e.rate_Bps(g), 0.0);
  EXPECT_EQ(e.next_event_s(), std::numeric_limits<double>::infinity());
  EXPECT_FALSE(e.finished(g));
}

TEST(FlowEngine, AFlowNotYetSendingIsMovedBeforeItStarts) {
  // b waits for a (1e9 B on link 0 at 1e9 B/s: done at 1 s). Moved to link 1 (5e8 B/s) at 0.5 s, b (1e9 B, 1 us of
  // latency) sends there from 1 s + 1 us and finishes 2 s later, at 3 s + 1 us; link 0 carries a's bytes only.
  FlowEngine e({1e9, 5e8});
  const LinkIndex l0[] = {0}, l1[] = {1};
  const FlowId a = e.add_flow({.bytes = 1e9, .links = l0});
  const FlowId wait[] = {a};
  const FlowId b = e.add_flow({.bytes = 1e9, .links = l0, .latency_s = 1e-6, .after = wait});
  e.advance_to(0.5);
  const Reroute r[] = {{b, l1}};
  e.update(r);
  e.run();
  EXPECT_NEAR(e.finish_s(b), 3.0 + 1e-6, 1e-12);
  EXPECT_NEAR(e.link_bytes()[0], 1e9, 1e-3);
  EXPECT_NEAR(e.link_bytes()[1], 1e9, 1e-3);
}

TEST(FlowEngine, BadUpdatesAreRefusedAndChangeNothing) {
  FlowEngine e({1e9, 1e9});
  const LinkIndex l0[] = {0}, l1[] = {1}, nowhere[] = {7};
  const FlowId a = e.add_flow({.bytes = 1e6, .links = l0});
  const FlowId b = e.add_flow({.bytes = 1e9, .links = l0});
  e.advance_to(0.01);  // a finished at 2e-3 s (5e8 B/s while both sent)
  ASSERT_TRUE(e.finished(a));
  auto expect_error = [](auto fn, const std::string& what) {
    try {
      fn();
      ADD_FAILURE() << "no error; expected one mentioning " << what;
    } catch (const SolverInputError& err) {
      EXPECT_NE(std::string(err.what()).find(what), std::string::npos) << err.what();
    }
  };
  const Reroute finished[] = {{a, l1}};
  expect_error([&] { e.update(finished); }, "it finished");
  const Reroute twice[] = {{b, l1}, {b, l1}};
  expect_error([&] { e.update(twice); }, "twice");
  const Reroute unknown[] = {{b, nowhere}};
  expect_error([&] { e.update(unknown); }, "7");
  const Reroute none[] = {{9, l1}};
  expect_error([&] { e.update(none); }, "no such flow");
  const CapacityChange bad[] = {{0, -1.0}}, missing[] = {{5, 1.0}};
  expect_error([&] { e.update({}, bad); }, "capacity -1");
  expect_error([&] { e.update({}, missing); }, "no such link");
  // Nothing changed: b still alone on link 0 at 1e9 B/s.
  EXPECT_EQ(e.links(b)[0], 0u);
  EXPECT_DOUBLE_EQ(e.rate_Bps(b), 1e9);
  EXPECT_DOUBLE_EQ(e.capacity_Bps(0), 1e9);
}

}  // namespace
}  // namespace collemu::models::solver
