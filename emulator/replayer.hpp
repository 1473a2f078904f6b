// The replay's machinery, shared by its sources (replay.cpp: setup and the event loop; replay_report.cpp: checks,
// records, messages). Internal to emulator/: include replay.hpp instead.
#pragma once

#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "collectives/coll.hpp"
#include "collectives/communicator.hpp"
#include "collectives/emit.hpp"
#include "common/error.hpp"
#include "common/memory.hpp"
#include "emulator/replay.hpp"

namespace collemu::emulator::detail {

using collectives::CollFlows;
using collectives::CollPlan;
using collectives::CollSpec;
using common::CollKind;
using common::InputError;
using models::NodeId;
using models::solver::FlowEngine;
using models::solver::FlowId;
using traces::Op;
using traces::OpKind;

inline constexpr std::uint32_t kNone = ~0u;
inline constexpr std::uint32_t kTransferBit = 1u << 31;
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// nccl-tests' size of a trace op on a communicator of n ranks (CollSpec::bytes): the trace holds NCCL's count argument
// (docs/trace-format.md), per rank for AllGather's send buffer and ReduceScatter's receive buffer.
inline double spec_bytes(const Op& op, int n) {
  const double b = op.bytes();
  if (op.coll == CollKind::AllGather || op.coll == CollKind::ReduceScatter) return b * n;
  return b;
}

// What the collectives layer runs for a trace kind: a barrier is NCCL's all-reduce of its (tiny) buffer.
inline CollKind run_kind(CollKind k) { return k == CollKind::Barrier ? CollKind::AllReduce : k; }

// Dependencies of a program as counts and dependents (CSR), shared by every rank that runs it.
struct ProgramIndex {
  std::vector<std::uint32_t> dep_count;
  std::vector<std::uint32_t> begin;  // dependents of op i: next[begin[i] .. begin[i + 1])
  std::vector<std::uint32_t> next;
  std::uint32_t recvs = 0;
};

ProgramIndex index_program(const traces::Program& p);

struct Rank {
  std::uint32_t job = 0, rank = 0;  // job-local rank
  const traces::Program* prog = nullptr;
  const ProgramIndex* index = nullptr;
  std::uint64_t op_base = 0;  // into Replayer::pending_
  std::uint32_t ops_left = 0, sends_in_flight = 0;
  double compute_factor = 1;
  bool computing = false, done = false;
  // The compute op running: its work left at full speed (s) as of since_s, its speed, and the version of its timer.
  std::uint32_t compute_op = 0, compute_version = 0;
  double work_s = 0, since_s = 0, speed = 1;
  double moving_channels = 0;  // NCCL channels of the rank's collectives and transfers moving data
  std::deque<std::uint32_t> compute_queue;
  std::uint32_t moving = 0, rendezvous = 0, bubble = 0;
  double last_s = 0;
  RankTimes times;
  std::vector<std::uint64_t> colls_seen;                         // per slot
  std::map<std::pair<std::uint32_t, std::int32_t>, std::uint64_t> sent, received;  // (slot, peer) -> count
};

struct Instance {  // one collective on one communicator
  std::uint32_t job, comm;
  std::uint64_t index;
  const Op* op;  // the first arrival's op (what the others must agree with)
  std::uint32_t first_rank, first_op;
  std::uint32_t size, arrived = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> members;  // (global rank, op) in order of arrival
  std::vector<double> arrive_s;
  CollFlows flows;
  std::uint32_t remaining = 0;
  CollPlan plan;
};

struct Transfer {
  std::uint32_t job, comm;
  std::uint64_t index;
  std::uint32_t src = kNone, dst = kNone;  // global ranks
  std::uint32_t send_op = kNone, recv_op = kNone;
  double send_bytes = -1, recv_bytes = -1;
  CollFlows flows;
  std::uint32_t remaining = 0;
  CollPlan plan;
};

struct Key {
  std::uint64_t a, b, c;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  std::size_t operator()(const Key& k) const {
    std::uint64_t h = k.a * 0x9E3779B97F4A7C15ull;
    h ^= (h >> 29) + k.b * 0xBF58476D1CE4E5B9ull;
    h ^= (h >> 31) + k.c * 0x94D049BB133111EBull;
    return static_cast<std::size_t>(h ^ (h >> 32));
  }
};

class Replayer {
 public:
  Replayer(const models::Network& net, const std::vector<Job>& jobs, const ReplayOptions& options)
      : net_(&net), jobs_(jobs), opt_(options),
        engine_(net.capacities(), options.solver,
                {.share_identical_components = options.symmetry, .finish_tolerance = options.finish_tolerance}) {
    net.propose_guards(engine_);
  }

  ReplayReport run();

 private:
  const traces::Trace& trace(std::uint32_t job) const { return *jobs_[job].trace; }
  std::string rank_name(std::uint32_t g) const {
    const Rank& r = ranks_[g];
    std::string s = trace(r.job).rank_name(r.rank);
    return jobs_.size() > 1 ? jobs_[r.job].name + " " + s : s;
  }
  std::string op_name(std::uint32_t g, std::uint32_t op) const;
  void check_jobs();
  void setup();
  void touch(Rank& r, double t);
  void complete(std::uint32_t g, std::uint32_t op, double t);
  void finish_if_done(std::uint32_t g, double t);
  void start(std::uint32_t g, std::uint32_t op, double t);
  void drain(double t);
  void begin_compute(std::uint32_t g, std::uint32_t op, double t);
  void schedule_compute(std::uint32_t g, double t);
  void add_channels(std::uint32_t g, double channels, double t);
  void arrive(std::uint32_t g, std::uint32_t op, double t);
  void start_instance(std::uint32_t id, double t);
  // A send's or receive's communicator and its peer's global rank; throws for a peer that is the rank itself.
  std::pair<std::uint32_t, std::uint32_t> peer_of(std::uint32_t g, std::uint32_t op, const char* to_self) const;
  void post_send(std::uint32_t g, std::uint32_t op, double t);
  void post_recv(std::uint32_t g, std::uint32_t op, double t);
  Transfer& transfer_for(std::uint32_t job, std::uint32_t comm, std::uint32_t src, std::uint32_t dst,
                         std::uint64_t n);
  void start_transfer(std::uint32_t id, double t);
  void on_flow_finished(FlowId f, double t);
  void own(const CollFlows& flows, std::uint32_t owner, std::uint32_t& remaining);
  // A collective or transfer recorded: its flows are released from the engine (and their routes dropped).
  void forget(CollFlows& flows);
  CollRecord record(const CollFlows& flows, const CollPlan& plan, int ranks, double end_s);
  const collectives::Communicator& comm_object(std::uint32_t job, std::uint32_t comm);
  const collectives::Communicator& pair_object(NodeId a, NodeId b);
  // NCCL's plan for a collective on a communicator, and the flows its first instance wrote (the next ones are written
  // from them: collectives::FlowTemplate), made once per (communicator, op, size, root).
  struct Planned {
    CollPlan plan;
    std::unique_ptr<collectives::FlowTemplate> flows;
    bool recorded = false;  // its first instance has written (and, within the budget, kept) its flows
  };
  Planned& plan_for(const collectives::Communicator& c, CollKind kind, double bytes, int root);
  // The flows of `p` on `c` from t: from its template when there is one (ReplayOptions::symmetry), else emitted (and
  // kept as its template, the first time, while templates hold less than kTemplateBudget).
  CollFlows emit(Planned& p, const collectives::Communicator& c, double t, bool transfer);
  static constexpr std::size_t kTemplateBytes = std::size_t{256} << 20;
  std::size_t template_bytes_ = 0;
  [[noreturn]] void deadlock(double t);
  void check_failures();
  // Applies the i-th failure in time order (ReplayOptions::failures): the network after it, flows re-routed.
  void fail(std::size_t i);
  void report_progress(double t, bool force);

  const models::Network* net_;  // the network as it is now (the caller's until a failure at a time)
  std::vector<std::unique_ptr<models::Fabric>> failed_fabrics_;  // after each failure at a time, and their networks
  std::vector<std::unique_ptr<models::Network>> failed_networks_;
  std::vector<std::size_t> failure_order_;  // ReplayOptions::failures by time
  std::size_t next_failure_ = 0;
  collectives::EmitOptions emit_;
  std::vector<collectives::RouteLabel> routes_;  // per engine flow, when there are failures at a time
  std::vector<collectives::LockstepRoute> lockstep_routes_;  // what routes_ of lockstep flows index
  const std::vector<Job>& jobs_;
  const ReplayOptions& opt_;
  FlowEngine engine_;
  std::vector<std::vector<ProgramIndex>> indices_;  // [job][program]
  std::vector<std::uint32_t> job_base_;             // first global rank of each job
  std::vector<Rank> ranks_;
  std::vector<std::uint32_t> pending_;  // per (rank, op): dependencies not yet done
  std::deque<std::pair<std::uint32_t, std::uint32_t>> ready_;
  struct Timer {
    double t;
    std::uint64_t seq;
    std::uint32_t rank, op, version;
    bool operator>(const Timer& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t timer_seq_ = 0;
  // Collectives and transfers not done yet: a done one's slot is taken by the next (slot()).
  std::vector<Instance> instances_;
  std::vector<std::uint32_t> free_instances_;
  std::unordered_map<Key, std::uint32_t, KeyHash> open_instances_;
  std::vector<Transfer> transfers_;
  std::vector<std::uint32_t> free_transfers_;
  std::unordered_map<Key, std::uint32_t, KeyHash> open_transfers_;
  template <class T>
  static std::uint32_t slot(std::vector<T>& all, std::vector<std::uint32_t>& free, T&& item) {
    if (free.empty()) {
      all.push_back(std::move(item));
      return static_cast<std::uint32_t>(all.size() - 1);
    }
    const std::uint32_t id = free.back();
    free.pop_back();
    all[id] = std::move(item);
    return id;
  }
  std::deque<std::uint32_t> owner_;  // per engine flow: instance (or transfer | kTransferBit), kNone
  std::vector<std::vector<std::unique_ptr<collectives::Communicator>>> comms_;  // [job][comm], lazily
  std::map<std::pair<NodeId, NodeId>, std::unique_ptr<collectives::Communicator>> pairs_;
  std::map<std::tuple<const collectives::Communicator*, CollKind, double, int>, Planned> plans_;
  std::vector<double> scratch_bytes_;
  std::vector<models::EngineLink> scratch_links_;
  ReplayReport report_;
  std::vector<std::uint8_t> recorded_;                       // per global rank: its ops are recorded
  std::unordered_map<std::uint64_t, RankOp> open_ops_;       // (rank << 32 | op) -> the op so far
  void op_started(std::uint32_t g, std::uint32_t op, double t);
  void op_data(std::uint32_t g, std::uint32_t op, double t);
  void op_ended(std::uint32_t g, std::uint32_t op, double t);
  std::size_t colls_done_ = 0, colls_total_ = 0;
  // The memory this process may use (common::available_memory_bytes), read once; 0: no limit known.
  std::uint64_t memory_limit_ = common::available_memory_bytes();
  void check_memory_for(const collectives::Communicator& c, const CollPlan& plan, std::uint32_t job,
                        const std::function<std::string()>& what);
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
};


}  // namespace collemu::emulator::detail
