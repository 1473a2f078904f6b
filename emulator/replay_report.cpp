// The replay's checks of its input, its records of what ran, and its messages (emulator/replayer.hpp).
#include <algorithm>
#include <sstream>

#include "emulator/replayer.hpp"

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

namespace detail {

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
      if (g >= net_->num_gpus())
        throw InputError(who, "rank " + std::to_string(r) + " is placed on GPU " + std::to_string(g) +
                                  ", which the fabric does not have (it has " + std::to_string(net_->num_gpus()) +
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

void Replayer::op_started(std::uint32_t g, std::uint32_t op, double t) {
  if (!recorded_[g]) return;
  const Rank& r = ranks_[g];
  const Op& o = r.prog->ops[op];
  RankOp x;
  x.job = r.job;
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
        by_tier[static_cast<int>(net_->tier(links[i]))] += b;
      }
      for (int k = 0; k < models::kNumLinkTiers; ++k)
        report_.tiers.add(static_cast<models::LinkTier>(k), by_tier[k], engine_.send_start_s(f), engine_.finish_s(f));
    }
    for (models::EngineLink l : scratch_links_) {
      const double cap = net_->capacity_Bps(l);
      const double u = cap > 0 ? scratch_bytes_[l] / (cap * dt) : 0;
      if (u > rec.binding_utilisation) {
        rec.binding_utilisation = u;
        rec.binding_tier = net_->tier(l);
      }
      scratch_bytes_[l] = 0;
    }
    scratch_links_.clear();
  }
  return rec;
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

}  // namespace detail
}  // namespace collemu::emulator
