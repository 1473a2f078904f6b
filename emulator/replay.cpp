#include <algorithm>

#include "emulator/replayer.hpp"

namespace collemu::emulator {
namespace detail {

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
  scratch_bytes_.assign(net_->num_links(), 0.0);
  recorded_.assign(ranks_.size(), 0);
  for (std::uint32_t r : opt_.record_ranks)
    if (r < jobs_[0].trace->world_size) recorded_[r] = 1;
  for (auto [j, r] : opt_.record_job_ranks)
    if (j < jobs_.size() && r < jobs_[j].trace->world_size) recorded_[job_base_[j] + r] = 1;
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

// The channels (CTAs) a transfer runs on: across nodes its peer's p2p channels, within one node its communicator's.
static double transfer_channels(const CollPlan& plan) {
  return plan.p2p_peer_channels > 0 ? std::min(plan.channels, plan.p2p_peer_channels) : plan.channels;
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
    slot = std::make_unique<collectives::Communicator>(*net_, std::move(gpus));
  }
  return *slot;
}

const collectives::Communicator& Replayer::pair_object(NodeId a, NodeId b) {
  auto& slot = pairs_[{a, b}];
  if (!slot) slot = std::make_unique<collectives::Communicator>(*net_, std::vector<NodeId>{a, b});
  return *slot;
}

Replayer::Planned& Replayer::plan_for(const collectives::Communicator& c, CollKind kind, double bytes, int root) {
  auto [it, fresh] = plans_.try_emplace({&c, kind, bytes, root});
  if (fresh) {
    CollSpec spec;
    spec.op = kind;
    spec.bytes = bytes;
    spec.qps = opt_.qps;
    spec.pxn = opt_.pxn;
    spec.nccl_minor = opt_.nccl_minor;
    spec.net_channels_per_peer = opt_.net_channels_per_peer;
    if (opt_.min_channels > 0 || opt_.max_channels > 0)
      spec.channels = std::clamp(c.default_channels(), opt_.min_channels > 0 ? opt_.min_channels : 1,
                                 opt_.max_channels > 0 ? opt_.max_channels : 64);
    spec.granularity = opt_.granularity;
    spec.root = root;
    it->second.plan = collectives::plan_collective(c, spec);
  }
  return it->second;
}

CollFlows Replayer::emit(Planned& p, const collectives::Communicator& c, double t, bool transfer) {
  if (p.flows) {
    ++report_.reused;
    return collectives::emit_template(*p.flows, engine_, t);
  }
  // Recorded where flows are never re-routed (a failure at a time re-routes them one by one), once per plan.
  collectives::EmitOptions options = emit_;
  collectives::FlowTemplate kept;
  const bool record = opt_.symmetry && !emit_.routes && !p.recorded && template_bytes_ < kTemplateBytes;
  if (record) options.record = &kept;
  CollFlows flows = transfer ? collectives::emit_transfer(c, p.plan, engine_, t, 0, 1, options)
                             : collectives::emit_collective(c, p.plan, engine_, t, options);
  if (record) {
    p.recorded = true;
    template_bytes_ += kept.bytes();
    p.flows = std::make_unique<collectives::FlowTemplate>(std::move(kept));
  }
  return flows;
}

// The engine keeps the flows of the collectives and transfers in flight, about collectives::kBytesPerFlow each; a
// collective's flows are released once it is recorded (forget). A collective that would take them past the memory
// this process may use is refused before its flows are allocated, naming it. (collectives::estimated_flows is an upper
// bound for one collective: the engine merges identical flows.)
void Replayer::check_memory_for(const collectives::Communicator& c, const CollPlan& plan, std::uint32_t job,
                                const std::function<std::string()>& what) {
  if (memory_limit_ == 0) return;
  const double total = static_cast<double>(engine_.num_flows() - engine_.num_released()) +
                       collectives::estimated_flows(c, plan.op, plan.channels, opt_.qps, plan.pxn);
  if (total * collectives::kBytesPerFlow <= static_cast<double>(memory_limit_)) return;
  char flows[64];
  std::snprintf(flows, sizeof flows, " (about %.3g in flight)", total);
  common::check_memory(total * collectives::kBytesPerFlow, trace(job).source, "the flows up to " + what() + flows);
}

void Replayer::own(const CollFlows& flows, std::uint32_t owner, std::uint32_t& remaining) {
  owner_.resize(engine_.num_flows(), kNone);
  for (FlowId f : flows.last) owner_[f] = owner;
  remaining = static_cast<std::uint32_t>(flows.last.size());
  COLLEMU_ASSERT(remaining > 0, "a collective without flows");
}

void Replayer::forget(CollFlows& flows) {
  engine_.release(flows.first, flows.count);
  for (FlowId f = flows.first; f < flows.first + flows.count && f < routes_.size(); ++f) {
    if (const std::uint32_t k = routes_[f].lockstep; k != collectives::RouteLabel::kNoLockstep)
      std::vector<collectives::LockstepEdge>().swap(lockstep_routes_[k].edges);
    routes_[f] = {};
  }
  std::vector<FlowId>().swap(flows.last);
}

void Replayer::arrive(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  const traces::Trace& tr = trace(r.job);
  const Op& o = r.prog->ops[op];
  const std::uint32_t comm = tr.comm_of_slot[r.rank][o.comm_slot];
  const std::uint64_t n = r.colls_seen[o.comm_slot]++;
  auto [it, fresh] = open_instances_.try_emplace(Key{r.job, comm, n}, kNone);
  if (fresh) {
    Instance in;
    in.job = r.job;
    in.comm = comm;
    in.index = n;
    in.op = &o;
    in.first_rank = g;
    in.first_op = op;
    in.size = static_cast<std::uint32_t>(tr.comms[comm].ranks.size());
    it->second = slot(instances_, free_instances_, std::move(in));
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
  Planned* planned = nullptr;
  {
    const collectives::Communicator& c = comm_object(in.job, in.comm);
    const Op& o = *in.op;
    const int root = (o.coll == CollKind::Broadcast || o.coll == CollKind::Reduce) && o.root >= 0 ? o.root : 0;
    planned = &plan_for(c, run_kind(o.coll), spec_bytes(o, c.size()), root);
    in.plan = planned->plan;
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
  check_memory_for(c, in.plan, in.job, [&] { return op_name(in.first_rank, in.first_op); });
  in.flows = emit(*planned, c, t, false);
  own(in.flows, id, in.remaining);
}

Transfer& Replayer::transfer_for(std::uint32_t job, std::uint32_t comm, std::uint32_t src, std::uint32_t dst,
                                 std::uint64_t n) {
  auto [it, fresh] = open_transfers_.try_emplace(Key{(std::uint64_t{job} << 32) | comm,
                                                     (std::uint64_t{src} << 32) | dst, n}, kNone);
  if (fresh) {
    Transfer tr;
    tr.job = job;
    tr.comm = comm;
    tr.index = n;
    tr.src = src;
    tr.dst = dst;
    it->second = slot(transfers_, free_transfers_, std::move(tr));
  }
  return transfers_[it->second];
}

std::pair<std::uint32_t, std::uint32_t> Replayer::peer_of(std::uint32_t g, std::uint32_t op, const char* to_self) const {
  const Rank& r = ranks_[g];
  const traces::Trace& tr = trace(r.job);
  const Op& o = r.prog->ops[op];
  const std::uint32_t comm = tr.comm_of_slot[r.rank][o.comm_slot];
  const std::uint32_t peer = job_base_[r.job] + tr.comms[comm].ranks[o.root];
  if (peer == g) throw InputError(tr.source, rank_name(g) + ", " + op_name(g, op) + ": " + to_self);
  return {comm, peer};
}

void Replayer::post_send(std::uint32_t g, std::uint32_t op, double t) {
  Rank& r = ranks_[g];
  const Op& o = r.prog->ops[op];
  const auto [comm, peer] = peer_of(g, op, "a send to itself");
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
  const Op& o = r.prog->ops[op];
  const auto [comm, peer] = peer_of(g, op, "a receive from itself");
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
  Planned& planned = plan_for(c, CollKind::SendRecv, x.send_bytes, 0);
  x.plan = planned.plan;
  add_channels(x.src, transfer_channels(x.plan), t);
  add_channels(x.dst, transfer_channels(x.plan), t);
  check_memory_for(c, x.plan, x.job, [&] { return op_name(x.src, x.send_op) + " to " + rank_name(x.dst); });
  x.flows = emit(planned, c, t, true);
  own(x.flows, id | kTransferBit, x.remaining);
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
    forget(x.flows);
    Rank& s = ranks_[x.src];
    Rank& d = ranks_[x.dst];
    touch(d, t);
    --d.moving;
    touch(s, t);
    --s.moving;
    --s.sends_in_flight;
    add_channels(x.src, -transfer_channels(x.plan), t);
    add_channels(x.dst, -transfer_channels(x.plan), t);
    const std::uint32_t src = x.src, dst = x.dst, recv_op = x.recv_op;
    x = Transfer{};  // done: its slot is free for another
    free_transfers_.push_back(o & ~kTransferBit);
    complete(dst, recv_op, t);
    finish_if_done(src, t);
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
  forget(in.flows);
  for (auto [g, op] : in.members) {
    Rank& m = ranks_[g];
    touch(m, t);
    --m.moving;
    add_channels(g, -in.plan.channels, t);
  }
  const auto members = std::move(in.members);
  in = Instance{};  // done: its slot is free for another
  free_instances_.push_back(o);
  for (auto [g, op] : members) complete(g, op, t);
}

void Replayer::check_failures() {
  if (opt_.failures.empty()) return;
  COLLEMU_ASSERT(net_->one_link_per_fabric_link(),
                 "failures at a time need a network whose engine links are the fabric's (group_links false)");
  failure_order_.resize(opt_.failures.size());
  for (std::size_t k = 0; k < failure_order_.size(); ++k) {
    const auto& f = opt_.failures[k];
    if (!std::isfinite(f.at_s) || f.at_s < 0)
      throw InputError(f.spec, "a failure at " + std::to_string(f.at_s) + " s; expected a finite time >= 0");
    failure_order_[k] = k;
  }
  std::stable_sort(failure_order_.begin(), failure_order_.end(),
                   [&](std::size_t a, std::size_t b) { return opt_.failures[a].at_s < opt_.failures[b].at_s; });
  // Each failure's fabric (the ones before it included) and network, made now: a name that matches nothing is
  // reported before the replay runs.
  for (std::size_t k : failure_order_) {
    const models::Fabric& before = failed_fabrics_.empty() ? net_->fabric() : *failed_fabrics_.back();
    failed_fabrics_.push_back(std::make_unique<models::Fabric>(before));
    failed_fabrics_.back()->fail(opt_.failures[k].spec);
    failed_networks_.push_back(
        std::make_unique<models::Network>(*failed_fabrics_.back(), net_->payload_efficiency(), false));
  }
  emit_.merge_identical = false;
  emit_.routes = &routes_;
  emit_.lockstep_routes = &lockstep_routes_;
}

void Replayer::fail(std::size_t i) {
  const auto& failure = opt_.failures[failure_order_[i]];
  const models::Network& next = *failed_networks_[i];
  const double t = engine_.now_s();
  // Links that fail now: no capacity (no flow should cross them once re-routed).
  std::vector<models::solver::CapacityChange> caps;
  for (models::LinkId l = 0; l < next.fabric().num_links(); ++l)
    if (next.fabric().link(l).failed && !net_->fabric().link(l).failed) caps.push_back({l, 0.0});
  // Every flow not finished whose path set changes moves to the new one.
  struct Move {
    FlowId flow;
    std::size_t begin, count;
  };
  std::vector<Move> moves;
  std::vector<models::EngineLink> links;
  std::vector<double> shares;
  models::PathSet path;
  std::vector<std::pair<models::EngineLink, double>> scratch;
  for (FlowId f = 0; f < routes_.size(); ++f) {
    const collectives::RouteLabel& r = routes_[f];
    if (!r.routed() || engine_.finished(f)) continue;
    try {
      if (r.lockstep != collectives::RouteLabel::kNoLockstep)
        collectives::lockstep_path(next, lockstep_routes_[r.lockstep], path, scratch);
      else
        next.path(r.src, r.dst, r.qp, r.udp_sport, path, r.via);
    } catch (const models::RouteError& e) {
      throw models::RouteError("at " + std::to_string(t) + " s, after failing " + failure.spec + ": " + e.what());
    }
    const auto old = engine_.links(f);
    bool same = std::equal(old.begin(), old.end(), path.links.begin(), path.links.end());
    for (std::uint32_t i = 0; same && i < old.size(); ++i) same = engine_.coefficient(f, i) == path.shares[i];
    if (same) continue;
    moves.push_back({f, links.size(), path.links.size()});
    links.insert(links.end(), path.links.begin(), path.links.end());
    shares.insert(shares.end(), path.shares.begin(), path.shares.end());
  }
  std::vector<models::solver::Reroute> reroutes;
  reroutes.reserve(moves.size());
  for (const Move& m : moves)
    reroutes.push_back({m.flow, {links.data() + m.begin, m.count}, {shares.data() + m.begin, m.count}});
  engine_.update(reroutes, caps);
  report_.rerouted_flows += reroutes.size();
  // Later collectives route on the changed fabric: communicators and plans are made again.
  net_ = &next;
  for (auto& job : comms_)
    for (auto& c : job) c.reset();
  pairs_.clear();
  plans_.clear();
  template_bytes_ = 0;
}

ReplayReport Replayer::run() {
  check_jobs();
  check_failures();
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
  try {
    for (;;) {
      const double te = engine_.next_event_s();
      while (!timers_.empty() && timers_.top().version != ranks_[timers_.top().rank].compute_version) timers_.pop();
      const double tc = timers_.empty() ? kInf : timers_.top().t;
      // A failure still to come counts as an event only while something else is pending (the step is not over; ready
      // ops were drained above, so flows and compute timers are all that can be pending).
      const bool active = std::min(te, tc) < kInf;
      const double tf = next_failure_ < failure_order_.size() && active
                            ? opt_.failures[failure_order_[next_failure_]].at_s : kInf;
      const double next = std::min({te, tc, tf});
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
      while (next_failure_ < failure_order_.size() && opt_.failures[failure_order_[next_failure_]].at_s <= t)
        fail(next_failure_++);
      if ((++iteration & 1023) == 0) report_progress(t, false);
    }
  } catch (const models::RouteError& e) {
    // A collective begun after failures at a time routes on the failed fabric: a pair it cannot join is named with
    // the failures that cut it (a flow in flight is named by fail() itself, "at T s, after failing X").
    const std::string what = e.what();
    if (next_failure_ == 0 || what.rfind("at ", 0) == 0) throw;
    std::string failed;
    for (std::size_t k = 0; k < next_failure_; ++k) {
      const auto& f = opt_.failures[failure_order_[k]];
      failed += (k ? ", " : "") + f.spec + " at " + std::to_string(f.at_s) + " s";
    }
    throw models::RouteError("at " + std::to_string(t) + " s, after failing " + failed + ": " + what);
  }
  for (const Rank& r : ranks_)
    if (!r.done) deadlock(t);
  COLLEMU_ASSERT(engine_.num_released() == engine_.num_flows(), "a flow not released with its collective (forget)");
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

}  // namespace detail

ReplayReport replay(const models::Network& network, const std::vector<Job>& jobs, const ReplayOptions& options) {
  if (jobs.empty()) throw common::InputError("", "no job to replay");
  if (options.min_channels < 0 || options.max_channels < 0 || options.min_channels > 64 || options.max_channels > 64 ||
      (options.min_channels > 0 && options.max_channels > 0 && options.min_channels > options.max_channels))
    throw common::InputError("channels " + std::to_string(options.min_channels) + " to " +
                                 std::to_string(options.max_channels),
                             "expected at least 1 and at most 64 (NCCL's MAXCHANNELS), the least at most the most");
  detail::Replayer r(network, jobs, options);
  return r.run();
}

}  // namespace collemu::emulator
