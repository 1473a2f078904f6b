// FlowEngine: flows with sizes, start times, latencies and dependencies. Expected times are derived by hand in
// each test's comment, or come from run_to_completion (checked against SimGrid in tests/validation).
#include <gtest/gtest.h>

#include <random>

#include "models/flow_engine.hpp"
#include "models/solver/completion.hpp"
#include "models/solver/instances.hpp"

namespace collemu::models {
namespace {

using solver::LinkIndex;

TEST(FlowEngine, OneFlowTakesLatencyPlusBytesOverBandwidth) {
  // Alpha-beta: 1e9 B over a 1e9 B/s link after 2 us of latency finishes at 1 s + 2 us.
  FlowEngine e({1e9});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  auto f = e.add_flow(1e9, l, a, 2e-6);
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
  auto f1 = e.add_flow(1, l, a);
  auto f2 = e.add_flow(2, l, a);
  e.run();
  EXPECT_NEAR(e.finish_s(f1), 2.0, 1e-12);
  EXPECT_NEAR(e.finish_s(f2), 3.0, 1e-12);
  EXPECT_NEAR(e.makespan_s(), 3.0, 1e-12);
  EXPECT_EQ(e.stats().full_solves, 1u);
  EXPECT_EQ(e.stats().incremental_solves, 1u);
}

TEST(FlowEngine, ALateStarterSharesFromItsStart) {
  // Link of 1 B/s. A (2 B) alone during [0, 1] sends 1 B; B (0.5 B) starts at t = 1; both at 1/2: B is done at
  // t = 2, A has sent 0.5 B more and has 0.5 B left at full rate: t = 2.5.
  FlowEngine e({1.0});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  auto fa = e.add_flow(2, l, a);
  auto fb = e.add_flow(0.5, l, a, 0, {}, 1.0);
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
  auto fa = e.add_flow(2, l0, a1);
  auto fb = e.add_flow(2, l1, a1);
  auto fc = e.add_flow(0.5, both, a2, 0, {}, 1.0);
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
  FlowId prev = e.add_flow(S, l, a, alpha);
  for (int i = 1; i < k; ++i) {
    const FlowId d[] = {prev};
    prev = e.add_flow(S, l, a, alpha, d);
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
  auto f0 = e.add_flow(1, l0, a);
  auto f1 = e.add_flow(3, l1, a);
  const FlowId both[] = {f0, f1};
  auto bar = e.add_flow(0, {}, {}, 1e-6, both);
  const FlowId after_bar[] = {bar};
  auto next = e.add_flow(2, l0, a, 0, after_bar);
  e.run();
  EXPECT_NEAR(e.finish_s(bar), 3 + 1e-6, 1e-12);
  EXPECT_NEAR(e.finish_s(next), 5 + 1e-6, 1e-12);
}

TEST(FlowEngine, MatchesRunToCompletionOnARandomInstance) {
  // The same flows all starting at 0 with no latency: the engine's finish times equal run_to_completion's, which the
  // SimGrid oracle test checks independently.
  auto p = solver::random_rate_problem(17, 200, 2000);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> size(1, 100);
  std::vector<double> sizes(p.num_flows());
  for (auto& s : sizes) s = size(rng);
  auto ref_solver = solver::make_rate_solver("cpu");
  auto ref = solver::run_to_completion(*ref_solver, p, sizes);

  FlowEngine e(std::vector<double>(p.capacities().begin(), p.capacities().end()));
  for (solver::FlowIndex f = 0; f < p.num_flows(); ++f)
    e.add_flow(sizes[f], p.links(f), p.coefficients(f), 0, {}, 0, p.weight(f), p.cap_Bps(f));
  e.run();
  for (solver::FlowIndex f = 0; f < p.num_flows(); ++f)
    ASSERT_NEAR(e.finish_s(f), ref.finish_s[f], 1e-9 * ref.finish_s[f]) << "flow " << f;
}

TEST(FlowEngine, BadFlowsAreRejectedByName) {
  FlowEngine e({1.0});
  const LinkIndex l[] = {0}, bad[] = {3};
  const double a[] = {1.0}, big[] = {1.5};
  auto expect_error = [&](auto&& add, const std::string& needle) {
    try {
      add();
      FAIL() << "expected an error containing '" << needle << "'";
    } catch (const solver::SolverInputError& err) {
      EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
    }
  };
  expect_error([&] { e.add_flow(-1, l, a); }, "flow 0: size -1");
  expect_error([&] { e.add_flow(1, bad, a); }, "link 3 does not exist");
  expect_error([&] { e.add_flow(1, l, big); }, "coefficient 1.5");
  expect_error([&] { e.add_flow(1, {}, {}); }, "over no link");
  expect_error([&] { e.add_flow(1, l, a, std::nan("")); }, "latency");
  const FlowId later[] = {5};
  expect_error([&] { e.add_flow(1, l, a, 0, later); }, "depends on flow 5");
}

TEST(FlowEngine, AFlowOnADeadLinkIsAnErrorNotAHang) {
  FlowEngine e({0.0});
  const LinkIndex l[] = {0};
  const double a[] = {1.0};
  e.add_flow(1, l, a);
  EXPECT_THROW(e.run(), solver::SolverInputError);
}

}  // namespace
}  // namespace collemu::models
