// Rings: AllReduce (ReduceScatter then AllGather, 2(n-1) steps), AllGather and ReduceScatter (n-1 steps).
//
// Channel c visits the nodes in NCCL's order and, inside each, its ranks rotated by c, so that every GPU (and its NIC)
// enters its node on 1/ranks_per_node of the channels. Between nodes a channel stays on one rail, as NCCL's
// rail-aligned rings do (NET/x GPU_x ... GPU_y NET/x): the last GPU of a node hands its data over NVLink to the GPU on
// the next node's entry rail, whose NIC sends it (PXN).
//   Pipelined: each ring edge is one flow with its whole share (AllReduce 2(n-1)/n of S per channel; AllGather and
//   ReduceScatter (n-1)/n), after NCCL's latency plus K times the ring's mean path latency (a chunk crosses K edges).
//   Step: each of the K steps of each edge is a flow of one chunk (S / n per channel) that waits for the step before
//   on the edge before it (the chunk it forwards), with NCCL's per-step latency of that edge (intra- or inter-node);
//   the base latency is paid once, by the first step.
//   Lockstep: each channel's ring is one flow over all its edges, which all move at the rate of the slowest (a
//   pipelined ring forwards what it receives), with the pipelined share and latency.
#include <algorithm>

#include "collectives/emit.hpp"

namespace collemu::collectives {

using models::NodeId;

std::vector<int> channel_ring(const Communicator& comm, int c) {
  std::vector<int> order;
  order.reserve(comm.size());
  for (int i = 0; i < comm.nodes(); ++i) {
    const auto& nr = comm.node_ranks(i);
    const int m = static_cast<int>(nr.size());
    for (int k = 0; k < m; ++k) order.push_back(nr[(k + c) % m]);
  }
  return order;
}

void emit_ring(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const models::Network& net = w.net();
  const int n = comm.size();
  const int nch = plan.channels;
  const double S = plan.bytes;
  const bool allreduce = plan.op == CollKind::AllReduce;
  const int K = allreduce ? 2 * (n - 1) : n - 1;  // ring steps
  auto gpu = [&](int r) { return comm.gpu(r); };
  auto via = [&](int a, int z) { return net.rail_proxy(gpu(a), gpu(z)); };
  std::vector<FlowId> prev_step, this_step;
  std::vector<LockstepEdge> edges;
  for (int c = 0; c < nch; ++c) {
    const std::vector<int> order = channel_ring(comm, c);
    auto next = [&](int k) { return order[(k + 1) % n]; };
    if (plan.granularity == Granularity::Pipelined) {
      const double share = (allreduce ? 2.0 * (n - 1) / n : (n - 1.0) / n) * S / nch;
      double ring_path_s = 0;
      for (int k = 0; k < n; ++k) ring_path_s += w.path_latency_s(gpu(order[k]), gpu(next(k)), via(order[k], next(k)));
      const double latency = plan.model_latency_s + K * ring_path_s / n;
      for (int k = 0; k < n; ++k)
        w.connection(gpu(order[k]), gpu(next(k)), via(order[k], next(k)), c, share / plan.efficiency, latency,
                     plan.channel_cap_Bps, {}, nullptr, 0);
      continue;
    }
    if (plan.granularity == Granularity::Lockstep) {
      const double share = (allreduce ? 2.0 * (n - 1) / n : (n - 1.0) / n) * S / nch;
      double ring_path_s = 0;
      edges.clear();
      for (int k = 0; k < n; ++k) {
        ring_path_s += w.path_latency_s(gpu(order[k]), gpu(next(k)), via(order[k], next(k)));
        edges.push_back({gpu(order[k]), gpu(next(k)), via(order[k], next(k)), 1.0, static_cast<std::uint32_t>(c)});
      }
      w.lockstep(edges, share / plan.efficiency, plan.model_latency_s + K * ring_path_s / n, plan.channel_cap_Bps);
      continue;
    }
    const CommShape& shape = comm.shape();
    auto edge_inter = [&](int k) { return comm.node_of(order[k]) != comm.node_of(next(k)); };
    const double chunk = S / n / nch / plan.efficiency;
    // NCCL's latency minus its per-step part: the base latency, paid once.
    const int ninter = shape.nodes == 1 ? 0 : (allreduce ? 2 : 1) * (shape.nodes - 1);
    const double steps_s = (K - ninter) * ring_step_latency_s(plan.proto, false, shape) +
                           ninter * ring_step_latency_s(plan.proto, true, shape);
    const double base = plan.model_latency_s - steps_s;
    prev_step.clear();
    for (int s = 0; s < K; ++s) {
      this_step.clear();
      for (int k = 0; k < n; ++k) {
        const double lat = ring_step_latency_s(plan.proto, edge_inter(k), shape) + (s == 0 ? base : 0);
        std::span<const FlowId> after;
        if (s > 0) {
          const std::size_t kp = static_cast<std::size_t>((k + n - 1) % n) * plan.qps;
          after = {prev_step.data() + kp, static_cast<std::size_t>(plan.qps)};
        }
        w.connection(gpu(order[k]), gpu(next(k)), via(order[k], next(k)), c, chunk, lat, plan.channel_cap_Bps, after,
                     &this_step);
      }
      std::swap(prev_step, this_step);
    }
  }
}

}  // namespace collemu::collectives
