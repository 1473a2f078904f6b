// NVLS inside an NVSwitch domain of m ranks: each GPU's shard is reduced by the switch (multimem.ld_reduce reads S/m
// from every GPU) and multicast back (multimem.st): S (1 + 1/m) each way on every GPU's NVLink. NCCL's NVLS
// efficiency and (nCh - 1)/nCh (tuning.cc) scale the bytes on the wire.
// NVLSTree: between the two phases, GPU l of every node all-reduces its shard S/m with GPU l of the others over a
// double binary tree of their NICs (half the shard on each tree, up then down: S/m through each NIC each way, as Tree
// does with S).
#include "collectives/emit.hpp"
#include "common/error.hpp"

namespace collemu::collectives {

void emit_nvls(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const models::Network& net = w.net();
  const int n = comm.size();
  const int nch = plan.channels;
  const double S = plan.bytes;
  for (int r = 0; r < n; ++r) {
    const double m = static_cast<double>(comm.node_ranks(comm.node_of(r)).size());
    const double wire = S * (1.0 + 1.0 / m) / (nvls_efficiency(comm.shape().arch) * (nch - 1) / nch);
    const models::Network::NvLinks nv = net.nvlinks(comm.gpu(r));
    COLLEMU_ASSERT(nv.found, "NVLS without an NVLink");
    w.direct(wire, nv.up, plan.model_latency_s + nv.up_latency_s);
    w.direct(wire, nv.down, plan.model_latency_s + nv.down_latency_s);
  }
  if (plan.algo != Algo::NvlsTree) return;
  const int nodes = comm.nodes();
  for (int l = 0; l < comm.shape().ranks_per_node; ++l)
    for (int t = 0; t < 2; ++t)
      for (int i = 0; i < nodes; ++i) {
        const int parent = dtree_parent(nodes, i, t);
        const auto& mine = comm.node_ranks(i);
        if (parent < 0 || l >= static_cast<int>(mine.size()) ||
            l >= static_cast<int>(comm.node_ranks(parent).size()))
          continue;
        const double D = S / static_cast<double>(mine.size()) / 2;
        const models::NodeId a = comm.gpu(mine[l]), z = comm.gpu(comm.node_ranks(parent)[l]);
        const auto channel = static_cast<std::uint32_t>(2 * l + t);
        w.connection(a, z, models::kNoNode, channel, D, plan.model_latency_s, models::solver::kNoCap, {});
        w.connection(z, a, models::kNoNode, channel, D, plan.model_latency_s, models::solver::kNoCap, {});
      }
}

}  // namespace collemu::collectives
