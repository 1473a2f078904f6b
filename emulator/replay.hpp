// Replay: one training step of one or several jobs on one fabric (DESIGN.md §4, docs/replay.md). Every rank executes
// its program from the trace; compute ops take their durations; a collective starts when every member of its
// communicator has reached it, and its flows (collectives/: NCCL's choice for that communicator's shape) go into the
// one flow engine that every job shares, so that whatever overlaps shares links max-min fairly. The replay owns the
// clock: it interleaves its own events (compute ends) with the engine's (flows finishing).
//
// Semantics (documented in docs/replay.md):
//   - an op may start when the ops it depends on are done (traces/trace.hpp: the previous op, or explicit deps);
//   - a rank computes one compute op at a time, in the order they became ready (one GPU's SMs); communication runs
//     beside it, as on a GPU's NCCL streams;
//   - a collective is the n-th collective a rank reaches on a communicator; it starts when the last member reaches it
//     and is done for every member when its flows and latency terms are done;
//   - a Send is posted and done for its rank's program at once (NCCL's grouped isend, as Megatron-LM's pipeline
//     schedules issue them); a Recv is done when its data has arrived. The n-th send from a to b on a communicator
//     matches the n-th receive of b from a; the transfer starts when both are posted and the rank's step is not over
//     before its sends have arrived.
// Breakdown: at every moment a rank is in exactly one state, by priority: compute (it computes), exposed
// communication (no compute, and a collective or transfer of the rank is moving data), bubble (it waits for a
// receive whose sender has not sent), waiting (it waits at a collective for late members, or has finished the step
// before the others). The four add up to the step time for every rank. `caused_wait_s` charges the late rank with the
// waiting it made the others do (not part of the sum).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "collectives/nccl.hpp"
#include "collectives/plan.hpp"
#include "common/collective.hpp"
#include "models/fabric.hpp"
#include "models/network.hpp"
#include "models/solver/flow_engine.hpp"
#include "traces/trace.hpp"

namespace collemu::emulator {

struct Job {
  std::string name;
  const traces::Trace* trace = nullptr;
  std::vector<models::NodeId> gpus;  // the GPU of each rank (size: the trace's world size)
  double compute_scale = 1;          // every compute duration times this (a faster GPU: < 1)
  std::vector<std::pair<std::uint32_t, double>> slow_ranks;  // (rank, factor): that rank's compute times factor
};

// The model's version: raised whenever a change makes the same scenario give other numbers (a sweep resumes only into
// the model that began it). 2: sends across nodes on their peer's p2p channels (2026-12-07). 3: Broadcast and Reduce
// pay their chain's n - 1 step latencies (2026-12-08). 4: LL's bandwidth and the network post overhead across nodes
// by the hosts' CPU (host.cpu; 2026-12-08).
inline constexpr int kModelVersion = 4;

struct ReplayOptions {
  models::solver::SolverFactory solver = models::solver::rate_solver_factory("cpu");
  int qps = 1;  // QPs per connection (NCCL_IB_QPS_PER_CONNECTION)
  bool pxn = true;  // false: NCCL_PXN_DISABLE=1 (collectives::CollSpec::pxn)
  int nccl_minor = collectives::kNcclMinor;  // collectives::CollSpec::nccl_minor
  int net_channels_per_peer = 0;  // NCCL_NCHANNELS_PER_NET_PEER, 0: NCCL's default (collectives::CollSpec)
  // NCCL_MIN_NCHANNELS, NCCL_MAX_NCHANNELS: every communicator's channels, its default clamped to these (0: no bound).
  int min_channels = 0, max_channels = 0;
  collectives::Granularity granularity = collectives::Granularity::Pipelined;
  // An approximation, 0 (exact) unless set; the CLI sets 2e-4: flows that nothing waits for, within this fraction of
  // their sending time of their end, finish at the event that comes first
  // (models::solver::FlowEngineOptions::finish_tolerance).
  double finish_tolerance = 0;
  // Computed once where it is identical (exact: the same bits): identical disjoint components (the same collective in
  // every NVLink domain) share one solved rate problem (models::solver::FlowEngineOptions), and a communicator's
  // repeated collective (the same op and size) is written from the flows its first instance made, not routed again
  // (collectives::FlowTemplate). false: everything per instance, to check that (tests/emulator/replay_test.cpp).
  bool symmetry = true;
  // Called now and then (every ~0.25 s of wall time) while the replay runs.
  struct Progress {
    double sim_time_s;
    std::size_t colls_done, colls_total;  // collective and transfer instances
  };
  std::function<void(const Progress&)> progress;
  // SM contention: the share of a GPU's compute that one NCCL channel of a communication kernel moving data takes
  // from the compute it overlaps. NCCL runs each channel as one CUDA block (one SM); an H100 SXM has 132 SMs (NVIDIA
  // H100 Tensor Core GPU Architecture whitepaper): 1/132. A rank computes at 1 - share x (channels of its collectives
  // and transfers moving data), never below 0. 0: no contention. Tail effects (a GEMM sized to one wave of SMs that
  // needs a second one, measured as up to 2x on NVIDIA's forums) are not modelled.
  double sm_share_per_channel = 1.0 / 132;
  // Ranks (of job 0) whose ops are recorded one by one (ReplayReport::rank_ops), for timelines; empty: none.
  std::vector<std::uint32_t> record_ranks;
  // Ranks of the other jobs to record too, as (job, rank) (a timeline of several jobs).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> record_job_ranks;
  // Failures at a time: at `at_s` the fabric also loses what `spec` names (models::Fabric::fail: a switch or a
  // cable), after every event at that time. Routes are computed again on the changed fabric (UCMP re-weighted), every
  // flow not yet finished whose path set changes moves to the new one keeping the bytes it has sent (in-flight flows
  // go on over the new paths), and later collectives route on it. Needs a network whose engine links are the fabric's
  // (models::Network with group_links false); identical flows are then not merged, and a lockstep flow moves whole.
  // A flow that has been given its latency (waiting, or in its latency) keeps the old path's latency.
  struct TimedFailure {
    double at_s = 0;
    std::string spec;
  };
  std::vector<TimedFailure> failures;
};

// One op of a recorded rank, as it ran: compute from start to end; a collective from the rank's arrival (start) to
// its end, the data moving from `data_s`; a receive from its post to its end, the data moving from `data_s`; a send
// posted at start (its transfer is the receiver's).
struct RankOp {
  std::uint32_t job = 0;   // index into the replay's jobs
  std::uint32_t rank = 0;  // job rank
  std::uint32_t op = 0;    // index in the rank's program
  traces::OpKind kind = traces::OpKind::Compute;
  common::CollKind coll = common::CollKind::AllReduce;
  std::uint32_t comm = 0;  // collectives, sends and receives: the communicator (index into the trace's)
  double start_s = 0, data_s = 0, end_s = 0;
};

// Bytes carried per link tier over time, in bins of equal width (each flow's bytes spread evenly over the time it
// sent: its mean rate, exact in total, an approximation within a flow's life). The width doubles as the replay runs
// so that at most kMaxBins bins cover it.
struct TierSeries {
  static constexpr std::size_t kMaxBins = 2048;
  double bin_s = 1e-6;
  std::vector<std::array<double, models::kNumLinkTiers>> bytes;  // per bin
  void add(models::LinkTier tier, double bytes, double from_s, double to_s);
};

struct RankTimes {
  double compute_s = 0, exposed_comm_s = 0, bubble_s = 0, wait_s = 0;
  double end_s = 0;          // when its last op (and its sends) were done
  double caused_wait_s = 0;  // waiting of other members at collectives this rank reached last
  double total_s() const { return compute_s + exposed_comm_s + bubble_s + wait_s; }
};

// One collective (or point-to-point transfer, kind Send) as it ran.
struct CollRecord {
  std::uint32_t job = 0;
  std::uint32_t comm = 0;    // index into the job's trace's communicators
  std::uint64_t index = 0;   // the n-th collective on that communicator (transfers: the n-th from src to dst)
  common::CollKind kind = common::CollKind::AllReduce;
  double bytes = 0;          // nccl-tests' size (AllGather/ReduceScatter: the gathered size; AllToAll: per rank), B
  int ranks = 0;
  double start_s = 0, end_s = 0;
  collectives::Algo algo = collectives::Algo::Ring;
  collectives::Proto proto = collectives::Proto::Simple;
  int channels = 0;
  double busbw_Bps = 0;      // nccl-tests' bus bandwidth for its duration
  models::LinkTier binding_tier = models::LinkTier::NvLink;  // tier of the link it loaded most over its duration
  double binding_utilisation = 0;                            // that link's share carried by this collective
  std::uint32_t src_rank = 0, dst_rank = 0;                  // transfers: job ranks
};

struct JobReport {
  std::string name;
  double step_time_s = 0;       // from 0 to the end of its last rank
  std::uint32_t critical_rank = 0;  // the rank that ended last (lowest on ties)
  RankTimes critical, mean;     // the critical rank's breakdown, and the mean over ranks
  std::vector<RankTimes> ranks;
};

struct ReplayReport {
  std::vector<JobReport> jobs;
  std::vector<CollRecord> colls;   // in order of end
  double end_s = 0;                // the last job's end
  std::vector<double> link_bytes;  // per engine link (models::Network's links)
  models::solver::FlowEngineStats engine;
  std::size_t flows = 0;
  std::size_t replay_events = 0;   // distinct times the replay processed
  std::size_t ops = 0;             // op instances executed over all ranks
  TierSeries tiers;                // bytes per tier over time
  std::vector<RankOp> rank_ops;    // the ops of ReplayOptions::record_ranks, in order of end
  std::size_t rerouted_flows = 0;  // flows moved by failures at a time (ReplayOptions::failures)
  std::size_t reused = 0;  // collectives and transfers written from their first instance's flows (ReplayOptions::symmetry)
};

// Replays `jobs` on `network`. Throws common::InputError for a job the fabric cannot hold (a GPU it does not have, a
// GPU given twice, within a job or across jobs), a trace that is not a whole job (ranks of a communicator missing),
// mismatched collectives across ranks (traces::check_consistency), for a deadlock: ranks that can never finish,
// named with the ops they wait at, and for a failure at a time that cuts a pair the job still needs (RouteError).
ReplayReport replay(const models::Network& network, const std::vector<Job>& jobs, const ReplayOptions& options = {});

}  // namespace collemu::emulator
