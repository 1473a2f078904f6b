#include "collectives/emit.hpp"

#include <algorithm>
#include <bit>

#include "common/error.hpp"

namespace collemu::collectives {

using models::NodeId;
using models::solver::FlowSpec;

namespace {
// RoCE UDP source port of channel c's connections (what 5-tuple ECMP hashes): one per channel.
constexpr std::uint32_t kUdpPortBase = 0xC000u;
}  // namespace

FlowWriter::FlowWriter(const Communicator& comm, const CollPlan& plan, models::solver::FlowEngine& engine,
                       double start_s, const EmitOptions& options)
    : comm_(comm), plan_(plan), net_(comm.network()), engine_(engine), options_(options), start_s_(start_s),
      first_(static_cast<FlowId>(engine.num_flows())) {}

double FlowWriter::path_latency_s(NodeId src, NodeId dst, NodeId via) const {
  return net_.path_latency_s(src, dst, 0, kUdpPortBase, via);
}

FlowId FlowWriter::add(const FlowSpec& flow, const RouteLabel& route) {
  const FlowId id = engine_.add_flow(flow);
  if (FlowTemplate* t = options_.record) {
    COLLEMU_ASSERT(flow.start_s == start_s_, "a template's flows all start with their collective");
    t->flows.push_back({flow.bytes, flow.latency_s, flow.weight, flow.cap_Bps, static_cast<std::uint32_t>(t->links.size()),
                        static_cast<std::uint32_t>(flow.links.size()), static_cast<std::uint32_t>(t->after.size()),
                        static_cast<std::uint32_t>(flow.after.size()), flow.coefficients.empty()});
    t->links.insert(t->links.end(), flow.links.begin(), flow.links.end());
    if (flow.coefficients.empty())
      t->coefficients.resize(t->links.size(), 1.0);
    else
      t->coefficients.insert(t->coefficients.end(), flow.coefficients.begin(), flow.coefficients.end());
    for (FlowId d : flow.after) {
      COLLEMU_ASSERT(d >= first_, "a collective's flow waits for a flow of another");
      t->after.push_back(d - first_);
    }
  }
  if (options_.routes) {
    options_.routes->resize(engine_.num_flows());
    (*options_.routes)[id] = route;
  }
  waited_for_.push_back(0);
  for (FlowId d : flow.after)
    if (d >= first_) waited_for_[d - first_] = 1;
  return id;
}

void FlowWriter::hold(const models::PathSet& path, double bytes, double latency_s, double cap_Bps, double weight) {
  std::uint64_t h = std::bit_cast<std::uint64_t>(bytes) * 0x9E3779B97F4A7C15ull;
  auto mix = [&](std::uint64_t v) { h = (h ^ v) * 0xBF58476D1CE4E5B9ull; h ^= h >> 31; };
  mix(std::bit_cast<std::uint64_t>(latency_s));
  mix(std::bit_cast<std::uint64_t>(cap_Bps));
  mix(std::bit_cast<std::uint64_t>(weight));
  for (std::size_t i = 0; i < path.links.size(); ++i) {
    mix(path.links[i]);
    mix(std::bit_cast<std::uint64_t>(path.shares[i]));
  }
  const auto n = static_cast<std::uint32_t>(path.links.size());
  for (auto [it, end] = held_index_.equal_range(h); it != end; ++it) {
    Held& o = held_[it->second];
    if (o.count != n || o.bytes != bytes || o.latency_s != latency_s || o.cap_Bps != cap_Bps || o.weight != weight ||
        !std::equal(path.links.begin(), path.links.end(), held_links_.begin() + o.begin) ||
        !std::equal(path.shares.begin(), path.shares.end(), held_shares_.begin() + o.begin))
      continue;
    o.copies += 1;  // a flow already held stands for o.copies copies of this one: one more
    return;
  }
  held_index_.emplace(h, static_cast<std::uint32_t>(held_.size()));
  held_.push_back({bytes, latency_s, cap_Bps, weight, 1, static_cast<std::uint32_t>(held_links_.size()), n});
  held_links_.insert(held_links_.end(), path.links.begin(), path.links.end());
  held_shares_.insert(held_shares_.end(), path.shares.begin(), path.shares.end());
}

namespace {
// The sums a of a lockstep flow's links (lockstep_path before the division by k).
void lockstep_sums(const models::Network& net, std::span<const LockstepEdge> edges, int qps, models::PathSet& out,
                   std::vector<std::pair<models::EngineLink, double>>& scratch) {
  scratch.clear();
  for (const LockstepEdge& e : edges)
    for (int q = 0; q < qps; ++q) {
      net.path(e.src, e.dst, static_cast<std::uint32_t>(q), kUdpPortBase + e.channel, out, e.via);
      for (std::size_t i = 0; i < out.links.size(); ++i)
        scratch.emplace_back(out.links[i], e.load * out.shares[i] / qps);
    }
  std::sort(scratch.begin(), scratch.end());  // by link (then share: the sums below do not depend on edge order)
  out.links.clear();
  out.shares.clear();
  for (const auto& [l, a] : scratch) {
    if (!out.links.empty() && out.links.back() == l) {
      out.shares.back() += a;
    } else {
      out.links.push_back(l);
      out.shares.push_back(a);
    }
  }
}
}  // namespace

void lockstep_path(const models::Network& net, const LockstepRoute& route, models::PathSet& out,
                   std::vector<std::pair<models::EngineLink, double>>& scratch) {
  lockstep_sums(net, route.edges, route.qps, out, scratch);
  for (double& a : out.shares) a = std::min(1.0, a / route.k);  // at most 1 (k >= every a), up to rounding
}

void FlowWriter::lockstep(std::span<const LockstepEdge> edges, double bytes, double latency_s, double cap_Bps) {
  latency_s += plan_.extra_latency_s;
  lockstep_sums(net_, edges, plan_.qps, ring_, entries_);
  double k = 1;  // the flow's coefficients must be at most 1: r' = k r, coefficients / k, weight k (exact, above)
  if (options_.routes) {
    k = 0;  // no re-route can load a link by more than every edge's whole load
    for (const LockstepEdge& e : edges) k += e.load;
    k = std::max(k, 1.0);
  } else {
    for (double a : ring_.shares) k = std::max(k, a);
  }
  for (double& a : ring_.shares) a = std::min(1.0, a / k);
  if (!options_.routes) {
    hold(ring_, bytes * k, latency_s, cap_Bps * k, k);
    return;
  }
  COLLEMU_ASSERT(options_.lockstep_routes, "EmitOptions::routes without lockstep_routes");
  RouteLabel label;
  label.lockstep = static_cast<std::uint32_t>(options_.lockstep_routes->size());
  options_.lockstep_routes->push_back({{edges.begin(), edges.end()}, plan_.qps, k});
  add({.bytes = bytes * k,
       .links = ring_.links,
       .coefficients = ring_.shares,
       .latency_s = latency_s,
       .start_s = start_s_,
       .weight = k,
       .cap_Bps = cap_Bps * k},
      label);
}

void FlowWriter::connection(NodeId src, NodeId dst, NodeId via, std::uint32_t channel, double bytes, double latency_s,
                            double cap_Bps, std::span<const FlowId> after, std::vector<FlowId>* out, int path_times) {
  const int qps = plan_.qps;
  if (after.empty()) latency_s += plan_.extra_latency_s;  // the fabric's extra, once before the first flows
  for (int q = 0; q < qps; ++q) {
    net_.path(src, dst, static_cast<std::uint32_t>(q), kUdpPortBase + channel, path_, via);
    if (after.empty() && !out && options_.merge_identical && !options_.routes) {
      hold(path_, bytes / qps, latency_s + path_times * path_.latency_s, cap_Bps / qps, 1.0);
      continue;
    }
    const FlowId id = add({.bytes = bytes / qps,
                           .links = path_.links,
                           .coefficients = path_.shares,
                           .latency_s = latency_s + path_times * path_.latency_s,
                           .start_s = start_s_,
                           .after = after,
                           .cap_Bps = cap_Bps / qps},
                          {src, dst, via, static_cast<std::uint32_t>(q), kUdpPortBase + channel});
    if (out) out->push_back(id);
  }
}

void FlowWriter::direct(double bytes, models::EngineLink link, double latency_s) {
  const models::EngineLink links[] = {link};
  add({.bytes = bytes, .links = links, .latency_s = latency_s + plan_.extra_latency_s, .start_s = start_s_});
}

void FlowWriter::latency_only(double latency_s) {
  add({.latency_s = latency_s + plan_.extra_latency_s, .start_s = start_s_});
}

CollFlows FlowWriter::finish() && {
  for (const Held& h : held_) {
    add({.bytes = h.bytes * h.copies,
         .links = {held_links_.data() + h.begin, h.count},
         .coefficients = {held_shares_.data() + h.begin, h.count},
         .latency_s = h.latency_s,
         .start_s = start_s_,
         .weight = h.weight * h.copies,
         .cap_Bps = h.cap_Bps * h.copies});
  }
  CollFlows out;
  out.first = first_;
  out.count = waited_for_.size();
  out.start_s = start_s_;
  for (std::size_t i = 0; i < waited_for_.size(); ++i)
    if (!waited_for_[i]) out.last.push_back(first_ + static_cast<FlowId>(i));
  if (FlowTemplate* t = options_.record) {
    for (FlowId f : out.last) t->last.push_back(f - first_);
    t->tail_latency_s = out.tail_latency_s;
  }
  return out;
}

CollFlows emit_template(const FlowTemplate& t, models::solver::FlowEngine& engine, double start_s) {
  CollFlows out;
  out.first = static_cast<FlowId>(engine.num_flows());
  out.count = t.flows.size();
  out.start_s = start_s;
  out.tail_latency_s = t.tail_latency_s;
  std::vector<FlowId> after;
  for (const FlowTemplate::Flow& f : t.flows) {
    after.clear();
    for (std::uint32_t i = 0; i < f.after_count; ++i) after.push_back(out.first + t.after[f.after_begin + i]);
    const std::span<const models::EngineLink> links(t.links.data() + f.links_begin, f.links_count);
    std::span<const double> coefficients;
    if (!f.unit) coefficients = {t.coefficients.data() + f.links_begin, f.links_count};
    engine.add_flow({.bytes = f.bytes,
                     .links = links,
                     .coefficients = coefficients,
                     .latency_s = f.latency_s,
                     .start_s = start_s,
                     .after = after,
                     .weight = f.weight,
                     .cap_Bps = f.cap_Bps});
  }
  out.last.reserve(t.last.size());
  for (std::uint32_t k : t.last) out.last.push_back(out.first + k);
  return out;
}

double done_s(const models::solver::FlowEngine& engine, const CollFlows& flows) {
  double t = flows.start_s;
  for (FlowId f : flows.last) {
    COLLEMU_ASSERT(engine.finished(f), "done_s before the collective's flows have finished");
    t = std::max(t, engine.finish_s(f));
  }
  return t + flows.tail_latency_s;
}

CollFlows emit_collective(const Communicator& comm, const CollPlan& plan, models::solver::FlowEngine& engine,
                          double start_s, const EmitOptions& options) {
  FlowWriter w(comm, plan, engine, start_s, options);
  const int n = comm.size();
  if (n == 1 || plan.bytes == 0) {
    // Nothing crosses a link: NCCL still pays its latency (n == 1: a local copy, not modelled).
    w.latency_only(n == 1 ? 0 : plan.model_latency_s);
  } else if (plan.algo == Algo::Nvls || plan.algo == Algo::NvlsTree) {
    emit_nvls(w);
  } else if (plan.algo == Algo::Pat) {
    emit_pat(w);
  } else if (plan.algo == Algo::Tree) {
    emit_tree(w);
  } else if (plan.op == CollKind::SendRecv) {
    emit_send_recv(w);
  } else if (plan.op == CollKind::AllToAll) {
    emit_all_to_all(w);
  } else if (plan.op == CollKind::Broadcast || plan.op == CollKind::Reduce) {
    emit_chain(w);
  } else {
    emit_ring(w);
  }
  return std::move(w).finish();
}

}  // namespace collemu::collectives
