// PAT (AllGather and ReduceScatter, one rank per node): at step k every rank exchanges with the rank 2^k away the
// min(2^k, n - 2^k) chunks of S/n it has gathered so far (a Bruck-style doubling: n - 1 chunks in all, log2(n) steps);
// PAT's 0.75 (tuning.cc) scales the bytes on the wire. Every flow pays NCCL's latency plus the rounds' summed (mean)
// path latencies.
//
// The rounds' connections move in lockstep: one flow for the collective, each connection carrying its round's share
// (FlowWriter::lockstep), paced by the slowest. That is how NCCL runs PAT (src/device/reduce_scatter.h and
// all_gather.h, RunWorkColl<..., NCCL_ALGO_PAT, ...>; src/include/collectives.h, PatRSAlgorithm / PatAGAlgorithm):
// per channel, one thread computes the schedule's steps in order (getNextOp), each step receiving from one of the
// log2(n) peers and sending to another, and the workers run them at most parallelFactor at a time in a window of 32
// steps (NCCL_SHMEM_PAT_STEPS), every rank walking the same schedule over the same chunks. A connection that is slow
// (a congested path) holds the window, and through its peers every rank: no connection runs ahead of the others by
// more than the window. Where every connection's path is alike (a sprayed DSF, a non-blocking fabric) the collective's
// time is the same as with the connections as independent flows: each rank's NIC carries them all, and binds.
#include <algorithm>

#include "collectives/emit.hpp"

namespace collemu::collectives {

void emit_pat(FlowWriter& w) {
  const Communicator& comm = w.comm();
  const CollPlan& plan = w.plan();
  const int n = comm.size();
  const double S = plan.bytes;
  double rounds_path_s = 0;
  int most = 0;  // the largest round's chunks
  for (int dist = 1; dist < n; dist *= 2) {
    double round_s = 0;
    for (int r = 0; r < n; ++r) round_s += w.path_latency_s(comm.gpu(r), comm.gpu((r + dist) % n));
    rounds_path_s += round_s / n;
    most = std::max(most, std::min(dist, n - dist));
  }
  std::vector<LockstepEdge> edges;
  for (int dist = 1; dist < n; dist *= 2) {
    const double load = static_cast<double>(std::min(dist, n - dist)) / most;
    for (int r = 0; r < n; ++r) {
      const int peer = plan.op == CollKind::AllGather ? (r - dist + n) % n : (r + dist) % n;
      // A round's connections hash as channel dist mod 64: a UDP port per peer distance.
      edges.push_back({comm.gpu(r), comm.gpu(peer), models::kNoNode, load, static_cast<std::uint32_t>(dist % 64)});
    }
  }
  w.lockstep(edges, most * S / n / kPatEfficiency, plan.model_latency_s + rounds_path_s, models::solver::kNoCap);
}

}  // namespace collemu::collectives
