// PAT (AllGather and ReduceScatter, one rank per node): at step k every rank exchanges with the rank 2^k away the
// min(2^k, n - 2^k) chunks of S/n it has gathered so far (a Bruck-style doubling: n - 1 chunks in all, log2(n) steps),
// pipelined; PAT's 0.75 (tuning.cc) scales the bytes on the wire. The rounds follow each other: every flow pays NCCL's
// latency plus the rounds' summed (mean) path latencies.
#include <algorithm>

#include "collectives/emit.hpp"

namespace collemu::collectives {

void emit_pat(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const int n = comm.size();
  const double S = plan.bytes;
  double rounds_path_s = 0;
  for (int dist = 1; dist < n; dist *= 2) {
    double round_s = 0;
    for (int r = 0; r < n; ++r) round_s += w.path_latency_s(comm.gpu(r), comm.gpu((r + dist) % n));
    rounds_path_s += round_s / n;
  }
  for (int dist = 1; dist < n; dist *= 2) {
    const double chunks = std::min(dist, n - dist);
    for (int r = 0; r < n; ++r) {
      const int peer = plan.op == CollKind::AllGather ? (r - dist + n) % n : (r + dist) % n;
      w.connection(comm.gpu(r), comm.gpu(peer), models::kNoNode, static_cast<std::uint32_t>(dist % 64),
                   chunks * S / n / kPatEfficiency, plan.model_latency_s + rounds_path_s, models::solver::kNoCap, {},
                   nullptr, 0);
    }
  }
}

}  // namespace collemu::collectives
