// Collectives as flows in an engine the caller owns (DESIGN.md §4). One emitter per algorithm writes the flows of one
// collective on one communicator into the engine, starting at a time the caller gives; what it returns tells the
// caller when the collective is done: when its last flows have finished, plus its tail latency.
//
// Flows: a connection is `qps` flows of equal share (each its own QP, which E-ECMP hashes), over the path set the
// Network gives for (source, destination, QP, RoCE UDP source port 0xC000 + channel), through the rail's GPU (PXN)
// where NCCL hands data over NVLink first. Bytes on the wire are payload over the protocol's efficiency; NCCL's
// modelled latency, plus the path's own, is paid before sending; the fabric's extra latency (CollPlan::extra_latency_s)
// is added to every flow that waits for no other, so that the collective pays it once. Each algorithm's flows are
// documented in its file and in docs/collectives.md.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "collectives/communicator.hpp"
#include "collectives/plan.hpp"
#include "models/network.hpp"
#include "models/solver/flow_engine.hpp"

namespace collemu::collectives {

using models::solver::FlowId;

// What tells the caller that a collective is done.
struct CollFlows {
  FlowId first = 0;            // its flows are [first, first + count) in the engine
  std::size_t count = 0;
  std::vector<FlowId> last;    // the flows none of its other flows waits for: it is done when they have finished
  double tail_latency_s = 0;   // paid after them (0 for every algorithm here: latencies are paid up front)
  double start_s = 0;
};
// One connection of a lockstep flow: src -> dst (through `via`: PXN), carrying `load` bytes per byte of the flow's
// (its largest connection carries 1), on `channel` (the RoCE UDP port 0xC000 + channel that 5-tuple ECMP hashes).
struct LockstepEdge {
  models::NodeId src, dst, via;
  double load = 1;  // in (0, 1]
  std::uint32_t channel = 0;
};
// What a lockstep flow is made of: its connections, each over `qps` QPs, and the unit `k` its coefficients are
// divided by (FlowWriter::lockstep).
struct LockstepRoute {
  std::vector<LockstepEdge> edges;
  int qps = 1;
  double k = 1;
};
// A lockstep flow's links and shares on `net`: each link's load per unit of the flow's rate (the sum over its
// connections and QPs of load x the QP's share of the link / qps), divided by route.k; `out.latency_s` is not set.
// Throws models::RouteError for a pair the fabric cannot connect.
void lockstep_path(const models::Network& net, const LockstepRoute& route, models::PathSet& out,
                   std::vector<std::pair<models::EngineLink, double>>& scratch);

// Where a flow goes: what re-routes it when the fabric changes under it (failures at a time). A connection's flow: its
// source, destination, relay, QP and UDP port; a lockstep flow: its route's index in EmitOptions::lockstep_routes.
struct RouteLabel {
  static constexpr std::uint32_t kNoLockstep = ~0u;
  models::NodeId src = models::kNoNode, dst = models::kNoNode, via = models::kNoNode;
  std::uint32_t qp = 0, udp_sport = 0;
  std::uint32_t lockstep = kNoLockstep;
  bool routed() const { return src != models::kNoNode || lockstep != kNoLockstep; }
};

// A collective's flows as FlowWriter wrote them, kept to be written again from another start time: the same flows in
// the same order with the same sizes, links, shares, latencies, weights, caps and waits, so that the engine cannot
// tell them from freshly emitted ones (exact). A communicator's repeated collective (the same op and size) is written
// from its first one's flows instead of being routed and merged again.
struct FlowTemplate {
  struct Flow {
    double bytes, latency_s, weight, cap_Bps;
    std::uint32_t links_begin, links_count;  // into links (and coefficients, unless unit)
    std::uint32_t after_begin, after_count;  // into after
    bool unit;                               // every coefficient 1
  };
  std::vector<Flow> flows;
  std::vector<models::EngineLink> links;
  std::vector<double> coefficients;  // beside links
  std::vector<std::uint32_t> after;  // flows waited for, as offsets from the first
  std::vector<std::uint32_t> last;   // CollFlows::last, as offsets
  double tail_latency_s = 0;
  // Memory it holds, B.
  std::size_t bytes() const {
    return flows.size() * sizeof(Flow) + links.size() * sizeof(models::EngineLink) +
           coefficients.size() * sizeof(double) + (after.size() + last.size()) * sizeof(std::uint32_t);
  }
};

// Writes the flows of `t` into `engine` from `start_s` (>= the engine's clock), as the collective it was recorded from
// wrote them.
CollFlows emit_template(const FlowTemplate& t, models::solver::FlowEngine& engine, double start_s);

struct EmitOptions {
  // Identical flows that nothing waits for become one flow of weight m (exact). Off where flows may be re-routed
  // later: the m flows' QPs may then take different paths.
  bool merge_identical = true;
  // When given: the route of every flow written, at its engine flow id (flows no route gives, NVLink transfers and
  // timers, are not routed()); identical flows are then not merged. Lockstep flows need lockstep_routes too, which
  // their labels index.
  std::vector<RouteLabel>* routes = nullptr;
  std::vector<LockstepRoute>* lockstep_routes = nullptr;
  // When given (and empty): receives the flows written, to write them again with emit_template.
  FlowTemplate* record = nullptr;
};

// When a collective whose flows have all finished was done, s.
double done_s(const models::solver::FlowEngine& engine, const CollFlows& flows);

// Writes the flows of one collective (as planned) on `comm` into `engine`, from time `start_s` (>= the engine's
// clock). Throws models::RouteError when failures cut a pair the collective needs.
CollFlows emit_collective(const Communicator& comm, const CollPlan& plan, models::solver::FlowEngine& engine,
                          double start_s, const EmitOptions& options = {});

// One point-to-point transfer (a Send and its Recv) of plan.bytes from rank `from` to rank `to` of `comm`, from time
// `start_s`: one connection, through the rail's GPU (PXN) when they are in different NVLink domains, as NCCL's p2p.
CollFlows emit_transfer(const Communicator& comm, const CollPlan& plan, models::solver::FlowEngine& engine,
                        double start_s, int from, int to, const EmitOptions& options = {});

// The emitters' shared writer: connections as flows, path latencies, and the bookkeeping of CollFlows.
class FlowWriter {
 public:
  FlowWriter(const Communicator& comm, const CollPlan& plan, models::solver::FlowEngine& engine, double start_s,
             const EmitOptions& options = {});
  const Communicator& comm() const { return comm_; }
  const CollPlan& plan() const { return plan_; }
  const models::Network& net() const { return net_; }

  // The mean latency of the path src -> dst (through `via` when given: PXN), QP 0, UDP port 0xC000, s.
  double path_latency_s(models::NodeId src, models::NodeId dst, models::NodeId via = models::kNoNode) const;
  // One connection src -> dst (through `via` when given) on `channel`: qps flows sharing `bytes`, each with `cap_Bps`
  // / qps, `latency_s` plus its path's latency counted `path_times` times (0: the caller counted it), waiting for
  // `after`. Appends the flow ids to `out` (when given).
  // A flow that waits for nothing and that nothing will wait for (no `after`, no `out`) is held until finish(), and
  // identical ones (the same links and shares, bytes, latency and cap: the channels of a ring inside an NVLink
  // domain) become one flow of weight m carrying m times the bytes, capped at m times the cap. Exact: under weighted
  // max-min the m flows get m equal rates whose sum is the merged flow's rate, and all finish when it does.
  void connection(models::NodeId src, models::NodeId dst, models::NodeId via, std::uint32_t channel, double bytes,
                  double latency_s, double cap_Bps, std::span<const FlowId> after, std::vector<FlowId>* out = nullptr,
                  int path_times = 1);
  // Connections in lockstep: edges (each src -> dst through `via`, of qps QPs) that move together, each at `load`
  // times the rate r of the largest, paced by the slowest, as a pipelined ring does in steady state (every edge
  // forwards what it receives) and as PAT does (one schedule of steps, each receiving from one peer and sending to
  // another, every rank in the same order). One flow that loads each link by the sum of its edges' load x share of it,
  // carrying `bytes` (the largest edge's) with the cap `cap_Bps` of that edge. Written with rate r' = k r,
  // coefficients a / k, weight k, bytes and cap times k, for any k at least the largest sum a (coefficients are at
  // most 1): under weighted max-min (rate = weight x level) that loads every link as the edges do, gives r the level
  // of a flow of weight 1 (the largest edge counts as one flow against others on its links) and finishes when the
  // edges would. k is the largest sum; where routes are kept (failures at a time), the sum of the edges' loads, which
  // no re-route can exceed.
  void lockstep(std::span<const LockstepEdge> edges, double bytes, double latency_s, double cap_Bps);
  // One flow of `bytes` on one engine link (share 1), after `latency_s`: NVLink traffic that no QP splits.
  void direct(double bytes, models::EngineLink link, double latency_s);
  // A flow of 0 bytes over no link: NCCL's latency alone.
  void latency_only(double latency_s);
  // The flows written, with the last ones (waited for by none of the others).
  CollFlows finish() &&;

 private:
  FlowId add(const models::solver::FlowSpec& flow, const RouteLabel& route = {});
  void hold(const models::PathSet& path, double bytes, double latency_s, double cap_Bps, double weight);
  struct Held {
    double bytes, latency_s, cap_Bps, weight;  // of one of the identical flows
    double copies;                             // how many
    std::uint32_t begin, count;                // into held_links_ / held_shares_
  };
  models::PathSet ring_;                                            // lockstep()'s flow
  std::vector<std::pair<models::EngineLink, double>> entries_;      // lockstep()'s (link, share) of every edge
  const Communicator& comm_;
  const CollPlan& plan_;
  const models::Network& net_;
  models::solver::FlowEngine& engine_;
  EmitOptions options_;
  double start_s_;
  FlowId first_;
  std::vector<std::uint8_t> waited_for_;  // per flow written: another of them waits for it
  models::PathSet path_;
  std::vector<Held> held_;
  std::vector<models::EngineLink> held_links_;
  std::vector<double> held_shares_;
  std::unordered_multimap<std::uint64_t, std::uint32_t> held_index_;  // content hash -> held flow
};

// Channel c's ring, as ranks in order: the nodes in NCCL's order and, inside each, its ranks rotated by c (so that
// every GPU enters its node on 1/ranks_per_node of the channels).
std::vector<int> channel_ring(const Communicator& comm, int c);

// One emitter per algorithm (their own files: emit_ring.cpp, emit_chain.cpp, emit_tree.cpp, emit_nvls.cpp,
// emit_pat.cpp, emit_p2p.cpp).
void emit_ring(FlowWriter& w);       // AllReduce, AllGather, ReduceScatter over rings, pipelined or step
void emit_chain(FlowWriter& w);      // Broadcast and Reduce: a pipelined chain from (to) the root
void emit_tree(FlowWriter& w);       // Tree AllReduce, pipelined or step
void emit_nvls(FlowWriter& w);       // NVLS, and NVLSTree's NVLS part and tree of NICs
void emit_pat(FlowWriter& w);        // PAT AllGather / ReduceScatter
void emit_all_to_all(FlowWriter& w); // AllToAll, with PXN
void emit_send_recv(FlowWriter& w);  // SendRecv: rank r to r + 1, with PXN

}  // namespace collemu::collectives
