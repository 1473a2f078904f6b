// NCCL's Tree AllReduce: per channel, a chain through each node's ranks (rotated by half the channel index, so that
// each GPU heads one channel of each tree and its NIC serves both; the head is the node's end of the tree) and,
// between nodes, the channel's tree of the double binary tree (even channels tree 0, odd ones tree 1). A channel
// reduces its S/nch up the tree and broadcasts it down.
//   Pipelined: every edge carries S/nch each way as one flow; every flow pays NCCL's latency plus twice the path
//   latency of the deepest leaf's way up (up to the root and back down).
//   Step: the channel's data goes in chunks of NCCL's Simple step (4 MiB buffer / NCCL_STEPS 8 = 512 KiB, at most 1,024
//   chunks); a chunk goes up an edge once it came up every child edge, and down once it came down to the parent (the
//   root: once it came up from all its children); the first chunk pays NCCL's Tree per-hop latency.
#include <algorithm>
#include <cmath>

#include "collectives/emit.hpp"

namespace collemu::collectives {

void emit_tree(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const int n = comm.size();
  const int nch = plan.channels;
  const double S = plan.bytes;
  const int nodes = comm.nodes();
  auto gpu = [&](int r) { return comm.gpu(r); };
  std::vector<int> parent(n), depth(n), order;
  std::vector<std::vector<int>> children(n);
  std::vector<std::vector<FlowId>> up(n), down(n), prev_up(n), prev_down(n);
  std::vector<FlowId> after;
  for (int c = 0; c < nch; ++c) {
    std::fill(parent.begin(), parent.end(), -1);
    for (auto& list : children) list.clear();
    auto member = [&](int node, int k) {
      const auto& nr = comm.node_ranks(node);
      return nr[static_cast<std::size_t>(k + c / 2) % nr.size()];
    };
    for (int i = 0; i < nodes; ++i) {
      const int m = static_cast<int>(comm.node_ranks(i).size());
      for (int k = 1; k < m; ++k) parent[member(i, k)] = member(i, k - 1);
      const int pn = dtree_parent(nodes, i, c % 2);
      if (pn >= 0) parent[member(i, 0)] = member(pn, 0);
    }
    for (int r = 0; r < n; ++r)
      if (parent[r] >= 0) children[parent[r]].push_back(r);
    if (plan.granularity != Granularity::Step) {  // pipelined (and lockstep: not yet a tree of its own)
      double deepest_s = 0;
      for (int r = 0; r < n; ++r) {
        if (!children[r].empty()) continue;
        double up_s = 0;
        for (int at = r; parent[at] >= 0; at = parent[at]) up_s += w.path_latency_s(gpu(at), gpu(parent[at]));
        deepest_s = std::max(deepest_s, up_s);
      }
      const double D = S / nch / plan.efficiency;
      for (int r = 0; r < n; ++r) {
        if (parent[r] < 0) continue;
        const models::NodeId a = gpu(r), z = gpu(parent[r]);
        w.connection(a, z, models::kNoNode, c, D, plan.model_latency_s + 2 * deepest_s, plan.channel_cap_Bps, {},
                     nullptr, 0);
        w.connection(z, a, models::kNoNode, c, D, plan.model_latency_s + 2 * deepest_s, plan.channel_cap_Bps, {},
                     nullptr, 0);
      }
      continue;
    }
    // Depths (a parent is nearer the root), then ranks deepest first: children are added before their parents.
    order.resize(n);
    for (int r = 0; r < n; ++r) {
      int d = 0;
      for (int at = r; parent[at] >= 0; at = parent[at]) ++d;
      depth[r] = d;
      order[r] = r;
    }
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return depth[x] > depth[y]; });
    const double per_channel = S / nch;
    const int K = static_cast<int>(std::clamp(std::ceil(per_channel / (512.0 * 1024)), 1.0, 1024.0));
    const double chunk = per_channel / K / plan.efficiency;
    for (auto& v : prev_up) v.clear();
    for (auto& v : prev_down) v.clear();
    for (int j = 0; j < K; ++j) {
      for (int r : order) {  // reduce: up
        up[r].clear();
        if (parent[r] < 0) continue;
        after.assign(prev_up[r].begin(), prev_up[r].end());
        for (int child : children[r]) after.insert(after.end(), up[child].begin(), up[child].end());
        const bool inter = comm.node_of(r) != comm.node_of(parent[r]);
        // The first chunk pays the hop's latency (and the leaves the base latency); later chunks follow it through
        // NCCL's NCCL_STEPS slots without paying it again.
        const double lat = j > 0 ? 0.0
                                 : tree_step_latency_s(plan.proto, inter) +
                                       (children[r].empty() ? tree_base_latency_s(plan.proto) : 0.0);
        w.connection(gpu(r), gpu(parent[r]), models::kNoNode, c, chunk, lat, plan.channel_cap_Bps, after, &up[r]);
      }
      for (auto it = order.rbegin(); it != order.rend(); ++it) {  // broadcast: down
        const int r = *it;
        down[r].clear();
        if (parent[r] < 0) continue;
        const int p = parent[r];
        after.assign(prev_down[r].begin(), prev_down[r].end());
        if (parent[p] < 0) {
          for (int sib : children[p]) after.insert(after.end(), up[sib].begin(), up[sib].end());
        } else {
          after.insert(after.end(), down[p].begin(), down[p].end());
        }
        const bool inter = comm.node_of(r) != comm.node_of(p);
        w.connection(gpu(p), gpu(r), models::kNoNode, c, chunk, j > 0 ? 0.0 : tree_step_latency_s(plan.proto, inter),
                     plan.channel_cap_Bps, after, &down[r]);
      }
      std::swap(up, prev_up);
      std::swap(down, prev_down);
    }
  }
}

}  // namespace collemu::collectives
