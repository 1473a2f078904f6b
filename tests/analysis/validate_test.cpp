// collemu validate's pairing: measured times made from the replay itself, each scaled by a known factor, come back as
// errors of exactly that factor, op by op (the right rank and op) and over each rank's span; a trace without measured
// communication times is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>

#include "analysis/validate.hpp"
#include "collectives/coll.hpp"
#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/placement.hpp"
#include "tests/analysis/node_trace.hpp"

namespace collemu::analysis {
namespace {

using traces::Op;
using traces::OpKind;

traces::Trace four_ranks() { return testing::node_trace(2); }

emulator::ReplayReport replayed(const traces::Trace& t) { return testing::replay_on_building(t, {}, measured_ranks(t)); }

TEST(Validate, MeasuredTimesPairWithTheirOpsAndRanks) {
  traces::Trace t = four_ranks();
  // First a replay to take the times from, with every rank recorded.
  t.measured.assign(4, std::vector<traces::OpTime>(6));
  for (auto& m : t.measured) m[0].start_s = 0;  // observed: the ranks get recorded
  const auto truth = replayed(t);
  ASSERT_EQ(truth.rank_ops.size(), 24u);
  // Measured = the replay's times x (1 + e), e different for every (rank, op), starts as the replay's.
  auto e = [](std::uint32_t r, std::uint32_t i) { return 0.01 * (1 + r) + 0.001 * i; };
  for (const auto& o : truth.rank_ops) {
    traces::OpTime& m = t.measured[o.rank][o.op];
    m.start_s = o.start_s;
    m.duration_s = o.kind == OpKind::Compute ? o.end_s - o.start_s : (o.end_s - o.start_s) * (1 + e(o.rank, o.op));
  }
  t.measured[3].assign(6, {});  // rank 3: nothing measured
  const Validation v = compare_measured(t, replayed(t));
  ASSERT_EQ(v.ops.size(), 12u);  // ranks 0-2, 2 collectives each, twice
  for (const OpPair& p : v.ops) {
    EXPECT_LT(p.rank, 3u);
    EXPECT_EQ(p.kind, OpKind::Collective);
    EXPECT_EQ(p.bytes, p.coll == common::CollKind::AllReduce ? 4.0 * (1 << 22) : 4.0 * (1 << 18));
    EXPECT_NEAR(p.measured_s / p.predicted_s - 1, e(p.rank, p.op), 1e-12) << p.rank << " " << p.op;
  }
  // The group statistics: allreduce and allgather, then all; the median error of AllReduce (ops 1 and 4 of ranks
  // 0-2: e = 0.011, 0.014, 0.021, 0.024, 0.031, 0.034) is 0.0225.
  ASSERT_GE(v.groups.size(), 3u);
  EXPECT_EQ(v.groups[0].label, "allreduce 16MiB-64MiB");
  EXPECT_NEAR(v.groups[0].median_signed, 0.0225, 1e-12);
  EXPECT_NEAR(v.groups[0].max_abs, 0.034, 1e-12);
  EXPECT_EQ(v.groups[1].label, "allgather 1MiB-4MiB");
  // All 12: e = 0.011, 0.012, 0.014, 0.015 (rank 0), 0.021 ... (rank 1), 0.031 ... 0.035 (rank 2). Median (6th and 7th)
  // 0.023, p90 the 11th (nearest rank: ceil(0.9 x 12)) 0.034, worst 0.035, mean 0.276 / 12 = 0.023.
  const PairStats& all = v.groups[2];
  ASSERT_EQ(all.label, "all");
  EXPECT_EQ(all.n, 12);
  EXPECT_NEAR(all.median_abs, 0.023, 1e-12);
  EXPECT_NEAR(all.p90_abs, 0.034, 1e-12);
  EXPECT_NEAR(all.max_abs, 0.035, 1e-12);
  EXPECT_NEAR(all.mean_signed, 0.023, 1e-12);
  // Spans: a rank's measured span is from its first op's start to the latest end of its ops as measured (each
  // collective (1 + e) times longer), the replay's over the same ops to their latest end.
  ASSERT_EQ(v.spans.size(), 3u);
  for (const SpanPair& s : v.spans) {
    double first = 1e300, m_end = 0, p_end = 0;
    for (const auto& o : truth.rank_ops) {
      if (o.rank != s.rank) continue;
      first = std::min(first, o.start_s);
      p_end = std::max(p_end, o.end_s);
      m_end = std::max(m_end, o.start_s + t.measured[o.rank][o.op].duration_s);
    }
    EXPECT_NEAR(s.measured_s, m_end - first, 1e-15);
    EXPECT_NEAR(s.predicted_s, p_end - first, 1e-15);
    EXPECT_GT(s.measured_s, s.predicted_s);
    EXPECT_EQ(s.ops, 6u);
  }
}

// A send is done for its program when posted (the replay's NCCL grouped isend): not paired, whatever was measured of
// it; its receive is, with the transfer's time.
TEST(Validate, SendsAreNotPairedTheirReceivesAre) {
  traces::Trace t;
  t.source = "p2p trace";
  t.reset_ranks(2, "test");
  t.comms = {{"pair", {0, 1}, 2}};
  for (std::uint32_t r = 0; r < 2; ++r) {
    t.slot_for(r, 0);
    Op x;
    x.kind = r == 0 ? OpKind::Send : OpKind::Recv;
    x.coll = r == 0 ? common::CollKind::Send : common::CollKind::Recv;
    x.dtype = common::DataType::Float32;
    x.count = 1 << 20;
    x.root = r == 0 ? 1 : 0;
    t.programs[r].ops = {x};
  }
  t.measured = {{{0.0, 5e-4}}, {{0.0, 5e-4}}};
  const Validation v = compare_measured(t, replayed(t));
  ASSERT_EQ(v.ops.size(), 1u);
  EXPECT_EQ(v.ops[0].kind, OpKind::Recv);
  EXPECT_GT(v.ops[0].predicted_s, 0);
  EXPECT_TRUE(v.spans.empty());  // one observed op per rank: no span
}

TEST(Validate, ATraceWithoutMeasuredCommunicationIsRefused) {
  traces::Trace t = four_ranks();
  t.measured.assign(4, std::vector<traces::OpTime>(6));
  for (auto& m : t.measured) m[0] = {0, 1e-3};  // compute only
  const auto rep = replayed(t);
  try {
    compare_measured(t, rep);
    FAIL() << "no error";
  } catch (const common::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("test trace: no measured time of a collective"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace collemu::analysis
