// Broadcast and Reduce: per channel, a pipelined chain of n - 1 edges from the root around the channel's ring (Reduce:
// the same edges reversed, towards the root), each edge one flow of S / nch. The data crosses the whole chain: every
// flow pays NCCL's latency plus the chain's summed path latency.
#include <algorithm>

#include "collectives/emit.hpp"

namespace collemu::collectives {

void emit_chain(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const models::Network& net = w.net();
  const int n = comm.size();
  const int nch = plan.channels;
  auto via = [&](int a, int z) { return net.rail_proxy(comm.gpu(a), comm.gpu(z)); };
  for (int c = 0; c < nch; ++c) {
    const std::vector<int> order = channel_ring(comm, c);
    const int at = static_cast<int>(std::find(order.begin(), order.end(), plan.root) - order.begin());
    double chain_path_s = 0;
    for (int k = 0; k < n - 1; ++k) {
      const int a = order[(at + k) % n], z = order[(at + k + 1) % n];
      chain_path_s += w.path_latency_s(comm.gpu(a), comm.gpu(z), via(a, z));
    }
    for (int k = 0; k < n - 1; ++k) {
      int a = order[(at + k) % n], z = order[(at + k + 1) % n];
      if (plan.op == CollKind::Reduce) std::swap(a, z);
      w.connection(comm.gpu(a), comm.gpu(z), via(a, z), c, plan.bytes / nch / plan.efficiency,
                   plan.model_latency_s + chain_path_s, plan.channel_cap_Bps, {}, nullptr, 0);
    }
  }
}

}  // namespace collemu::collectives
