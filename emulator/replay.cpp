#include "emulator/replay.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <sstream>
#include <unordered_map>

#include "collectives/communicator.hpp"
#include "collectives/emit.hpp"
#include "common/error.hpp"

namespace collemu::emulator {

void TierSeries::add(models::LinkTier tier, double b, double from_s, double to_s) {
  if (!(b > 0) || !(to_s >= from_s)) return;
  while (to_s >= bin_s * kMaxBins) {  // widen: merge pairs of bins
    const std::size_t half = (bytes.size() + 1) / 2;
    for (std::size_t i = 0; i < half; ++i) {
      std::array<double, models::kNumLinkTiers> sum = bytes[2 * i];
      if (2 * i + 1 < bytes.size())
        for (int t = 0; t < models::kNumLinkTiers; ++t) sum[t] += bytes[2 * i + 1][t];
      bytes[i] = sum;
    }
    bytes.resize(half);
    bin_s *= 2;
  }
  const auto first = static_cast<std::size_t>(from_s / bin_s), last = static_cast<std::size_t>(to_s / bin_s);
  if (bytes.size() <= last) bytes.resize(last + 1, {});
  const int k = static_cast<int>(tier);
  if (first == last || to_s == from_s) {
    bytes[first][k] += b;
    return;
  }
  const double rate = b / (to_s - from_s);
  for (std::size_t i = first; i <= last; ++i) {
    const double lo = std::max(from_s, i * bin_s), hi = std::min(to_s, (i + 1) * bin_s);
    if (hi > lo) bytes[i][k] += rate * (hi - lo);
  }
}

namespace {

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

constexpr std::uint32_t kNone = ~0u;
constexpr std::uint32_t kTransferBit = 1u << 31;
constexpr double kInf = std::numeric_limits<double>::infinity();

// nccl-tests' size of a trace op on a communicator of n ranks (CollSpec::bytes): the trace holds NCCL's count argument
// (docs/trace-format.md), per rank for AllGather's send buffer and ReduceScatter's receive buffer.
double spec_bytes(const Op& op, int n) {
  const double b = op.bytes();
  if (op.coll == CollKind::AllGather || op.coll == CollKind::ReduceScatter) return b * n;
  return b;
}

// What the collectives layer runs for a trace kind: a barrier is NCCL's all-reduce of its (tiny) buffer.
CollKind run_kind(CollKind k) { return k == CollKind::Barrier ? CollKind::AllReduce : k; }

// Dependencies of a program as counts and dependents (CSR), shared by every rank that runs it.
struct ProgramIndex {
  std::vector<std::uint32_t> dep_count;
  std::vector<std::uint32_t> begin;  // dependents of op i: next[begin[i] .. begin[i + 1])
  std::vector<std::uint32_t> next;
  std::uint32_t recvs = 0;
};

ProgramIndex index_program(const traces::Program& p) {
  ProgramIndex ix;
  const auto n = static_cast<std::uint32_t>(p.ops.size());
  ix.dep_count.assign(n, 0);
  ix.begin.assign(n + 1, 0);
  auto each_dep = [&](std::uint32_t i, auto&& fn) {
    const Op& o = p.ops[i];
    if (!o.deps.empty()) {
      for (std::uint32_t d : o.deps) fn(d);
    } else if (!p.dag && i > 0) {
      fn(i - 1);
    }
  };
  for (std::uint32_t i = 0; i < n; ++i) {
    each_dep(i, [&](std::uint32_t d) { ++ix.begin[d + 1]; ++ix.dep_count[i]; });
    if (p.ops[i].kind == OpKind::Recv) ++ix.recvs;
  }
  for (std::uint32_t i = 0; i < n; ++i) ix.begin[i + 1] += ix.begin[i];
  ix.next.resize(ix.begin[n]);
  std::vector<std::uint32_t> fill(ix.begin.begin(), ix.begin.end() - 1);
  for (std::uint32_t i = 0; i < n; ++i) each_dep(i, [&](std::uint32_t d) { ix.next[fill[d]++] = i; });
  return ix;
}

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
      : net_(net), jobs_(jobs), opt_(options), engine_(net.capacities(), options.solver) {}

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
  void post_send(std::uint32_t g, std::uint32_t op, double t);
  void post_recv(std::uint32_t g, std::uint32_t op, double t);
  Transfer& transfer_for(std::uint32_t job, std::uint32_t comm, std::uint32_t src, std::uint32_t dst,
                         std::uint64_t n);
  void start_transfer(std::uint32_t id, double t);
  void on_flow_finished(FlowId f, double t);
  void own(const CollFlows& flows, std::uint32_t owner, std::uint32_t& remaining);
  CollRecord record(const CollFlows& flows, const CollPlan& plan, int ranks, double end_s);
  const collectives::Communicator& comm_object(std::uint32_t job, std::uint32_t comm);
  const collectives::Communicator& pair_object(NodeId a, NodeId b);
  const CollPlan& plan_for(const collectives::Communicator& c, CollKind kind, double bytes, int root);
  [[noreturn]] void deadlock(double t);
  void report_progress(double t, bool force);

  const models::Network& net_;
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
  std::vector<Instance> instances_;
  std::unordered_map<Key, std::uint32_t, KeyHash> open_instances_;
  std::vector<Transfer> transfers_;
  std::unordered_map<Key, std::uint32_t, KeyHash> open_transfers_;
  std::vector<std::uint32_t> owner_;  // per engine flow: instance (or transfer | kTransferBit), kNone
  std::vector<std::vector<std::unique_ptr<collectives::Communicator>>> comms_;  // [job][comm], lazily
  std::map<std::pair<NodeId, NodeId>, std::unique_ptr<collectives::Communicator>> pairs_;
  std::map<std::tuple<const collectives::Communicator*, CollKind, double, int>, CollPlan> plans_;
  std::vector<double> scratch_bytes_;
  std::vector<models::EngineLink> scratch_links_;
  ReplayReport report_;
  std::vector<std::uint8_t> recorded_;                       // per global rank: its ops are recorded
  std::unordered_map<std::uint64_t, RankOp> open_ops_;       // (rank << 32 | op) -> the op so far
  void op_started(std::uint32_t g, std::uint32_t op, double t);
  void op_data(std::uint32_t g, std::uint32_t op, double t);
  void op_ended(std::uint32_t g, std::uint32_t op, double t);
  std::size_t colls_done_ = 0, colls_total_ = 0;
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
};

std::string Replayer::op_name(std::uint32_t g, std::uint32_t op) const {
  const Rank& r = ranks_[g];
  const Op& o = r.prog->ops[op];
  std::string s = "op " + std::to_string(op) + " (" + traces::to_string(o.kind);
  if (o.kind == OpKind::Collective) s += std::string(" ") + common::to_string(o.coll);
  if (o.kind != OpKind::Compute) {
    const auto& t = trace(r.job);
    s += " on " + t.comm(r.rank, o.comm_slot).name;
    if (o.kind != OpKind::Collective) s += " peer " + std::to_string(o.root);
  }
  return s + ")";
}

void Replayer::check_jobs() {
  std::unordered_map<NodeId, std::pair<std::uint32_t, std::uint32_t>> owner;
  for (std::uint32_t j = 0; j < jobs_.size(); ++j) {
    const Job& job = jobs_[j];
    COLLEMU_ASSERT(job.trace != nullptr, "a job without a trace");
    const traces::Trace& t = *job.trace;
    const std::string who = jobs_.size() > 1 ? "job " + job.name + " (" + t.source + ")" : t.source;
    if (job.gpus.size() != t.world_size)
      throw InputError(who, "the placement has " + std::to_string(job.gpus.size()) + " GPUs for " +
                                std::to_string(t.world_size) + " ranks");
    if (!(job.compute_scale > 0) || !std::isfinite(job.compute_scale))
      throw InputError(who, "compute scale " + std::to_string(job.compute_scale) + ": expected a factor > 0");
    for (auto [r, f] : job.slow_ranks) {
      if (r >= t.world_size)
        throw InputError(who, "slow rank " + std::to_string(r) + ": the job has ranks 0 to " +
                                  std::to_string(t.world_size - 1));
      if (!(f > 0) || !std::isfinite(f))
        throw InputError(who, "slow rank " + std::to_string(r) + " factor " + std::to_string(f) +
                                  ": expected a factor > 0");
    }
    for (std::uint32_t r = 0; r < job.gpus.size(); ++r) {
      const NodeId g = job.gpus[r];
      if (g >= net_.num_gpus())
        throw InputError(who, "rank " + std::to_string(r) + " is placed on GPU " + std::to_string(g) +
                                  ", which the fabric does not have (it has " + std::to_string(net_.num_gpus()) +
                                  " GPUs)");
      auto [it, fresh] = owner.try_emplace(g, j, r);
      if (!fresh) {
        const auto [oj, orank] = it->second;
        throw InputError(who, "rank " + std::to_string(r) + " is placed on GPU " + std::to_string(g) + ", as is " +
                                  (oj == j ? "" : "job " + jobs_[oj].name + " ") + "rank " + std::to_string(orank) +
                                  ": expected one rank per GPU");
      }
    }
    traces::check_consistency(t);
    // One rank with collectives: one file of a larger job (a per-rank format read from rank 0's file alone), since a
    // job of one GPU calls no collective that moves data.
    if (t.world_size == 1) {
      std::size_t colls = 0;
      for (const Op& o : t.program(0).ops) colls += o.kind != OpKind::Compute;
      if (colls)
        throw InputError(who, "not a whole job: one rank with " + std::to_string(colls) +
                                  " collective(s) or transfer(s), which need other ranks; the ranks of the job other "
                                  "than this one are missing: give the files of every rank of the job");
    }
    // A whole job: every member of a communicator is in the trace and has a program (a partial trace's missing
    // ranks are empty programs, or a declared size larger than the ranks listed).
    for (const auto& c : t.comms) {
      std::vector<std::uint32_t> missing;
      bool busy = false;
      for (std::uint32_t r : c.ranks) {
        if (t.program(r).ops.empty()) missing.push_back(r);
        else busy = true;
      }
      if (!busy) continue;
      if (missing.empty() && c.declared_size <= c.ranks.size()) continue;
      std::string list;
      for (std::size_t i = 0; i < missing.size() && i < 8; ++i) list += (i ? ", " : "") + std::to_string(missing[i]);
      if (missing.size() > 8) list += ", ...";
      throw InputError(who, "not a whole job: communicator " + c.name + " has " +
                                std::to_string(std::max<std::size_t>(c.declared_size, c.ranks.size())) +
                                " ranks, of which " +
                                std::to_string(c.ranks.size() - missing.size()) + " are in the trace" +
                                (list.empty() ? "" : " (without ops: ranks " + list + ")") +
                                "; give the files of every rank of the job");
    }
  }
}

void Replayer::setup() {
  std::uint64_t total_ops = 0;
  std::uint32_t total_ranks = 0;
  for (const Job& job : jobs_) {
    job_base_.push_back(total_ranks);
    total_ranks += job.trace->world_size;
  }
  ranks_.resize(total_ranks);
  indices_.resize(jobs_.size());
  comms_.resize(jobs_.size());
  for (std::uint32_t j = 0; j < jobs_.size(); ++j) {
    const traces::Trace& t = *jobs_[j].trace;
    for (const auto& p : t.programs) indices_[j].push_back(index_program(p));
    comms_[j].resize(t.comms.size());
    std::vector<double> factor(t.world_size, jobs_[j].compute_scale);
    for (auto [r, f] : jobs_[j].slow_ranks) factor[r] = jobs_[j].compute_scale * f;
    for (std::uint32_t r = 0; r < t.world_size; ++r) {
      Rank& rk = ranks_[job_base_[j] + r];
      rk.job = j;
      rk.rank = r;
      rk.prog = &t.program(r);
      rk.index = &indices_[j][t.program_of_rank[r]];
      rk.op_base = total_ops;
      rk.ops_left = static_cast<std::uint32_t>(rk.prog->ops.size());
      rk.compute_factor = factor[r];
      rk.colls_seen.assign(t.comm_of_slot[r].size(), 0);
      total_ops += rk.ops_left;
      colls_total_ += rk.index->recvs;
      for (const Op& o : rk.prog->ops)
        if (o.kind == OpKind::Collective && t.comm(r, o.comm_slot).ranks.front() == r) ++colls_total_;
    }
  }
  pending_.resize(total_ops);
  for (const Rank& rk : ranks_)
    std::copy(rk.index->dep_count.begin(), rk.index->dep_count.end(), pending_.begin() + rk.op_base);
  scratch_bytes_.assign(net_.num_links(), 0.0);
  recorded_.assign(ranks_.size(), 0);
  for (std::uint32_t r : opt_.record_ranks)
    if (r < jobs_[0].trace->world_size) recorded_[r] = 1;
}

void Replayer::op_started(std::uint32_t g, std::uint32_t op, double t) {
  if (!recorded_[g]) return;
  const Rank& r = ranks_[g];
  const Op& o = r.prog->ops[op];
  RankOp x;
  x.rank = r.rank;
  x.op = op;
  x.kind = o.kind;
  x.coll = o.coll;
  if (o.kind != OpKind::Compute) x.comm = trace(r.job).comm_of_slot[r.rank][o.comm_slot];
  x.start_s = x.data_s = x.end_s = t;
  open_ops_[(std::uint64_t{g} << 32) | op] = x;
}

void Replayer::op_data(std::uint32_t g, std::uint32_t op, double t) {
  if (!recorded_[g]) return;
  open_ops_[(std::uint64_t{g} << 32) | op].data_s = t;
}

void Replayer::op_ended(std::uint32_t g, std::uint32_t op, double t) {
  if (!recorded_[g]) return;
  auto it = open_ops_.find((std::uint64_t{g} << 32) | op);
  if (it == open_ops_.end()) return;
  it->second.end_s = t;
  report_.rank_ops.push_back(it->second);
  open_ops_.erase(it);
}

void Replayer::touch(Rank& r, double t) {
  const double d = t - r.last_s;
  if (d > 0) {
    if (r.computing) r.times.compute_s += d;
    else if (r.moving) r.times.exposed_comm_s += d;
    else if (r.bubble) r.times.bubble_s += d;
    else r.times.wait_s += d;
  }
  r.last_s = std::max(r.last_s, t);
}

void Replayer::complete(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  ++report_.ops;
  op_ended(g, op, t);
  for (std::uint32_t k = r.index->begin[op]; k < r.index->begin[op + 1]; ++k) {
    const std::uint32_t d = r.index->next[k];
    if (--pending_[r.op_base + d] == 0) ready_.emplace_back(g, d);
  }
  --r.ops_left;
  finish_if_done(g, t);
}

void Replayer::finish_if_done(std::uint32_t g, double t) {
  Rank& r = ranks_[g];
  if (r.ops_left || r.sends_in_flight || r.done) return;
  touch(r, t);
  r.done = true;
  r.times.end_s = t;
}

void Replayer::drain(double t) {
  while (!ready_.empty()) {
    const auto [g, op] = ready_.front();
    ready_.pop_front();
    start(g, op, t);
  }
}

void Replayer::start(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  switch (r.prog->ops[op].kind) {
    case OpKind::Compute:
      if (r.computing) r.compute_queue.push_back(op);
      else begin_compute(g, op, t);
      break;
    case OpKind::Collective: arrive(g, op, t); break;
    case OpKind::Send: post_send(g, op, t); break;
    case OpKind::Recv: post_recv(g, op, t); break;
  }
}

void Replayer::begin_compute(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  op_started(g, op, t);
  touch(r, t);
  r.computing = true;
  const double d = r.prog->ops[op].duration_s * r.compute_factor;
  if (!std::isfinite(d))
    throw InputError(trace(r.job).source, rank_name(g) + ", " + op_name(g, op) + ": compute duration " +
                                              std::to_string(d) + " s; expected a finite duration");
  r.compute_op = op;
  r.work_s = d;
  r.since_s = t;
  schedule_compute(g, t);
}

void Replayer::schedule_compute(std::uint32_t g, double t) {
  Rank& r = ranks_[g];
  r.speed = std::max(0.0, 1 - opt_.sm_share_per_channel * r.moving_channels);
  ++r.compute_version;
  if (r.work_s <= 0) timers_.push({t, timer_seq_++, g, r.compute_op, r.compute_version});
  else if (r.speed > 0) timers_.push({t + r.work_s / r.speed, timer_seq_++, g, r.compute_op, r.compute_version});
}

void Replayer::add_channels(std::uint32_t g, double channels, double t) {
  Rank& r = ranks_[g];
  r.moving_channels += channels;
  if (!r.computing || opt_.sm_share_per_channel == 0) return;
  r.work_s = std::max(0.0, r.work_s - (t - r.since_s) * r.speed);
  r.since_s = t;
  schedule_compute(g, t);
}

const collectives::Communicator& Replayer::comm_object(std::uint32_t job, std::uint32_t comm) {
  auto& slot = comms_[job][comm];
  if (!slot) {
    const traces::Communicator& c = trace(job).comms[comm];
    std::vector<NodeId> gpus;
    gpus.reserve(c.ranks.size());
    for (std::uint32_t r : c.ranks) gpus.push_back(jobs_[job].gpus[r]);
    slot = std::make_unique<collectives::Communicator>(net_, std::move(gpus));
  }
  return *slot;
}

const collectives::Communicator& Replayer::pair_object(NodeId a, NodeId b) {
  auto& slot = pairs_[{a, b}];
  if (!slot) slot = std::make_unique<collectives::Communicator>(net_, std::vector<NodeId>{a, b});
  return *slot;
}

const CollPlan& Replayer::plan_for(const collectives::Communicator& c, CollKind kind, double bytes, int root) {
  auto [it, fresh] = plans_.try_emplace({&c, kind, bytes, root});
  if (fresh) {
    CollSpec spec;
    spec.op = kind;
    spec.bytes = bytes;
    spec.qps = opt_.qps;
    spec.granularity = opt_.granularity;
    spec.root = root;
    it->second = collectives::plan_collective(c, spec);
  }
  return it->second;
}

void Replayer::own(const CollFlows& flows, std::uint32_t owner, std::uint32_t& remaining) {
  owner_.resize(engine_.num_flows(), kNone);
  for (FlowId f : flows.last) owner_[f] = owner;
  remaining = static_cast<std::uint32_t>(flows.last.size());
  COLLEMU_ASSERT(remaining > 0, "a collective without flows");
}

void Replayer::arrive(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  const traces::Trace& tr = trace(r.job);
  const Op& o = r.prog->ops[op];
  const std::uint32_t comm = tr.comm_of_slot[r.rank][o.comm_slot];
  const std::uint64_t n = r.colls_seen[o.comm_slot]++;
  auto [it, fresh] = open_instances_.try_emplace(Key{r.job, comm, n}, static_cast<std::uint32_t>(instances_.size()));
  if (fresh) {
    Instance in;
    in.job = r.job;
    in.comm = comm;
    in.index = n;
    in.op = &o;
    in.first_rank = g;
    in.first_op = op;
    in.size = static_cast<std::uint32_t>(tr.comms[comm].ranks.size());
    instances_.push_back(std::move(in));
  }
  const std::uint32_t id = it->second;
  Instance& in = instances_[id];
  const Op& f = *in.op;
  if (f.coll != o.coll || (o.coll != CollKind::AllToAll && (f.count != o.count || f.dtype != o.dtype || f.root != o.root)))
    throw InputError(tr.source, "mismatched collectives: collective " + std::to_string(n) + " on " +
                                    tr.comms[comm].name + " is " + op_name(in.first_rank, in.first_op) + " of " +
                                    std::to_string(f.count) + " at " + rank_name(in.first_rank) + " but " +
                                    op_name(g, op) + " of " + std::to_string(o.count) + " at " + rank_name(g));
  op_started(g, op, t);
  touch(r, t);
  ++r.rendezvous;
  in.members.emplace_back(g, op);
  in.arrive_s.push_back(t);
  if (++in.arrived == in.size) {
    open_instances_.erase(it);
    start_instance(id, t);
  }
}

void Replayer::start_instance(std::uint32_t id, double t) {
  Instance& in = instances_[id];
  {
    const collectives::Communicator& c = comm_object(in.job, in.comm);
    const Op& o = *in.op;
    const int root = (o.coll == CollKind::Broadcast || o.coll == CollKind::Reduce) && o.root >= 0 ? o.root : 0;
    in.plan = plan_for(c, run_kind(o.coll), spec_bytes(o, c.size()), root);
  }
  Rank& late = ranks_[in.members.back().first];
  for (std::size_t i = 0; i < in.members.size(); ++i) {
    Rank& m = ranks_[in.members[i].first];
    touch(m, t);
    --m.rendezvous;
    ++m.moving;
    late.times.caused_wait_s += t - in.arrive_s[i];
    op_data(in.members[i].first, in.members[i].second, t);
    add_channels(in.members[i].first, in.plan.channels, t);
  }
  const collectives::Communicator& c = comm_object(in.job, in.comm);
  in.flows = collectives::emit_collective(c, in.plan, engine_, t);
  own(in.flows, id, in.remaining);
}

Transfer& Replayer::transfer_for(std::uint32_t job, std::uint32_t comm, std::uint32_t src, std::uint32_t dst,
                                 std::uint64_t n) {
  auto [it, fresh] = open_transfers_.try_emplace(Key{(std::uint64_t{job} << 32) | comm,
                                                     (std::uint64_t{src} << 32) | dst, n},
                                                 static_cast<std::uint32_t>(transfers_.size()));
  if (fresh) {
    Transfer tr;
    tr.job = job;
    tr.comm = comm;
    tr.index = n;
    tr.src = src;
    tr.dst = dst;
    transfers_.push_back(tr);
  }
  return transfers_[it->second];
}

void Replayer::post_send(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  const traces::Trace& tr = trace(r.job);
  const Op& o = r.prog->ops[op];
  const std::uint32_t comm = tr.comm_of_slot[r.rank][o.comm_slot];
  const std::uint32_t peer = job_base_[r.job] + tr.comms[comm].ranks[o.root];
  if (peer == g) throw InputError(tr.source, rank_name(g) + ", " + op_name(g, op) + ": a send to itself");
  const std::uint64_t n = r.sent[{o.comm_slot, o.root}]++;
  Transfer& x = transfer_for(r.job, comm, g, peer, n);
  x.send_op = op;
  x.send_bytes = o.bytes();
  ++r.sends_in_flight;
  op_started(g, op, t);
  const auto id = static_cast<std::uint32_t>(&x - transfers_.data());
  const bool both = x.recv_op != kNone;
  complete(g, op, t);  // posted: the program goes on
  if (both) start_transfer(id, t);
}

void Replayer::post_recv(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  const traces::Trace& tr = trace(r.job);
  const Op& o = r.prog->ops[op];
  const std::uint32_t comm = tr.comm_of_slot[r.rank][o.comm_slot];
  const std::uint32_t peer = job_base_[r.job] + tr.comms[comm].ranks[o.root];
  if (peer == g) throw InputError(tr.source, rank_name(g) + ", " + op_name(g, op) + ": a receive from itself");
  const std::uint64_t n = r.received[{o.comm_slot, o.root}]++;
  Transfer& x = transfer_for(r.job, comm, peer, g, n);
  x.recv_op = op;
  x.recv_bytes = o.bytes();
  op_started(g, op, t);
  touch(r, t);
  ++r.bubble;
  if (x.send_op != kNone) start_transfer(static_cast<std::uint32_t>(&x - transfers_.data()), t);
}

void Replayer::start_transfer(std::uint32_t id, double t) {
  Transfer& x = transfers_[id];
  open_transfers_.erase(Key{(std::uint64_t{x.job} << 32) | x.comm, (std::uint64_t{x.src} << 32) | x.dst, x.index});
  if (x.send_bytes != x.recv_bytes) {
    const traces::Trace& tr = trace(x.job);
    throw InputError(tr.source, "mismatched send and receive: " + rank_name(x.src) + ", " + op_name(x.src, x.send_op) +
                                    " sends " + std::to_string(x.send_bytes) + " B but " + rank_name(x.dst) + ", " +
                                    op_name(x.dst, x.recv_op) + " receives " + std::to_string(x.recv_bytes) + " B");
  }
  Rank& s = ranks_[x.src];
  Rank& d = ranks_[x.dst];
  touch(d, t);
  --d.bubble;
  ++d.moving;
  op_data(x.dst, x.recv_op, t);
  touch(s, t);
  ++s.moving;
  const NodeId a = jobs_[x.job].gpus[s.rank], b = jobs_[x.job].gpus[d.rank];
  const collectives::Communicator& c = pair_object(a, b);
  x.plan = plan_for(c, CollKind::SendRecv, x.send_bytes, 0);
  add_channels(x.src, x.plan.channels, t);
  add_channels(x.dst, x.plan.channels, t);
  x.flows = collectives::emit_transfer(c, x.plan, engine_, t, 0, 1);
  own(x.flows, id | kTransferBit, x.remaining);
}

CollRecord Replayer::record(const CollFlows& flows, const CollPlan& plan, int ranks, double end_s) {
  CollRecord rec;
  rec.kind = plan.op;
  rec.bytes = plan.bytes;
  rec.ranks = ranks;
  rec.start_s = flows.start_s;
  rec.end_s = end_s;
  rec.algo = plan.algo;
  rec.proto = plan.proto;
  rec.channels = plan.channels;
  const double dt = end_s - flows.start_s;
  rec.busbw_Bps = dt > 0 ? plan.bytes / dt * collectives::busbw_factor(plan.op, ranks) : 0;
  if (dt > 0) {
    // Bytes this collective put on each link, over the link's capacity for its duration.
    for (FlowId f = flows.first; f < flows.first + flows.count; ++f) {
      const auto links = engine_.links(f);
      std::array<double, models::kNumLinkTiers> by_tier{};
      for (std::uint32_t i = 0; i < links.size(); ++i) {
        const double b = engine_.bytes(f) * engine_.coefficient(f, i);
        if (scratch_bytes_[links[i]] == 0) scratch_links_.push_back(links[i]);
        scratch_bytes_[links[i]] += b;
        by_tier[static_cast<int>(net_.tier(links[i]))] += b;
      }
      for (int k = 0; k < models::kNumLinkTiers; ++k)
        report_.tiers.add(static_cast<models::LinkTier>(k), by_tier[k], engine_.send_start_s(f), engine_.finish_s(f));
    }
    for (models::EngineLink l : scratch_links_) {
      const double cap = net_.capacity_Bps(l);
      const double u = cap > 0 ? scratch_bytes_[l] / (cap * dt) : 0;
      if (u > rec.binding_utilisation) {
        rec.binding_utilisation = u;
        rec.binding_tier = net_.tier(l);
      }
      scratch_bytes_[l] = 0;
    }
    scratch_links_.clear();
  }
  return rec;
}

void Replayer::on_flow_finished(FlowId f, double t) {
  if (f >= owner_.size() || owner_[f] == kNone) return;
  const std::uint32_t o = owner_[f];
  if (o & kTransferBit) {
    Transfer& x = transfers_[o & ~kTransferBit];
    if (--x.remaining) return;
    const double end = collectives::done_s(engine_, x.flows);
    CollRecord rec = record(x.flows, x.plan, 2, end);
    rec.kind = CollKind::Send;
    rec.job = x.job;
    rec.comm = x.comm;
    rec.index = x.index;
    rec.src_rank = ranks_[x.src].rank;
    rec.dst_rank = ranks_[x.dst].rank;
    report_.colls.push_back(rec);
    ++colls_done_;
    Rank& s = ranks_[x.src];
    Rank& d = ranks_[x.dst];
    touch(d, t);
    --d.moving;
    touch(s, t);
    --s.moving;
    --s.sends_in_flight;
    add_channels(x.src, -x.plan.channels, t);
    add_channels(x.dst, -x.plan.channels, t);
    complete(x.dst, x.recv_op, t);
    finish_if_done(x.src, t);
    return;
  }
  Instance& in = instances_[o];
  if (--in.remaining) return;
  const double end = collectives::done_s(engine_, in.flows);
  CollRecord rec = record(in.flows, in.plan, static_cast<int>(in.size), end);
  rec.kind = in.op->coll;
  rec.job = in.job;
  rec.comm = in.comm;
  rec.index = in.index;
  report_.colls.push_back(rec);
  ++colls_done_;
  for (auto [g, op] : in.members) {
    Rank& m = ranks_[g];
    touch(m, t);
    --m.moving;
    add_channels(g, -in.plan.channels, t);
  }
  for (auto [g, op] : in.members) complete(g, op, t);
  std::vector<std::pair<std::uint32_t, std::uint32_t>>().swap(in.members);  // done: free what is no longer needed
  std::vector<double>().swap(in.arrive_s);
}

void Replayer::deadlock(double t) {
  std::ostringstream msg;
  std::size_t stuck = 0;
  for (const Rank& r : ranks_) stuck += !r.done;
  msg << "the step can never finish (a deadlock in the real job): at " << t << " s, " << stuck
      << " rank(s) wait for each other:";
  std::size_t shown = 0;
  for (std::uint32_t g = 0; g < ranks_.size() && shown < 8; ++g) {
    const Rank& r = ranks_[g];
    if (r.done) continue;
    ++shown;
    msg << "\n  " << rank_name(g) << ":";
    std::size_t listed = 0;
    // The ops it has started and not finished: at a collective, or a receive.
    for (const Instance& in : instances_)
      for (std::size_t i = 0; i < in.members.size() && in.arrived < in.size; ++i)
        if (in.members[i].first == g && listed < 3) {
          msg << " waits at " << op_name(g, in.members[i].second) << ", collective " << in.index << " on "
              << trace(in.job).comms[in.comm].name << " (" << in.arrived << " of " << in.size << " ranks arrived)";
          ++listed;
        }
    for (const Transfer& x : transfers_) {
      if (x.dst == g && x.send_op == kNone && x.recv_op != kNone && listed < 3) {
        msg << " waits at " << op_name(g, x.recv_op) << " for a send from " << rank_name(x.src) << " that never comes";
        ++listed;
      }
      if (x.src == g && x.recv_op == kNone && x.send_op != kNone && listed < 3) {
        msg << " has " << op_name(g, x.send_op) << " to " << rank_name(x.dst) << " that nobody receives";
        ++listed;
      }
    }
    if (!listed) msg << " " << r.ops_left << " op(s) left, none can start";
  }
  if (stuck > shown) msg << "\n  ... and " << stuck - shown << " more";
  std::string src;
  for (const Job& j : jobs_) src += (src.empty() ? "" : ", ") + j.trace->source;
  throw InputError(src, msg.str());
}

void Replayer::report_progress(double t, bool force) {
  if (!opt_.progress) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(250)) return;
  last_progress_ = now;
  opt_.progress({t, colls_done_, colls_total_});
}

ReplayReport Replayer::run() {
  check_jobs();
  setup();
  for (std::uint32_t g = 0; g < ranks_.size(); ++g) {
    Rank& r = ranks_[g];
    for (std::uint32_t i = 0; i < r.prog->ops.size(); ++i)
      if (r.index->dep_count[i] == 0) ready_.emplace_back(g, i);
    finish_if_done(g, 0);
  }
  drain(0);
  double t = 0;
  std::size_t iteration = 0;
  for (;;) {
    const double te = engine_.next_event_s();
    while (!timers_.empty() && timers_.top().version != ranks_[timers_.top().rank].compute_version) timers_.pop();
    const double tc = timers_.empty() ? kInf : timers_.top().t;
    const double next = std::min(te, tc);
    if (next == kInf) break;
    t = std::max(t, next);
    ++report_.replay_events;
    for (const auto& fin : engine_.advance_to(t)) on_flow_finished(fin.flow, t);
    drain(t);
    while (!timers_.empty() && timers_.top().t <= t) {
      const Timer tm = timers_.top();
      timers_.pop();
      Rank& r = ranks_[tm.rank];
      if (tm.version != r.compute_version) continue;  // re-projected since (SM contention)
      touch(r, t);
      r.computing = false;
      if (!r.compute_queue.empty()) {
        const std::uint32_t op = r.compute_queue.front();
        r.compute_queue.pop_front();
        begin_compute(tm.rank, op, t);
      }
      complete(tm.rank, tm.op, t);
      drain(t);
    }
    if ((++iteration & 1023) == 0) report_progress(t, false);
  }
  for (const Rank& r : ranks_)
    if (!r.done) deadlock(t);
  report_progress(t, true);

  // Per job: the step time, every rank's breakdown up to it, the critical rank and the mean.
  for (std::uint32_t j = 0; j < jobs_.size(); ++j) {
    JobReport jr;
    jr.name = jobs_[j].name;
    const std::uint32_t n = jobs_[j].trace->world_size;
    for (std::uint32_t r = 0; r < n; ++r) jr.step_time_s = std::max(jr.step_time_s, ranks_[job_base_[j] + r].times.end_s);
    jr.ranks.reserve(n);
    for (std::uint32_t r = 0; r < n; ++r) {
      Rank& rk = ranks_[job_base_[j] + r];
      touch(rk, jr.step_time_s);  // after its end: waiting for the others
      jr.ranks.push_back(rk.times);
      if (rk.times.end_s == jr.step_time_s && jr.ranks[jr.critical_rank].end_s != jr.step_time_s) jr.critical_rank = r;
    }
    jr.critical = jr.ranks[jr.critical_rank];
    for (const RankTimes& rt : jr.ranks) {
      jr.mean.compute_s += rt.compute_s / n;
      jr.mean.exposed_comm_s += rt.exposed_comm_s / n;
      jr.mean.bubble_s += rt.bubble_s / n;
      jr.mean.wait_s += rt.wait_s / n;
      jr.mean.end_s += rt.end_s / n;
      jr.mean.caused_wait_s += rt.caused_wait_s / n;
    }
    report_.end_s = std::max(report_.end_s, jr.step_time_s);
    report_.jobs.push_back(std::move(jr));
  }
  report_.link_bytes = engine_.link_bytes();
  report_.engine = engine_.stats();
  report_.flows = engine_.num_flows();
  return std::move(report_);
}

}  // namespace

ReplayReport replay(const models::Network& network, const std::vector<Job>& jobs, const ReplayOptions& options) {
  if (jobs.empty()) throw InputError("", "no job to replay");
  Replayer r(network, jobs, options);
  return r.run();
}

}  // namespace collemu::emulator
