// The replay against closed forms and against the collectives run alone. Label: validation.
//
// The fabric (as tests/collectives/shared_engine_test.cpp): two DSF buildings of 16 single-GPU hosts (no NVLink),
// 800 Gbps NICs of 4 ports on 4 planes, a BAG of one switch per plane at 16:1, which leaves each building 800 Gbps
// across the BAG per direction: as much as one NIC. No hop latency, no fibre: a flow's latency is NCCL's alone.
// GPU i of building 0 is GPU i; of building 1, GPU 16 + i.
#include <gtest/gtest.h>

#include "../models/fabric_test_util.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "collectives/coll.hpp"
#include "common/error.hpp"
#include "emulator/replay.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "traces/generate.hpp"

namespace collemu::emulator {
namespace {

using common::CollKind;
using models::NodeId;
using traces::Op;
using traces::OpKind;

using models::testing::bag_fabric;

// One NIC, and the BAG per direction, payload B/s.
const double B = 800e9 / 8 * collectives::kRoceV2PayloadEfficiency;

// A trace written op by op: every rank its own program, counts in bytes (uint8).
struct Builder {
  traces::Trace t;
  explicit Builder(std::uint32_t world) {
    t.reset_ranks(world, "test");
    t.source = "test trace";
  }
  std::uint32_t comm(const std::string& name, std::vector<std::uint32_t> ranks, std::uint32_t declared = 0) {
    const auto c = static_cast<std::uint32_t>(t.comms.size());
    const auto n = static_cast<std::uint32_t>(ranks.size());
    t.comms.push_back({name, ranks, declared ? declared : n});
    for (std::uint32_t r : ranks) t.slot_for(r, c);
    return c;
  }
  Op& add(std::uint32_t r, OpKind k) {
    auto& ops = t.programs[t.program_of_rank[r]].ops;
    ops.emplace_back();
    ops.back().kind = k;
    return ops.back();
  }
  void compute(std::uint32_t r, double s) { add(r, OpKind::Compute).duration_s = s; }
  void coll(std::uint32_t r, CollKind k, std::uint64_t count, std::uint32_t c) {
    Op& o = add(r, OpKind::Collective);
    o.coll = k;
    o.count = count;
    o.comm_slot = t.slot_for(r, c);
  }
  void p2p(std::uint32_t r, OpKind k, std::uint32_t c, std::int32_t peer, std::uint64_t bytes) {
    Op& o = add(r, k);
    o.coll = k == OpKind::Send ? CollKind::Send : CollKind::Recv;
    o.count = bytes;
    o.comm_slot = t.slot_for(r, c);
    o.root = peer;
  }
};

class Replay : public ::testing::Test {
 protected:
  models::Fabric fabric = bag_fabric();
  models::Network net{fabric, collectives::payload_efficiency(fabric)};

  // The closed forms below leave SM contention out (a compute op at full speed while communication moves), unless a
  // test says otherwise; ContentionSlowsTheComputeItOverlaps checks it.
  // A send to another node runs on its peer's p2p channels: a pair's communicator has 2 channels, 2 per remote peer
  // at 14 GB/s each in NCCL 2.28 (collectives/nccl.hpp). With 8 channels and 8 per peer (NCCL_MIN_NCHANNELS=8,
  // NCCL_NCHANNELS_PER_NET_PEER=8: 112 GB/s) that ceiling is above the 800G NIC's 98 GB/s and never binds: the tests
  // of the fabric's sharing below use it, SendsToAnotherNodeRunOnTwoP2pChannels the default.
  ReplayOptions wide_p2p() const {
    ReplayOptions o = no_contention();
    o.min_channels = 8;
    o.net_channels_per_peer = 8;
    return o;
  }
  ReplayOptions no_contention() const {
    ReplayOptions o;
    o.sm_share_per_channel = 0;
    return o;
  }
  // Two ranks of one communicator: rank 0 sends S bytes to rank 1.
  static traces::Trace one_send(double S) {
    Builder b(2);
    const std::uint32_t c = b.comm("pair", {0, 1});
    b.p2p(0, OpKind::Send, c, 1, static_cast<std::uint64_t>(S));
    b.p2p(1, OpKind::Recv, c, 0, static_cast<std::uint64_t>(S));
    return b.t;
  }
  ReplayReport run(const traces::Trace& t, std::vector<NodeId> gpus, std::vector<std::pair<std::uint32_t, double>> slow = {},
                   const ReplayOptions* options = nullptr) {
    Job j;
    j.name = "job";
    j.trace = &t;
    j.gpus = std::move(gpus);
    j.slow_ranks = std::move(slow);
    return replay(net, {j}, options ? *options : no_contention());
  }
  // NCCL's latency of a point-to-point transfer between two GPUs (its model, as the replay plans it).
  double p2p_latency_s(NodeId a, NodeId b, double bytes) {
    const collectives::Communicator c(net, {a, b});
    collectives::CollSpec s;
    s.op = CollKind::SendRecv;
    s.bytes = bytes;
    return collectives::plan_collective(c, s).model_latency_s;
  }
  static void expect_adds_up(const JobReport& j) {
    for (std::size_t r = 0; r < j.ranks.size(); ++r)
      EXPECT_NEAR(j.ranks[r].total_s(), j.step_time_s, 1e-12 * j.step_time_s) << "rank " << r;
  }
};

// 1F1B (PipeDream-Flush) with p equal stages and m microbatches, forward t_f and backward t_b: on a fabric that
// takes (almost) no time, the step is the compute critical path (m + p - 1)(t_f + t_b) (Narayanan et al. 2021, the
// pipeline bubble of (p - 1)(t_f + t_b)). The transfers of one byte add at most one transfer time each to the path:
// the path has at most 2(m + p) of them.
TEST_F(Replay, OneFOneBOnAFastFabricIsTheComputeCriticalPath) {
  const std::uint32_t p = 4, m = 8;
  const double tf = 1.0, tb = 2.0;
  Builder b(p);
  std::vector<std::uint32_t> all;
  for (std::uint32_t s = 0; s < p; ++s) all.push_back(s);
  const std::uint32_t pp = b.comm("pp", all);
  for (std::uint32_t s = 0; s < p; ++s) {
    auto fwd = [&] {
      if (s > 0) b.p2p(s, OpKind::Recv, pp, static_cast<std::int32_t>(s - 1), 1);
      b.compute(s, tf);
      if (s + 1 < p) b.p2p(s, OpKind::Send, pp, static_cast<std::int32_t>(s + 1), 1);
    };
    auto bwd = [&] {
      if (s + 1 < p) b.p2p(s, OpKind::Recv, pp, static_cast<std::int32_t>(s + 1), 1);
      b.compute(s, tb);
      if (s > 0) b.p2p(s, OpKind::Send, pp, static_cast<std::int32_t>(s - 1), 1);
    };
    const std::uint32_t warmup = std::min(p - s - 1, m);
    for (std::uint32_t i = 0; i < warmup; ++i) fwd();
    for (std::uint32_t i = 0; i < m - warmup; ++i) fwd(), bwd();
    for (std::uint32_t i = 0; i < warmup; ++i) bwd();
  }
  const ReplayReport rep = run(b.t, {0, 1, 2, 3});
  const double path = (m + p - 1) * (tf + tb);
  const double transfer = p2p_latency_s(0, 1, 1) + 1 / B;
  const JobReport& j = rep.jobs[0];
  EXPECT_GE(j.step_time_s, path);
  EXPECT_LE(j.step_time_s, path + 2 * (m + p) * transfer);
  expect_adds_up(j);
  for (std::uint32_t s = 0; s < p; ++s) {
    // Every stage computes m (t_f + t_b); the rest of its step is bubble, transfer time and the wait at the end.
    EXPECT_NEAR(j.ranks[s].compute_s, m * (tf + tb), 1e-9) << "stage " << s;
    EXPECT_NEAR(j.ranks[s].bubble_s + j.ranks[s].exposed_comm_s + j.ranks[s].wait_s, (p - 1) * (tf + tb),
                2 * (m + p) * transfer) << "stage " << s;
  }
  // Stage 0 waits (p - 1) t_f ... for its first backward: its bubble is the pipeline's, up to the transfers.
  EXPECT_NEAR(j.ranks[0].bubble_s, (p - 1) * (tf + tb), 2 * (m + p) * transfer);
}

// Interleaved 1F1B from the generator (Megatron-LM's schedule, v model chunks per rank): on a fabric that takes
// (almost) no time, every stage computes m (t_f + t_b) and the pipeline bubble is (p - 1)(t_f + t_b) / v (Narayanan
// et al. 2021, sec. 2.2.2: the bubble fraction (p - 1) / (v m)), so the step is (m + (p - 1) / v)(t_f + t_b), where
// t_f + t_b is one microbatch's forward and backward through a stage. Layers of equal cost, a head of ~0 FLOPs
// (vocab 1) and a slow GPU make transfers negligible: at most 2 (m v + p) of them on the critical path.
TEST_F(Replay, InterleavedOneFOneBShrinksTheBubbleByTheChunks) {
  const std::uint32_t p = 4, m = 8;
  for (std::uint32_t v : {1u, 2u, 4u}) {
    traces::LlmSpec s;
    s.gpus = p, s.tp = 1, s.pp = p, s.dp = 1, s.vpp = v;
    s.layers = 16, s.hidden = 64, s.ffn = 256, s.heads = 1, s.kv_heads = 1, s.vocab = 1, s.seq = 64;
    s.microbatches = m, s.gpu_tflops = 1e-3, s.mfu = 1;
    const traces::Trace t = traces::generate_llm(s);
    const ReplayReport rep = run(t, {0, 1, 2, 3});
    const JobReport& j = rep.jobs[0];
    // Each stage's compute, summed from its program (the last stage's has the head's few FLOPs more): t_f + t_b of
    // one microbatch is that over m, between the smallest and the largest stage's.
    std::vector<double> stage_compute(p, 0.0);
    for (std::uint32_t r = 0; r < p; ++r)
      for (const Op& o : t.program(r).ops)
        if (o.kind == OpKind::Compute) stage_compute[r] += o.duration_s;
    const double lo = *std::min_element(stage_compute.begin(), stage_compute.end()) / m;
    const double hi = *std::max_element(stage_compute.begin(), stage_compute.end()) / m;
    ASSERT_LT(hi - lo, 1e-3 * lo);
    const double transfer = p2p_latency_s(0, 1, 64 * 64 * 2) + 64 * 64 * 2 / B;
    const double slack = 2 * (m * v + p) * transfer + (hi - lo) * (m + p);
    expect_adds_up(j);
    for (std::uint32_t r = 0; r < p; ++r) EXPECT_NEAR(j.ranks[r].compute_s, stage_compute[r], 1e-9) << "v " << v;
    EXPECT_GE(j.step_time_s, (m + (p - 1.0) / v) * lo * (1 - 1e-12)) << "v " << v;
    EXPECT_LE(j.step_time_s, (m + (p - 1.0) / v) * hi + slack) << "v " << v;
    EXPECT_NEAR(j.ranks[0].bubble_s, (p - 1.0) / v * lo, slack) << "v " << v;
  }
}

// FSDP (ZeRO-3) from the generator, 2 data-parallel ranks (GPUs 0 and 16, across the BAG), 1 microbatch, no TP or PP.
// Without overlap every gather and reduce-scatter waits on the compute stream: the step is the sum of the compute
// and of each collective's time alone (each replayed on its own below). With overlap (one layer ahead) the gather of
// item i + 1 is issued when item i's first op starts, so it moves while item i computes: the step is shorter, never
// below the compute, and the first gather (nothing before it to hide behind) is exposed whole.
TEST_F(Replay, FsdpGathersOneLayerAheadAndHidesBehindTheCompute) {
  traces::LlmSpec s;
  s.gpus = 2, s.tp = 1, s.pp = 1, s.dp = 2, s.layers = 4, s.hidden = 1024, s.ffn = 4096, s.heads = 8, s.kv_heads = 8;
  s.vocab = 8192, s.seq = 2048, s.microbatches = 1, s.gpu_tflops = 100, s.mfu = 0.5;
  s.dp_mode = traces::LlmSpec::DpMode::Fsdp;
  const std::vector<NodeId> gpus = {0, 16};
  s.dp_overlap = false;
  const traces::Trace serial = traces::generate_llm(s);
  s.dp_overlap = true;
  const traces::Trace overlapped = traces::generate_llm(s);
  // Each collective of the serial program alone, and the compute.
  double compute = 0, comm = 0, first_gather = -1;
  for (const Op& o : serial.program(0).ops) {
    if (o.kind == OpKind::Compute) {
      compute += o.duration_s;
      continue;
    }
    ASSERT_EQ(o.kind, OpKind::Collective);
    Builder one(2);
    const std::uint32_t c = one.comm("dp", {0, 1});
    for (std::uint32_t r = 0; r < 2; ++r) one.coll(r, o.coll, o.bytes(), c);
    const double alone = run(one.t, gpus).jobs[0].step_time_s;
    comm += alone;
    if (first_gather < 0) first_gather = alone;
  }
  ASSERT_GT(first_gather, 0);
  const JobReport a = run(serial, gpus).jobs[0];
  EXPECT_NEAR(a.step_time_s, compute + comm, 1e-9 * a.step_time_s);

  ReplayOptions opt = no_contention();
  opt.record_ranks = {0};
  const ReplayReport rep = run(overlapped, gpus, {}, &opt);
  const JobReport& b = rep.jobs[0];
  expect_adds_up(b);
  EXPECT_LT(b.step_time_s, a.step_time_s - 0.5 * (a.step_time_s - compute)) << "most of the communication hidden";
  EXPECT_GE(b.step_time_s, compute);
  EXPECT_GE(b.ranks[0].exposed_comm_s, first_gather * (1 - 1e-9));
  // Item i + 1's gather starts when item i's first op (a compute: no TP) starts: forward gathers 2..n in order.
  std::vector<double> gathers, computes;
  for (const RankOp& o : rep.rank_ops) {
    if (o.kind == OpKind::Collective && o.coll == CollKind::AllGather) gathers.push_back(o.start_s);
    if (o.kind == OpKind::Compute) computes.push_back(o.start_s);
  }
  std::sort(gathers.begin(), gathers.end());
  std::sort(computes.begin(), computes.end());
  // Forward: items are the 4 layers (2 computes each: attention, MLP) then the head (1 compute).
  ASSERT_GE(gathers.size(), 5u);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_DOUBLE_EQ(gathers[i], computes[2 * (i - 1)]) << "gather " << i;
}

// Context parallelism from the generator: CP 2 on GPUs 0 and 16 (across the BAG), one layer, one microbatch, no TP,
// PP or DP, gradients all-reduced once over DP x CP at the end. Each attention pass is a ring of 2 steps: compute
// on the rank's own keys and values (c) while they go to the other rank (a transfer t alone; the two directions use
// different links), then compute on what came (c). So the forward's attention takes max(c, t_1) + c and the
// backward's (keys, values and their gradients: twice the bytes and the FLOPs) max(2c, t_2) + 2c: the step is the
// compute plus max(0, t_1 - c) + max(0, t_2 - 2c) plus the all-reduce alone. Each rank computes half of what the
// same step computes without CP.
TEST_F(Replay, ContextParallelAttentionIsARingBesideItsCompute) {
  // 100 TFLOPS x 50%: the compute hides the transfers (c ~ 0.5 ms, t_1 ~ 0.1 ms); 5,000 TFLOPS: the transfers show.
  for (const double tflops : {100.0, 5000.0}) {
    traces::LlmSpec s;
    s.gpus = 2, s.tp = 1, s.cp = 2, s.pp = 1, s.dp = 1, s.layers = 1, s.hidden = 1024, s.ffn = 4096, s.heads = 8;
    s.kv_heads = 8, s.vocab = 1024, s.seq = 4096, s.microbatches = 1, s.gpu_tflops = tflops, s.mfu = 0.5;
    s.dp_mode = traces::LlmSpec::DpMode::AllReduce;
    s.dp_overlap = false;
    const traces::Trace t = traces::generate_llm(s);
    const std::vector<NodeId> gpus = {0, 16};
    ASSERT_EQ(t.programs.size(), 2u);  // one per CP index: their ring peers differ
    // Rank 0's program: the attention computes (the first compute op is half of the forward's attention), the
    // transfers' sizes, the final all-reduce.
    double compute = 0, c = -1;
    std::uint64_t kv_bytes = 0, ar_bytes = 0;
    for (const Op& o : t.program(0).ops) {
      if (o.kind == OpKind::Compute) {
        compute += o.duration_s;
        if (c < 0) c = o.duration_s;
      }
      if (o.kind == OpKind::Send && !kv_bytes) kv_bytes = static_cast<std::uint64_t>(o.bytes());
      if (o.kind == OpKind::Collective) ar_bytes = static_cast<std::uint64_t>(o.bytes());
    }
    // K and V of 2048 tokens x 1024 (8 heads of 128), bf16.
    ASSERT_EQ(kv_bytes, 2u * 2048 * 1024 * 2);
    auto transfer = [&](std::uint64_t bytes) {
      Builder b(2);
      const std::uint32_t k = b.comm("pair", {0, 1});
      b.p2p(0, OpKind::Send, k, 1, bytes);
      b.p2p(1, OpKind::Recv, k, 0, bytes);
      return run(b.t, gpus).jobs[0].step_time_s;
    };
    Builder one(2);
    const std::uint32_t w = one.comm("dp", {0, 1});
    for (std::uint32_t r = 0; r < 2; ++r) one.coll(r, CollKind::AllReduce, ar_bytes, w);
    const double t1 = transfer(kv_bytes), t2 = transfer(2 * kv_bytes), ar = run(one.t, gpus).jobs[0].step_time_s;
    const double expected = compute + std::max(0.0, t1 - c) + std::max(0.0, t2 - 2 * c) + ar;
    const JobReport j = run(t, gpus).jobs[0];
    expect_adds_up(j);
    EXPECT_NEAR(j.step_time_s, expected, 1e-9 * expected);
    EXPECT_NEAR(j.ranks[0].compute_s, compute, 1e-12);
    EXPECT_NEAR(j.ranks[1].compute_s, compute, 1e-12);
    // Without CP, one rank computes the whole sequence: twice as much.
    traces::LlmSpec whole = s;
    whole.gpus = 1, whole.cp = 1;
    double whole_compute = 0;
    const traces::Trace alone = traces::generate_llm(whole);
    for (const Op& o : alone.program(0).ops)
      if (o.kind == OpKind::Compute) whole_compute += o.duration_s;
    EXPECT_NEAR(whole_compute, 2 * compute, 1e-12 * whole_compute);
    if (tflops > 1000) {
      EXPECT_GT(t1, c) << "the transfer-bound case";
    }
  }
}

// A trace of one collective is that collective alone, as `collemu coll` runs it: the same plan and flows in an engine
// of their own, so the same bits.
TEST_F(Replay, OneCollectiveIsWhatCollGives) {
  const std::vector<NodeId> gpus = {0, 1, 2, 3, 16, 17, 18, 19};
  for (CollKind k : {CollKind::AllReduce, CollKind::AllGather, CollKind::AllToAll}) {
    Builder b(8);
    const std::uint32_t c = b.comm("world", {0, 1, 2, 3, 4, 5, 6, 7});
    const std::uint64_t count = 8'000'000;  // bytes: AllGather's per rank, AllToAll's whole send buffer
    for (std::uint32_t r = 0; r < 8; ++r) b.coll(r, k, count, c);
    const ReplayReport rep = run(b.t, gpus);
    const collectives::Communicator comm(net, gpus);
    collectives::CollSpec spec;
    spec.op = k;
    spec.bytes = k == CollKind::AllGather ? 8.0 * count : count;  // nccl-tests' size: AllGather's gathered buffer
    const auto alone = collectives::run_collective(comm, spec, models::solver::rate_solver_factory("cpu"));
    ASSERT_EQ(rep.colls.size(), 1u);
    EXPECT_EQ(rep.jobs[0].step_time_s, alone.time_s) << common::to_string(k);
    EXPECT_EQ(rep.colls[0].end_s - rep.colls[0].start_s, alone.time_s) << common::to_string(k);
    EXPECT_EQ(rep.colls[0].algo, alone.algo);
    EXPECT_EQ(rep.colls[0].bytes, alone.bytes);
    EXPECT_EQ(rep.jobs[0].critical.exposed_comm_s, alone.time_s);
    expect_adds_up(rep.jobs[0]);
  }
}

// Two jobs, each one send of S across the BAG in the same direction: alone, L + S/B; together they share the BAG's
// B per direction max-min fairly, B/2 each: L + 2S/B. A third job inside building 0 shares no binding link with them
// and takes what it takes alone.
TEST_F(Replay, JobsShareTheBagByTheMaxMinShareAndNothingElse) {
  const double S = 64e6;
  const traces::Trace ta = one_send(S), tb = one_send(S), tc = one_send(S);
  const double L = p2p_latency_s(0, 16, S);
  Job a{"a", &ta, {0, 16}, 1, {}}, bj{"b", &tb, {1, 17}, 1, {}}, cj{"c", &tc, {2, 3}, 1, {}};
  const double alone_a = replay(net, {a}, wide_p2p()).jobs[0].step_time_s;
  const double alone_c = replay(net, {cj}, wide_p2p()).jobs[0].step_time_s;
  EXPECT_NEAR(alone_a, L + S / B, 1e-9 * alone_a);
  const ReplayReport both = replay(net, {a, bj, cj}, wide_p2p());
  ASSERT_EQ(both.jobs.size(), 3u);
  EXPECT_NEAR(both.jobs[0].step_time_s, L + 2 * S / B, 1e-9 * (L + 2 * S / B));
  EXPECT_NEAR(both.jobs[1].step_time_s, L + 2 * S / B, 1e-9 * (L + 2 * S / B));
  EXPECT_NEAR(both.jobs[2].step_time_s, alone_c, 1e-12 * alone_c);
  // The receiver moves data the whole time after the latency; the sender's send is posted at once and its rank ends
  // when the data has arrived.
  EXPECT_NEAR(both.jobs[0].ranks[1].exposed_comm_s, both.jobs[0].step_time_s, 1e-12);
}

// A late rank: rank 0 computes 1 s, rank 1 3 s, then an all-reduce of T alone. Rank 0 waits 2 s at the collective,
// charged to rank 1 as well; both then wait T for data; the step is 3 s + T. A straggler factor of 3 on rank 1 with
// both computing 1 s is the same step.
TEST_F(Replay, WaitingIsChargedToTheLateRank) {
  const std::vector<NodeId> gpus = {0, 1};
  const collectives::Communicator comm(net, gpus);
  collectives::CollSpec spec;
  spec.bytes = 16e6;
  const double T = collectives::run_collective(comm, spec, models::solver::rate_solver_factory("cpu")).time_s;
  for (bool straggler : {false, true}) {
    Builder b(2);
    const std::uint32_t c = b.comm("world", {0, 1});
    b.compute(0, 1.0);
    b.compute(1, straggler ? 1.0 : 3.0);
    for (std::uint32_t r = 0; r < 2; ++r) b.coll(r, CollKind::AllReduce, 16'000'000, c);
    const ReplayReport rep = straggler ? run(b.t, gpus, {{1, 3.0}}) : run(b.t, gpus);
    const JobReport& j = rep.jobs[0];
    EXPECT_NEAR(j.step_time_s, 3.0 + T, 1e-12);
    EXPECT_NEAR(j.ranks[0].wait_s, 2.0, 1e-12);
    EXPECT_NEAR(j.ranks[1].caused_wait_s, 2.0, 1e-12);
    EXPECT_NEAR(j.ranks[0].exposed_comm_s, T, 1e-12);
    EXPECT_NEAR(j.ranks[1].exposed_comm_s, T, 1e-12);
    EXPECT_NEAR(j.ranks[1].compute_s, 3.0, 1e-12);
    EXPECT_EQ(j.critical_rank, 0u);  // both end together: the lowest rank
    expect_adds_up(j);
  }
}

// Compute and communication overlap where the dependencies allow: a DAG program whose all-reduce (T alone, on C
// channels) does not depend on the compute beside it (10 T) hides the all-reduce under it, while the same ops in
// sequence add up (11 T). With SM contention (a share f of the GPU per channel) the compute runs at 1 - C f while the
// all-reduce moves data, so it takes 10 T + C f T; without, 10 T.
TEST_F(Replay, IndependentCommunicationOverlapsCompute) {
  const std::vector<NodeId> gpus = {0, 16};
  const collectives::Communicator comm(net, gpus);
  collectives::CollSpec spec;
  spec.bytes = 64e6;
  const auto alone = collectives::run_collective(comm, spec, models::solver::rate_solver_factory("cpu"));
  const double T = alone.time_s, C = alone.channels;
  for (double f : {0.0, 1.0 / 132, 0.05})
    for (bool dag : {true, false}) {
      Builder b(2);
      const std::uint32_t c = b.comm("world", {0, 1});
      for (std::uint32_t r = 0; r < 2; ++r) {
        b.t.programs[r].dag = dag;
        b.coll(r, CollKind::AllReduce, 64'000'000, c);
        b.compute(r, 10 * T);
      }
      ReplayOptions o;
      o.sm_share_per_channel = f;
      const JobReport j = run(b.t, gpus, {}, &o).jobs[0];
      const double want = dag ? 10 * T + C * f * T : 11 * T;
      EXPECT_NEAR(j.step_time_s, want, 1e-12) << (dag ? "dag" : "sequence") << " f " << f;
      EXPECT_NEAR(j.ranks[0].compute_s, dag ? want : 10 * T, 1e-12);
      EXPECT_NEAR(j.ranks[0].exposed_comm_s, dag ? 0.0 : T, 1e-12);
      expect_adds_up(j);
    }
}

// A transfer to another node runs on its peer's p2p channels (2 in NCCL 2.28), whatever the communicator's channel
// count: a send beside an independent compute of 10 T (T the transfer alone) slows it by 2 f T on both ends, also
// with NCCL_MIN_NCHANNELS=16 (which raises the pair communicator's channels, not the peer's).
TEST_F(Replay, ATransferTakesTheSmOfItsPeersChannels) {
  const std::vector<NodeId> gpus = {0, 16};
  const double S = 64e6, f = 0.05;
  const double T = run(one_send(S), gpus).jobs[0].step_time_s;
  for (int min_channels : {0, 16}) {
    Builder b(2);
    const std::uint32_t c = b.comm("pair", {0, 1});
    for (std::uint32_t r = 0; r < 2; ++r) b.t.programs[r].dag = true;
    b.p2p(0, OpKind::Send, c, 1, static_cast<std::uint64_t>(S));
    b.compute(0, 10 * T);
    b.p2p(1, OpKind::Recv, c, 0, static_cast<std::uint64_t>(S));
    b.compute(1, 10 * T);
    ReplayOptions o;
    o.sm_share_per_channel = f;
    o.min_channels = min_channels;
    const JobReport j = run(b.t, gpus, {}, &o).jobs[0];
    EXPECT_NEAR(j.step_time_s, 10 * T + 2 * f * T, 1e-9 * T) << "min channels " << min_channels;
  }
}

// Bucketed DP overlap (the generator's default, as Megatron-LM's --overlap-grad-reduce): L layers' backwards of t_b
// each on the main stream; after layer k's, the all-reduce of its bucket (T alone) on the DP stream, after bucket
// k - 1. Bucket k ends at max(k t_b, end of bucket k - 1) + T, so the last ends at max over k of k t_b + (L - k + 1) T:
// L t_b + T when T <= t_b (every bucket but the last hidden), t_b + L T when T > t_b. The exposed part is what follows
// the compute: T + (L - 1) max(0, T - t_b).
TEST_F(Replay, BucketedGradientReductionHidesWhatTheBackwardCovers) {
  const std::vector<NodeId> gpus = {0, 16};
  const collectives::Communicator comm(net, gpus);
  collectives::CollSpec spec;
  spec.bytes = 32e6;
  const double T = collectives::run_collective(comm, spec, models::solver::rate_solver_factory("cpu")).time_s;
  const std::uint32_t L = 6;
  for (double tb : {2 * T, T / 2}) {
    Builder b(2);
    const std::uint32_t c = b.comm("dp", {0, 1});
    for (std::uint32_t r = 0; r < 2; ++r) {
      auto& p = b.t.programs[r];
      p.dag = true;
      std::int64_t last_compute = -1, last_bucket = -1;
      for (std::uint32_t k = 0; k < L; ++k) {
        b.compute(r, tb);
        if (last_compute >= 0) p.ops.back().deps = {static_cast<std::uint32_t>(last_compute)};
        last_compute = static_cast<std::int64_t>(p.ops.size() - 1);
        b.coll(r, CollKind::AllReduce, 32'000'000, c);
        p.ops.back().deps = {static_cast<std::uint32_t>(last_compute)};
        if (last_bucket >= 0) p.ops.back().deps.push_back(static_cast<std::uint32_t>(last_bucket));
        last_bucket = static_cast<std::int64_t>(p.ops.size() - 1);
      }
    }
    const JobReport j = run(b.t, gpus).jobs[0];
    const double exposed = T + (L - 1) * std::max(0.0, T - tb);
    EXPECT_NEAR(j.step_time_s, L * tb + exposed, 1e-12) << "t_b / T = " << tb / T;
    EXPECT_NEAR(j.ranks[0].compute_s, L * tb, 1e-12);
    EXPECT_NEAR(j.ranks[0].exposed_comm_s, exposed, 1e-12) << "t_b / T = " << tb / T;
    expect_adds_up(j);
  }
}

TEST_F(Replay, ADeadlockNamesTheRanksAndTheirOps) {
  // Both ranks receive first: neither ever sends.
  Builder b(2);
  const std::uint32_t c = b.comm("pair", {0, 1});
  for (std::uint32_t r = 0; r < 2; ++r) {
    b.p2p(r, OpKind::Recv, c, static_cast<std::int32_t>(1 - r), 100);
    b.p2p(r, OpKind::Send, c, static_cast<std::int32_t>(1 - r), 100);
  }
  try {
    run(b.t, {0, 1});
    FAIL() << "no error";
  } catch (const common::InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("can never finish"), std::string::npos) << m;
    EXPECT_NE(m.find("2 rank(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("op 0 (recv on pair peer 1)"), std::string::npos) << m;
    EXPECT_NE(m.find("op 0 (recv on pair peer 0)"), std::string::npos) << m;
  }
}

TEST_F(Replay, RefusesWhatIsNotAWholeJob) {
  auto message = [&](const traces::Trace& t, std::vector<NodeId> gpus) {
    try {
      run(t, std::move(gpus));
    } catch (const common::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  {  // a communicator of 4 ranks of which the trace has 2
    Builder b(2);
    const std::uint32_t c = b.comm("dp", {0, 1}, 4);
    for (std::uint32_t r = 0; r < 2; ++r) b.coll(r, CollKind::AllReduce, 100, c);
    const std::string m = message(b.t, {0, 1});
    EXPECT_NE(m.find("not a whole job: communicator dp has 4 ranks, of which 2 are in the trace"), std::string::npos)
        << m;
  }
  {  // a rank without ops (its file is missing)
    Builder b(3);
    const std::uint32_t c = b.comm("world", {0, 1, 2});
    for (std::uint32_t r = 0; r < 2; ++r) b.coll(r, CollKind::AllReduce, 100, c);
    const std::string m = message(b.t, {0, 1, 2});
    EXPECT_NE(m.find("without ops: ranks 2"), std::string::npos) << m;
  }
  {  // one rank with a collective
    Builder b(1);
    const std::uint32_t c = b.comm("world", {0});
    b.coll(0, CollKind::AllReduce, 100, c);
    const std::string m = message(b.t, {0});
    EXPECT_NE(m.find("ranks of the job other than this one are missing"), std::string::npos) << m;
  }
  {  // mismatched collectives
    Builder b(2);
    const std::uint32_t c = b.comm("world", {0, 1});
    b.coll(0, CollKind::AllReduce, 100, c);
    b.coll(1, CollKind::AllReduce, 200, c);
    const std::string m = message(b.t, {0, 1});
    EXPECT_NE(m.find("200"), std::string::npos) << m;
  }
  {  // placements: a GPU twice, a GPU the fabric does not have
    Builder b(2);
    b.compute(0, 1);
    b.compute(1, 1);
    EXPECT_NE(message(b.t, {3, 3}).find("is placed on GPU 3, as is rank 0"), std::string::npos);
    EXPECT_NE(message(b.t, {0, 32}).find("which the fabric does not have (it has 32 GPUs)"), std::string::npos);
  }
}

// A small generated 3D-parallel step: TP 1 (single-GPU hosts), PP 4, DP dp, 4 layers, 4 microbatches.
traces::LlmSpec small_llm(std::uint32_t dp) {
  traces::LlmSpec s;
  s.gpus = 4 * dp, s.tp = 1, s.pp = 4, s.dp = dp, s.layers = 4, s.hidden = 1024, s.ffn = 4096, s.heads = 8;
  s.kv_heads = 8, s.vocab = 32000, s.seq = 2048, s.microbatches = 4;
  return s;
}

// Recorded ranks: every op once, in time order within it (start <= data moving <= end), compute ops adding up to the
// rank's compute time (one at a time).
TEST_F(Replay, RecordedRanksListEveryOp) {
  const traces::Trace t = traces::generate_llm(small_llm(2));
  Job j{"job", &t, {0, 1, 2, 3, 16, 17, 18, 19}, 1, {}};
  ReplayOptions opt;
  opt.record_ranks = {0, 7};
  const ReplayReport rep = replay(net, {j}, opt);
  for (std::uint32_t r : {0u, 7u}) {
    std::size_t n = 0;
    double compute = 0;
    for (const RankOp& o : rep.rank_ops) {
      if (o.rank != r) continue;
      ++n;
      EXPECT_LE(o.start_s, o.data_s);
      EXPECT_LE(o.data_s, o.end_s);
      if (o.kind == OpKind::Compute) compute += o.end_s - o.start_s;
    }
    EXPECT_EQ(n, t.program(r).ops.size()) << "rank " << r;
    EXPECT_NEAR(compute, rep.jobs[0].ranks[r].compute_s, 1e-12) << "rank " << r;
  }
  for (const RankOp& o : rep.rank_ops) EXPECT_TRUE(o.rank == 0 || o.rank == 7);
}

// A generated step (DP 8) replayed twice: the same bits; every rank's breakdown adds up to the step time.
TEST_F(Replay, AGeneratedStepIsDeterministicAndAddsUp) {
  const traces::Trace t = traces::generate_llm(small_llm(8));
  std::vector<NodeId> gpus;
  for (NodeId g = 0; g < 32; ++g) gpus.push_back(g);
  const ReplayReport a = run(t, gpus), b = run(t, gpus);
  ASSERT_EQ(a.colls.size(), b.colls.size());
  EXPECT_EQ(a.jobs[0].step_time_s, b.jobs[0].step_time_s);
  for (std::size_t i = 0; i < a.colls.size(); ++i) {
    EXPECT_EQ(a.colls[i].start_s, b.colls[i].start_s);
    EXPECT_EQ(a.colls[i].end_s, b.colls[i].end_s);
  }
  for (std::size_t r = 0; r < 32; ++r) {
    EXPECT_EQ(a.jobs[0].ranks[r].compute_s, b.jobs[0].ranks[r].compute_s);
    EXPECT_EQ(a.jobs[0].ranks[r].bubble_s, b.jobs[0].ranks[r].bubble_s);
  }
  expect_adds_up(a.jobs[0]);
  // The bytes over time add up, per tier, to what the links carried (each flow's bytes are spread over its sending
  // time, so only the total is exact).
  std::array<double, models::kNumLinkTiers> carried{}, binned{};
  for (models::EngineLink l = 0; l < a.link_bytes.size(); ++l) carried[static_cast<int>(net.tier(l))] += a.link_bytes[l];
  for (const auto& bin : a.tiers.bytes)
    for (int k = 0; k < models::kNumLinkTiers; ++k) binned[k] += bin[k];
  for (int k = 0; k < models::kNumLinkTiers; ++k) EXPECT_NEAR(binned[k], carried[k], 1e-9 * carried[k]) << k;
  EXPECT_LE(a.tiers.bytes.size(), TierSeries::kMaxBins);
  EXPECT_GE(a.tiers.bin_s * static_cast<double>(a.tiers.bytes.size()), a.end_s);
  // Every rank computes what the generator gave it (one stage's ops).
  EXPECT_GT(a.jobs[0].step_time_s, a.jobs[0].ranks[0].compute_s);
  for (std::size_t r = 0; r < 32; ++r) {
    double want = 0;
    for (const Op& o : t.program(static_cast<std::uint32_t>(r)).ops) want += o.kind == OpKind::Compute ? o.duration_s : 0;
    EXPECT_NEAR(a.jobs[0].ranks[r].compute_s, want, 1e-12 * want) << "rank " << r;
  }
}

// A send of S to a GPU of another node runs on its peer's p2p channels: NCCL 2.28 gives a pair's communicator 2 (2 x 2
// ranks <= 4 x p2p channels, nccl.hpp), each driving NCCL's 14 GB/s, so L + S / 28 GB/s, below the NIC's B (98 GB/s)
// the fabric would allow: NVIDIA/nccl#1272, where NCCL_NCHANNELS_PER_NET_PEER=4 restored sendrecv bandwidth. With 8
// channels and 8 per peer (112 GB/s) the NIC binds again: L + S / B; with 8 per peer alone the pair's 2 channels
// still bind (NCCL caps a peer's channels at the communicator's p2p channels).
TEST_F(Replay, SendsToAnotherNodeRunOnTwoP2pChannels) {
  const double S = 64e6;
  const traces::Trace t = one_send(S);
  const double L = p2p_latency_s(0, 16, S);
  Job j{"job", &t, {0, 16}, 1, {}};
  const double two = replay(net, {j}, no_contention()).jobs[0].step_time_s;
  EXPECT_NEAR(two, L + S / (2 * collectives::kP2pChannelNet_Bps), 1e-9 * two);
  const double wide = replay(net, {j}, wide_p2p()).jobs[0].step_time_s;
  EXPECT_NEAR(wide, L + S / B, 1e-9 * wide);
  ReplayOptions per_peer = no_contention();
  per_peer.net_channels_per_peer = 8;
  EXPECT_EQ(replay(net, {j}, per_peer).jobs[0].step_time_s, two);
  // Channel bounds past NCCL's 64, or the least above the most, are refused before anything runs.
  for (auto [lo, hi] : {std::pair{9, 8}, std::pair{65, 0}, std::pair{0, -1}}) {
    ReplayOptions bad = no_contention();
    bad.min_channels = lo;
    bad.max_channels = hi;
    EXPECT_NE(models::testing::input_error([&] { replay(net, {j}, bad); }).find("at most 64"), std::string::npos)
        << lo << " " << hi;
  }
}

// Failures at a time. A transfer of S from GPU 0 (building 0) to GPU 16 (building 1) is sprayed over the 4 planes, each
// crossing the BAG on its plane's switch: B in all. Without r0.bag0 (plane 0's BAG switch) only 3 planes reach the other
// building: 3B/4 (the static --fail run gives L + S / (3B/4), checked first). Failed at T = L + S / (4B), a quarter
// sent, the flow goes on over 3 planes: the 3S/4 left take S / B more, so it ends at L + 5S / (4B). Failed at 0 it is
// the static failure's time; failed after the step, the healthy time.
TEST_F(Replay, AFailureAtATimeReRoutesFlowsInFlight) {
  const double S = 64e6;
  const traces::Trace t = one_send(S);
  const double L = p2p_latency_s(0, 16, S);
  const models::Network flat(fabric, collectives::payload_efficiency(fabric), false);
  auto step = [&](const models::Network& n, std::vector<ReplayOptions::TimedFailure> failures, std::size_t* moved = nullptr) {
    Job j{"job", &t, {0, 16}, 1, {}};
    ReplayOptions o = wide_p2p();
    o.failures = std::move(failures);
    const ReplayReport r = replay(n, {j}, o);
    if (moved) *moved = r.rerouted_flows;
    return r.jobs[0].step_time_s;
  };
  models::Fabric broken = bag_fabric();
  broken.fail("r0.bag0");
  const models::Network broken_net(broken, collectives::payload_efficiency(broken));
  const double healthy = step(flat, {}), failed = step(broken_net, {});
  EXPECT_NEAR(healthy, L + S / B, 1e-9 * healthy);
  EXPECT_NEAR(failed, L + S / (0.75 * B), 1e-9 * failed);

  std::size_t moved = 0;
  const double T = L + S / (4 * B);
  const double mid = step(flat, {{T, "r0.bag0"}}, &moved);
  EXPECT_NEAR(mid, L + 1.25 * S / B, 1e-9 * mid);
  EXPECT_GT(moved, 0u);
  EXPECT_NEAR(step(flat, {{0, "r0.bag0"}}), failed, 1e-12 * failed);
  EXPECT_NEAR(step(flat, {{1.0, "r0.bag0"}}, &moved), healthy, 1e-12 * healthy);
  EXPECT_EQ(moved, 0u);
  // Failures given out of order apply in time order: plane 0's switch at T, plane 1's at 2T. From T to 2T at 3B/4,
  // then at B/2: by 2T the flow has sent S/4 + (3B/4) T; what is left takes (3S/4 - 3BT/4) / (B/2).
  const double two = step(flat, {{2 * T, "r0.bag1"}, {T, "r0.bag0"}});
  const double expected = 2 * T + (0.75 * S - 0.75 * B * T) / (0.5 * B);
  EXPECT_NEAR(two, expected, 1e-9 * expected);

  // A ring all-reduce over all 32 GPUs (many flows, several components), the same in lockstep (one flow per channel
  // over all its edges), and a reduce-scatter, which NCCL runs with PAT on one rank per node (one lockstep flow over
  // every round's connections): failed at 0 each is the static failure's run (every flow re-routed before it sends,
  // a lockstep one as a whole; no hop latency here, so the latencies kept are the same), and it is slower than the
  // healthy run.
  std::vector<std::uint32_t> all(32);
  for (std::uint32_t r = 0; r < 32; ++r) all[r] = r;
  std::vector<NodeId> gpus(all.begin(), all.end());
  for (auto [kind, g] : {std::pair{CollKind::AllReduce, collectives::Granularity::Pipelined},
                         std::pair{CollKind::AllReduce, collectives::Granularity::Lockstep},
                         std::pair{CollKind::ReduceScatter, collectives::Granularity::Pipelined}}) {
    Builder ar(32);
    const std::uint32_t world = ar.comm("world", all);
    for (std::uint32_t r = 0; r < 32; ++r) ar.coll(r, kind, kind == CollKind::AllReduce ? 256u << 20 : 1u << 20, world);
    auto ar_run = [&](const models::Network& n, std::vector<ReplayOptions::TimedFailure> failures) {
      Job j{"job", &ar.t, gpus, 1, {}};
      ReplayOptions o = no_contention();
      o.granularity = g;
      o.failures = std::move(failures);
      return replay(n, {j}, o);
    };
    const std::string what = std::string(common::to_string(kind)) + " " + collectives::to_string(g);
    const ReplayReport failed_run = ar_run(broken_net, {}), at0 = ar_run(flat, {{0, "r0.bag0"}});
    const double ar_failed = failed_run.jobs[0].step_time_s;
    EXPECT_NEAR(at0.jobs[0].step_time_s, ar_failed, 1e-12 * ar_failed) << what;
    EXPECT_GT(at0.rerouted_flows, 0u) << what;
    EXPECT_GT(ar_failed, 1.05 * ar_run(flat, {}).jobs[0].step_time_s) << what;
    ASSERT_EQ(at0.colls.size(), 1u);
    EXPECT_EQ(at0.colls[0].algo, kind == CollKind::AllReduce ? collectives::Algo::Ring : collectives::Algo::Pat) << what;
  }
}

// The reduction by symmetry (ReplayOptions::symmetry: identical disjoint components solved once, a communicator's
// repeated collective written from its first one's flows) is exact: the same bits as the replay that computes every
// collective on its own. A generated step of TP 8 x PP 2 x DP 4 spread over two 64-GPU buildings (a sprayed DSF and
// a hashed NSF, 8-GPU NVLink domains, behind the BAG): TP collectives in every domain, PAT across buildings, the
// pipeline's transfers. As generated; with a straggler (its domain's collectives diverge from the others'); at step
// granularity (flows that wait for others: the template's waits); with a failure at a time (no templates: flows are
// re-routed one by one); with a second job of the same step on the GPUs left (their flows meet at the BAG).
TEST(ReplaySymmetry, TheReducedReplayEqualsTheFullOne) {
  auto c = models::FabricConfig::from_preset("prometheus");
  c.set_assignment("building.gpus=64");
  const auto fab = models::build_fabric(c);
  const models::Network net(fab, collectives::payload_efficiency(fab));
  const models::Network flat(fab, collectives::payload_efficiency(fab), false);
  traces::LlmSpec s;
  s.gpus = 64, s.tp = 8, s.pp = 2, s.dp = 4, s.layers = 2, s.hidden = 1024, s.ffn = 4096, s.heads = 8;
  s.kv_heads = 8, s.vocab = 32000, s.seq = 2048, s.microbatches = 2;
  const traces::Trace t = traces::generate_llm(s);
  std::vector<NodeId> gpus, others;  // domain d of a job on building d % 2
  for (NodeId r = 0; r < 64; ++r) {
    gpus.push_back((r / 8) % 2 * 64 + (r / 16) * 8 + r % 8);
    others.push_back(gpus.back() + 32);
  }
  struct Case {
    const char* name;
    std::vector<std::pair<std::uint32_t, double>> slow;
    collectives::Granularity granularity;
    std::vector<ReplayOptions::TimedFailure> failures;
    bool two_jobs = false;
  };
  const std::vector<Case> cases = {{"as generated", {}, collectives::Granularity::Pipelined, {}},
                                   {"a straggler", {{5, 1.3}}, collectives::Granularity::Pipelined, {}},
                                   {"step granularity", {}, collectives::Granularity::Step, {}},
                                   {"a failure at 1 ms", {}, collectives::Granularity::Pipelined, {{1e-3, "r0.bag0"}}},
                                   {"two jobs", {}, collectives::Granularity::Pipelined, {}, true}};
  for (const Case& k : cases) {
    auto run = [&](bool symmetry) {
      std::vector<Job> jobs = {{"job", &t, gpus, 1, k.slow}};
      if (k.two_jobs) jobs.push_back({"other", &t, others, 1, {}});
      ReplayOptions o;
      o.symmetry = symmetry;
      o.granularity = k.granularity;
      o.failures = k.failures;
      return replay(k.failures.empty() ? net : flat, jobs, o);
    };
    const ReplayReport reduced = run(true), full = run(false);
    EXPECT_EQ(full.reused, 0u) << k.name;
    EXPECT_EQ(full.engine.shared_solves, 0u) << k.name;
    EXPECT_GT(reduced.engine.shared_solves, 0u) << k.name;
    if (k.failures.empty()) {
      EXPECT_GT(reduced.reused, reduced.colls.size() / 2) << k.name;
    }
    ASSERT_EQ(reduced.jobs.size(), k.two_jobs ? 2u : 1u);
    for (std::size_t j = 0; j < reduced.jobs.size(); ++j)
      EXPECT_EQ(reduced.jobs[j].step_time_s, full.jobs[j].step_time_s) << k.name << ", job " << j;
    for (std::size_t r = 0; r < 64; ++r) {
      const RankTimes &a = reduced.jobs[0].ranks[r], &b = full.jobs[0].ranks[r];
      EXPECT_EQ(a.compute_s, b.compute_s) << k.name << ", rank " << r;
      EXPECT_EQ(a.exposed_comm_s, b.exposed_comm_s) << k.name << ", rank " << r;
      EXPECT_EQ(a.bubble_s, b.bubble_s) << k.name << ", rank " << r;
      EXPECT_EQ(a.wait_s, b.wait_s) << k.name << ", rank " << r;
    }
    ASSERT_EQ(reduced.colls.size(), full.colls.size()) << k.name;
    for (std::size_t i = 0; i < reduced.colls.size(); ++i) {
      EXPECT_EQ(reduced.colls[i].start_s, full.colls[i].start_s) << k.name << ", collective " << i;
      EXPECT_EQ(reduced.colls[i].end_s, full.colls[i].end_s) << k.name << ", collective " << i;
      EXPECT_EQ(reduced.colls[i].binding_utilisation, full.colls[i].binding_utilisation) << k.name << ", " << i;
    }
    EXPECT_EQ(reduced.link_bytes, full.link_bytes) << k.name;
  }
}

TEST_F(Replay, AFailureAtATimeThatCutsTheJobOrNamesNothingIsAnError) {
  const traces::Trace t = one_send(64e6);
  const models::Network flat(fabric, collectives::payload_efficiency(fabric), false);
  Job j{"job", &t, {0, 16}, 1, {}};
  ReplayOptions o = no_contention();
  // Every BAG switch at 0.1 ms (the transfer takes about 2.3 ms on its 2 p2p channels): GPU 0 can no longer reach
  // GPU 16.
  for (int k = 0; k < 4; ++k) o.failures.push_back({1e-4, "r0.bag" + std::to_string(k)});
  try {
    replay(flat, {j}, o);
    ADD_FAILURE() << "no error";
  } catch (const models::RouteError& e) {
    EXPECT_NE(std::string(e.what()).find("after failing r0.bag3"), std::string::npos) << e.what();
  }
  o.failures = {{1e-3, "r0.nosuch"}};
  EXPECT_NE(models::testing::input_error([&] { replay(flat, {j}, o); }).find("r0.nosuch: no such node"),
            std::string::npos);
}

}  // namespace
}  // namespace collemu::emulator
