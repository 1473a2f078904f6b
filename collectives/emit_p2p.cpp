// Grouped sends and receives (NCCL's p2p, no algorithm): AllToAll and SendRecv.
#include "collectives/emit.hpp"

namespace collemu::collectives {

using models::NodeId;

// AllToAll: every rank sends S/n to every other. Inside a domain: over NVLink. To another domain, with PXN: over
// NVLink to the GPU on the destination's rail (same local index), which sends for every rank of its domain over its
// NIC. Pipelined, each stage is its own flow: per (source, NVLink peer) the bytes of all its destinations through that
// peer, and per (proxy, destination) one connection with the bytes of the whole source domain. A rank receives from
// other nodes on its few remote p2p channels (plan.p2p_remote_cap_Bps, nccl.hpp): its incoming connections, one per
// remote domain, share that rate evenly (a per-flow cap: exact when they move alike, as an all-to-all's do).
// Without PXN (plan.pxn false, NCCL_PXN_DISABLE=1) every rank sends S/n to each rank of another node out of its own
// NIC (one connection per pair, across rails through the spines), and its incoming connections share the same rate.
void emit_all_to_all_direct(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const models::Network& net = w.net();
  const int n = comm.size();
  const double piece = plan.bytes / n, eff = plan.efficiency;
  std::vector<int> remote_senders(n, n);
  for (int node = 0; node < comm.nodes(); ++node)
    for (int d : comm.node_ranks(node)) remote_senders[d] -= static_cast<int>(comm.node_ranks(node).size());
  for (int s = 0; s < n; ++s)
    for (int d = 0; d < n; ++d) {
      if (d == s) continue;
      const bool remote = net.domain_of(comm.gpu(s)) != net.domain_of(comm.gpu(d));
      const double cap = !remote || plan.p2p_remote_cap_Bps == models::solver::kNoCap
                             ? models::solver::kNoCap
                             : plan.p2p_remote_cap_Bps / remote_senders[d] / eff;
      w.connection(comm.gpu(s), comm.gpu(d), models::kNoNode, static_cast<std::uint32_t>(d % 64), piece / eff,
                   plan.model_latency_s, cap, {});
    }
}

void emit_all_to_all(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  if (!plan.pxn) {
    emit_all_to_all_direct(w);
    return;
  }
  const models::Network& net = w.net();
  const int n = comm.size();
  const std::uint32_t dom = net.gpus_per_domain();
  const double piece = plan.bytes / n;
  const double eff = plan.efficiency;
  auto gpu = [&](int r) { return comm.gpu(r); };
  std::vector<double> ranks_by_local(dom, 0.0), remote_by_local(dom), to_gpu(dom);
  for (int r = 0; r < n; ++r) ranks_by_local[net.local_index(gpu(r))] += 1;
  for (int node = 0; node < comm.nodes(); ++node) {
    const auto& members = comm.node_ranks(node);
    const std::uint32_t domain = net.domain_of(gpu(members.front()));
    for (std::uint32_t l = 0; l < dom; ++l) remote_by_local[l] = ranks_by_local[l];
    for (int r : members) remote_by_local[net.local_index(gpu(r))] -= 1;
    for (int s : members) {
      std::fill(to_gpu.begin(), to_gpu.end(), 0.0);
      for (int d : members)
        if (d != s) to_gpu[net.local_index(gpu(d))] += piece;
      for (std::uint32_t l = 0; l < dom; ++l)
        if (net.gpu_at(domain, l) != gpu(s)) to_gpu[l] += remote_by_local[l] * piece;
      for (std::uint32_t l = 0; l < dom; ++l)
        if (to_gpu[l] > 0)
          w.connection(gpu(s), net.gpu_at(domain, l), models::kNoNode, 0, to_gpu[l] / eff, plan.model_latency_s,
                       models::solver::kNoCap, {});
    }
    const double domain_bytes = piece * static_cast<double>(members.size());
    for (int d = 0; d < n; ++d) {
      if (net.domain_of(gpu(d)) == domain) continue;
      // d's remote senders come from every other node; the wire rate is the payload's over the protocol's efficiency.
      const double cap = plan.p2p_remote_cap_Bps == models::solver::kNoCap
                             ? models::solver::kNoCap
                             : plan.p2p_remote_cap_Bps / (comm.nodes() - 1) / eff;
      w.connection(net.gpu_at(domain, net.local_index(gpu(d))), gpu(d), models::kNoNode,
                   static_cast<std::uint32_t>(d % 64), domain_bytes / eff, plan.model_latency_s, cap, {});
    }
  }
}

// The GPU a p2p send to another node goes through: with PXN the one of the sender's domain on the destination's rail,
// without it none (out of the sender's own NIC).
static NodeId p2p_via(const FlowWriter& w, NodeId from, NodeId to) {
  return w.plan().pxn ? w.net().rail_proxy(from, to) : models::kNoNode;
}

// A send's wire-rate cap: to another NVLink domain, its peer's p2p channels' rate (plan.p2p_remote_cap_Bps).
static double p2p_send_cap(const FlowWriter& w, NodeId from, NodeId to) {
  const CollPlan& plan = w.plan();
  if (plan.p2p_remote_cap_Bps == models::solver::kNoCap || w.net().domain_of(from) == w.net().domain_of(to))
    return models::solver::kNoCap;
  return plan.p2p_remote_cap_Bps / plan.efficiency;
}

// SendRecv: rank s sends S to rank s + 1 (nccl-tests' sendrecv); to another NVLink domain through PXN, on its peer's
// p2p channels.
void emit_send_recv(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const int n = comm.size();
  for (int s = 0; s < n; ++s) {
    const NodeId from = comm.gpu(s), to = comm.gpu((s + 1) % n);
    w.connection(from, to, p2p_via(w, from, to), 0, plan.bytes / plan.efficiency,
                 plan.model_latency_s, p2p_send_cap(w, from, to), {});
  }
}

CollFlows emit_transfer(const Communicator& comm, const CollPlan& plan, models::solver::FlowEngine& engine,
                        double start_s, int from, int to, const EmitOptions& options) {
  FlowWriter w(comm, plan, engine, start_s, options);
  if (plan.bytes == 0) {
    w.latency_only(plan.model_latency_s);
  } else {
    const NodeId a = comm.gpu(from), b = comm.gpu(to);
    w.connection(a, b, p2p_via(w, a, b), 0, plan.bytes / plan.efficiency,
                 plan.model_latency_s, p2p_send_cap(w, a, b), {});
  }
  return std::move(w).finish();
}

}  // namespace collemu::collectives
