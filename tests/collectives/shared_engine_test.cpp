// Collectives of several communicators in one flow engine (the replay's way), against closed forms. Label:
// validation.
//
// The fabric: two DSF buildings of 16 single-GPU hosts (no NVLink), 800 Gbps NICs of 4 ports on 4 planes (each flow
// sprayed 1/4 per plane), and a BAG of one switch per plane at 16:1, which leaves each building one 200 Gbps cable per
// plane to the BAG: 800 Gbps across the BAG per direction, as much as one NIC. No hop latency, no fibre: a flow's
// latency is NCCL's alone. Every flow that crosses the BAG in one direction shares those 4 cables (1/4 on each), so a
// cable constraint reads sum of crossing rates <= B, with B = 800 Gbps x RoCEv2's 4096/4178 of payload.
#include <gtest/gtest.h>

#include "../models/fabric_test_util.hpp"

#include <algorithm>
#include <cmath>

#include "collectives/coll.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "models/placement.hpp"

namespace collemu::collectives {
namespace {

using models::NodeId;
using models::solver::FlowEngine;

using models::testing::bag_fabric;

const double B = 800e9 / 8 * kRoceV2PayloadEfficiency;  // one NIC, and the BAG per direction, payload B/s
// NCCL's Ring Simple latency for an AllReduce over 2 ranks on 2 nodes, one rank per node (tuning.cc): base 8.4 us +
// 2(n-1) = 2 steps, both inter-node, each at Tree NET Simple's 14 us (one rank per node: "latencies fully exposed").
const double L = (8.4 + 2 * 14.0) * 1e-6;

CollSpec ring_allreduce(double bytes) {
  CollSpec s;
  s.bytes = bytes;
  s.algo = Algo::Ring;
  s.proto = Proto::Simple;
  s.channels = 1;
  return s;
}

class SharedEngine : public ::testing::Test {
 protected:
  models::Fabric fabric = bag_fabric();
  models::Network net{fabric, payload_efficiency(fabric)};
  // GPU i of building 0 is GPU i; of building 1, GPU 16 + i. A and B: one rank in each building, on different hosts.
  Communicator a{net, {0, 16}};
  Communicator b{net, {1, 17}};
  // A 2-rank ring AllReduce has two edges (0 -> 16, 16 -> 0), each carrying 2(n-1)/n x S = S (nccl-tests' size).
  const double S = 64e6;
};

TEST_F(SharedEngine, AloneARingAcrossTheBagIsAlphaBeta) {
  const CollResult r = run_collective(a, ring_allreduce(S), models::solver::rate_solver_factory("cpu"));
  EXPECT_NEAR(r.time_s, L + S / B, 1e-9 * r.time_s);
}

TEST_F(SharedEngine, TwoRingsStartedTogetherEachGetHalfTheBag) {
  // A's and B's edges in the same direction share the BAG: each at B/2 (max-min, equal weights) while both run, so
  // each takes L + S / (B/2) = L + 2S/B.
  FlowEngine engine(net.capacities());
  const CollFlows fa = emit_collective(a, plan_collective(a, ring_allreduce(S)), engine, 0.0);
  const CollFlows fb = emit_collective(b, plan_collective(b, ring_allreduce(S)), engine, 0.0);
  engine.run();
  EXPECT_NEAR(done_s(engine, fa), L + 2 * S / B, 1e-9 * (L + 2 * S / B));
  EXPECT_NEAR(done_s(engine, fb), L + 2 * S / B, 1e-9 * (L + 2 * S / B));
  for (FlowId f : fa.last) EXPECT_NEAR(engine.finish_s(f), L + 2 * S / B, 1e-9 * (L + 2 * S / B));
}

TEST_F(SharedEngine, ARingStartedLaterSlowsTheOtherOnlyWhileTheyOverlap) {
  // A starts at 0 and sends alone at B from L; B starts at tb (< S/B) and sends from tb + L. By then A has sent B tb;
  // both then run at B/2, so A, with S - B tb left, is done at tb + L + 2 (S - B tb) / B = L + 2S/B - tb. B has then
  // sent S - B tb and finishes its B tb alone at B: at L + 2S/B. A alone would take L + S/B: it is slowed by S/B - tb,
  // half the time they overlap.
  const double tb = 0.25 * S / B;
  FlowEngine engine(net.capacities());
  const CollFlows fa = emit_collective(a, plan_collective(a, ring_allreduce(S)), engine, 0.0);
  // The caller owns the clock: it advances the engine to tb (nothing finishes before), then starts B there.
  EXPECT_TRUE(engine.advance_to(tb).empty());
  EXPECT_DOUBLE_EQ(engine.now_s(), tb);
  const CollFlows fb = emit_collective(b, plan_collective(b, ring_allreduce(S)), engine, tb);
  // A collective cannot start in the past.
  EXPECT_THROW(emit_collective(b, plan_collective(b, ring_allreduce(S)), engine, tb / 2),
               models::solver::SolverInputError);
  engine.run();
  const double a_done = L + 2 * S / B - tb, b_done = L + 2 * S / B;
  EXPECT_NEAR(done_s(engine, fa), a_done, 1e-9 * a_done);
  EXPECT_NEAR(done_s(engine, fb), b_done, 1e-9 * b_done);
  EXPECT_NEAR(done_s(engine, fa) - fa.start_s - (L + S / B), S / B - tb, 1e-9 * a_done);
}

TEST_F(SharedEngine, ACollectiveStartedAtFiveMillisecondsGetsTheCapacityLeft) {
  // A background flow from GPU 2 to GPU 18 crosses the BAG in A's 0 -> 16 direction at a cap of B/4 and lasts past
  // the collective. At t = 5 ms A starts: its 0 -> 16 edge gets what is left, max-min: B - B/4 = 3B/4 (the background
  // is capped below the fair B/2); its 16 -> 0 edge has the whole B. A is done when the slower edge is: 5 ms + L +
  // S / (3B/4). The background flow's own rate stays at its cap throughout.
  FlowEngine engine(net.capacities());
  models::PathSet p;
  net.path(2, 18, 0, 0xC000u, p);
  const auto bg = engine.add_flow({.bytes = 1e12, .links = p.links, .coefficients = p.shares, .cap_Bps = B / 4});
  const double t0 = 5e-3;
  engine.advance_to(t0);
  EXPECT_NEAR(engine.rate_Bps(bg), B / 4, 1e-12 * B);
  const CollFlows fa = emit_collective(a, plan_collective(a, ring_allreduce(S)), engine, t0);
  while (!std::all_of(fa.last.begin(), fa.last.end(), [&](FlowId f) { return engine.finished(f); }))
    engine.advance_to(engine.next_event_s());
  const double expected = t0 + L + S / (0.75 * B);
  EXPECT_NEAR(done_s(engine, fa), expected, 1e-9 * expected);
  EXPECT_NEAR(engine.rate_Bps(bg), B / 4, 1e-12 * B);
  EXPECT_FALSE(engine.finished(bg));
}

// A lockstep ring moves every edge at the rate of its slowest; pipelined edges run on their own. A's ring (0 <-> 16,
// each edge S) meets two competitors on the BAG's 16 -> 0 direction (D1: 17 -> 1, D2: 18 -> 2, 3S each) and one on
// its 0 -> 16 direction (C: 1 -> 17, S), all sending from L (A's latency) on. Max-min: 16 -> 0 is shared three ways,
// B/3 each. Lockstep: A's ring runs at B/3 on both directions, so C gets 2B/3 and is done at L + S / (2B/3) =
// L + 1.5 S/B. Pipelined: A's 0 -> 16 edge and C share their direction, B/2 each, and both are done at L + 2S/B. Either
// way A is done when its slow edge is: L + 3S/B.
TEST_F(SharedEngine, ALockstepRingMovesAtItsSlowestEdge) {
  for (Granularity g : {Granularity::Lockstep, Granularity::Pipelined}) {
    FlowEngine engine(net.capacities());
    CollSpec spec = ring_allreduce(S);
    spec.granularity = g;
    const CollFlows fa = emit_collective(a, plan_collective(a, spec), engine, 0.0);
    auto competitor = [&](NodeId src, NodeId dst, double bytes) {
      models::PathSet p;
      net.path(src, dst, 0, 0xC000u, p);
      return engine.add_flow({.bytes = bytes, .links = p.links, .coefficients = p.shares, .start_s = L});
    };
    const FlowId c = competitor(1, 17, S);
    competitor(17, 1, 3 * S);
    competitor(18, 2, 3 * S);
    engine.run();
    const double c_done = g == Granularity::Lockstep ? L + 1.5 * S / B : L + 2 * S / B;
    EXPECT_NEAR(engine.finish_s(c), c_done, 1e-9 * c_done) << to_string(g);
    EXPECT_NEAR(done_s(engine, fa), L + 3 * S / B, 1e-9 * (L + 3 * S / B)) << to_string(g);
    if (g == Granularity::Lockstep) {
      EXPECT_EQ(fa.count, 1u);  // one channel: one flow
    }
  }
}

// PAT's rounds move in lockstep (emit_pat.cpp: NCCL runs them as one schedule of steps). A reduce-scatter over ranks
// 0..3 on GPUs 0, 16, 1, 17 (one per host, alternating buildings): round 1 (rank r to r + 1, one chunk c = S/4 / 0.75)
// crosses the BAG, 0 -> 16 and 1 -> 17 in one direction and 16 -> 1 and 17 -> 0 in the other; round 2 (r to r + 2,
// 2c) stays in each building. One flow, its largest edge (round 2) at rate r: a NIC carries 2c + c per 2c, 1.5 r; a
// BAG direction carries two round-1 edges, r/2 each, r in all. Written as weight k = 1.5 (NIC), level lambda = r.
// Alone the NICs bind: r = B / 1.5, done at L + 2c / r = L + 3c/B = L + S/B, the alpha-beta form (n-1)/n S/(0.75 B),
// as with independent rounds. Beside D (GPU 2 -> 18, the 0 -> 16 direction, never done): that direction carries
// r + lambda = 2 lambda <= B, lambda = B/2, below the NICs' 2B/3: the collective moves at r = B/2 and is done at
// L + 2c / (B/2) = L + 4S/(3B), D at B/2 meanwhile. (Independent round-1 flows would each get B/3 of that direction
// and round 2 the rest of the NIC; in lockstep round 2 waits for round 1.) L: NCCL's PAT latency (tuning.cc) base 8 us +
// log2(4 nodes) x Tree NET Simple 14 us / 3.5 + 4 ranks x 2.8 us; no hop latency here.
TEST_F(SharedEngine, PatRoundsMoveInLockstep) {
  const Communicator pat(net, {0, 16, 1, 17});
  CollSpec spec;
  spec.op = CollKind::ReduceScatter;
  spec.bytes = S;
  spec.algo = Algo::Pat;
  spec.proto = Proto::Simple;
  spec.channels = 1;
  const double Lp = (8.0 + 2 * 14.0 / 3.5 + 4 * 2.8) * 1e-6;
  for (CollKind op : {CollKind::ReduceScatter, CollKind::AllGather}) {
    spec.op = op;
    const CollPlan plan = plan_collective(pat, spec);
    ASSERT_EQ(plan.algo, Algo::Pat);
    EXPECT_NEAR(plan.model_latency_s, Lp, 1e-15);
    {
      FlowEngine engine(net.capacities());
      const CollFlows f = emit_collective(pat, plan, engine, 0.0);
      EXPECT_EQ(f.count, 1u) << to_string(op);  // every round's connections: one flow
      engine.run();
      EXPECT_NEAR(done_s(engine, f), Lp + S / B, 1e-9 * (Lp + S / B)) << to_string(op);
    }
    FlowEngine engine(net.capacities());
    models::PathSet p;
    net.path(2, 18, 0, 0xC000u, p);
    const FlowId d = engine.add_flow({.bytes = 1e12, .links = p.links, .coefficients = p.shares});
    const CollFlows f = emit_collective(pat, plan, engine, 0.0);
    engine.advance_to(Lp + 1e-6);
    EXPECT_NEAR(engine.rate_Bps(d), B / 2, 1e-9 * B) << to_string(op);
    while (!engine.finished(f.last[0])) engine.advance_to(engine.next_event_s());
    const double expected = Lp + 4 * S / (3 * B);
    EXPECT_NEAR(done_s(engine, f), expected, 1e-9 * expected) << to_string(op);
  }
}

TEST(StridedCommunicator, EveryEighthGpuIsARingOnOneRail) {
  // A data-parallel group: GPUs 0, 8, 16, ..., 8 (k - 1) of a fabric of 8-GPU hosts, one rank per host, all on rail 0,
  // with 400 Gbps NICs on a DSF building (sprayed: only the NICs bind). Each channel's ring goes NIC to NIC; every NIC
  // sends and receives 2(k-1)/k x S over all channels: t = latency + 2(k-1)/k x S / B_nic, latency = Ring Simple base
  // 8.4 us + 2(k-1) network steps at 14 us (one rank per node: Tree NET Simple), within 1% (hop latencies).
  auto c = models::FabricConfig::from_preset("prometheus");
  for (const char* s : {"nic.speed=400Gbps", "region.buildings=1", "bag.enabled=false", "fabric.kind=dsf"})
    c.set_assignment(s);
  const auto fabric = models::build_fabric(c);
  const models::Network net(fabric, payload_efficiency(fabric));
  const int k = 16;
  std::vector<NodeId> gpus;
  for (int i = 0; i < k; ++i) gpus.push_back(static_cast<NodeId>(8 * i));
  // Numbered against the GPU order (rank 0 on the last host): NCCL orders nodes by lowest rank, the same ring.
  std::reverse(gpus.begin(), gpus.end());
  const Communicator comm(net, gpus);
  EXPECT_EQ(comm.nodes(), k);
  EXPECT_EQ(comm.shape().ranks_per_node, 1);
  const double S = 1024.0 * (1 << 20);
  CollSpec spec;
  spec.bytes = S;
  spec.algo = Algo::Ring;
  spec.proto = Proto::Simple;
  spec.channels = 4;
  const CollResult r = run_collective(comm, spec, models::solver::rate_solver_factory("cpu"));
  const double Bnic = 400e9 / 8 * kRoceV2PayloadEfficiency;
  const double expected = (8.4 + 2 * (k - 1) * 14.0) * 1e-6 + 2.0 * (k - 1) / k * S / Bnic;
  EXPECT_NEAR(r.time_s, expected, 0.01 * expected);
  EXPECT_EQ(r.binding_tier, models::LinkTier::HostNic);
  // The same ranks packed into two hosts would be NVLink rings: a strided group is not a packed one.
  const Communicator packed(net, models::place_ranks(fabric.layout, k, models::Placement::Packed));
  EXPECT_EQ(packed.nodes(), 2);
}

TEST(Communicator, NodesInOrderOfTheirLowestRankAndGpusInLocalOrder) {
  // NCCL's order (communicator.hpp): nodes by their lowest rank, ranks inside a node by local GPU index.
  auto c = models::FabricConfig::from_preset("prometheus");
  c.set_assignment("building.gpus=64");
  c.set_assignment("region.buildings=1");
  c.set_assignment("bag.enabled=false");
  const auto fabric = models::build_fabric(c);
  const models::Network net(fabric, payload_efficiency(fabric));
  // Ranks 0..5 on GPUs 9, 3, 8, 1, 15, 2: domain 1 (GPUs 8-15) holds ranks 0, 2, 4; domain 0 holds ranks 1, 3, 5.
  const Communicator comm(net, {9, 3, 8, 1, 15, 2});
  ASSERT_EQ(comm.nodes(), 2);
  EXPECT_EQ(comm.node_of(0), 0);  // domain 1 is node 0: it holds rank 0
  EXPECT_EQ(comm.node_ranks(0), (std::vector<int>{2, 0, 4}));  // GPUs 8, 9, 15
  EXPECT_EQ(comm.node_ranks(1), (std::vector<int>{3, 5, 1}));  // GPUs 1, 2, 3
  EXPECT_EQ(channel_ring(comm, 0), (std::vector<int>{2, 0, 4, 3, 5, 1}));
  EXPECT_EQ(channel_ring(comm, 1), (std::vector<int>{0, 4, 2, 5, 1, 3}));  // rotated by the channel inside each node
  EXPECT_THROW(Communicator(net, {1, 2, 1}), common::InputError);    // a GPU twice
  EXPECT_THROW(Communicator(net, {1, 64}), common::InputError);      // no GPU 64
  EXPECT_THROW(Communicator(net, {}), common::InputError);
}

}  // namespace
}  // namespace collemu::collectives
