#include "collectives/plan.hpp"

#include <cmath>
#include <string>

#include "common/error.hpp"
#include "models/solver/rate_problem.hpp"

namespace collemu::collectives {

using common::InputError;

Granularity parse_granularity(std::string_view text) {
  if (text == "pipelined") return Granularity::Pipelined;
  if (text == "step") return Granularity::Step;
  if (text == "lockstep") return Granularity::Lockstep;
  throw InputError("granularity '" + std::string(text) + "'", "expected pipelined, step or lockstep");
}
const char* to_string(Granularity g) {
  return g == Granularity::Pipelined ? "pipelined" : g == Granularity::Step ? "step" : "lockstep";
}

CollPlan plan_collective(const Communicator& comm, const CollSpec& spec) {
  const int n = comm.size();
  if (!is_collective(spec.op))
    throw InputError(std::string("collective ") + common::to_string(spec.op),
                     "not a collective; expected allreduce, allgather, reducescatter, broadcast, reduce, alltoall or "
                     "sendrecv");
  if (spec.qps < 1)
    throw InputError(std::to_string(spec.qps) + " QPs per connection", "expected at least 1 QP per connection");
  if (spec.channels < 0) throw InputError(std::to_string(spec.channels) + " channels", "expected at least 1 channel");
  if (spec.root < 0 || spec.root >= n)
    throw InputError("root " + std::to_string(spec.root), "expected a rank in [0, " + std::to_string(n) + ")");
  if (!(spec.bytes >= 0) || !std::isfinite(spec.bytes) || spec.bytes > 1e18)
    throw InputError("", "size " + std::to_string(spec.bytes) + " B; expected a size from 0 to 1e18 B");
  CollPlan plan;
  plan.op = spec.op;
  if (spec.type_bytes < 1 || spec.type_bytes > 8)
    throw InputError(std::to_string(spec.type_bytes) + " B elements", "expected an element size of 1 to 8 B");
  plan.count = nccl_tests_count(spec.op, spec.bytes, n, spec.type_bytes);
  plan.bytes = nccl_tests_bytes(spec.op, plan.count, n, spec.type_bytes);
  plan.channels = spec.channels ? spec.channels : comm.default_channels();
  plan.qps = spec.qps;
  plan.granularity = spec.granularity;
  plan.root = spec.root;
  plan.pxn = spec.pxn;
  const CommShape& shape = comm.shape();
  const Choice ch = choose(spec.op, plan.bytes, shape, plan.channels, spec.algo ? &*spec.algo : nullptr,
                           spec.proto ? &*spec.proto : nullptr);
  plan.algo = ch.algo;
  plan.proto = ch.proto;
  plan.efficiency = proto_efficiency(ch.proto);
  // Per-channel payload ceilings of the protocol, as wire-rate caps of one channel's connection.
  plan.channel_cap_Bps = models::solver::kNoCap;
  if (ch.proto == Proto::LL128) plan.channel_cap_Bps = ll128_channel_cap_Bps(shape.arch, shape.nodes) / plan.efficiency;
  if (ch.proto == Proto::LL)
    plan.channel_cap_Bps = ll_total_cap_Bps(shape) / plan.channels / plan.efficiency;
  if (ch.algo == Algo::Tree)
    plan.channel_cap_Bps = tree_channel_cap_Bps(shape, ch.proto, plan.channels) / plan.efficiency;
  // NCCL's model for the choice above; a chain's first chunk crosses every edge (chain_latency_s).
  plan.model_latency_s = spec.op == CollKind::Broadcast || spec.op == CollKind::Reduce
                             ? chain_latency_s(ch.proto, shape)
                             : nccl_latency_s(spec.op, ch.algo, ch.proto, shape);
  const models::FabricLayout& layout = comm.network().fabric().layout;
  plan.extra_latency_s =
      layout.extra_latency_s + nccl_net_steps(spec.op, ch.algo, shape) * layout.extra_hop_latency_s;
  if (spec.net_channels_per_peer < 0 || spec.net_channels_per_peer > 64)
    throw InputError(std::to_string(spec.net_channels_per_peer) + " channels per net peer",
                     "expected 1 to 64 (NCCL_NCHANNELS_PER_NET_PEER), or 0 for NCCL's default");
  plan.p2p_remote_cap_Bps = models::solver::kNoCap;
  if ((spec.op == CollKind::AllToAll || spec.op == CollKind::SendRecv) && shape.nodes > 1) {
    // An AllToAll's remote receives share all of the rank's remote p2p channels; a SendRecv's one remote peer has that
    // peer's channels (NVIDIA/nccl#1272: one peer across nodes on 2 channels until NCCL_NCHANNELS_PER_NET_PEER=4).
    const P2pContext ctx{n, shape.nodes, plan.channels, spec.net_channels_per_peer, spec.nccl_minor, shape.nic_line_Bps};
    if (spec.op == CollKind::AllToAll) {
      // Every rank sends across at once: each has its share of its NIC (shape.nic_Bps: the NIC over the GPUs
      // sharing it), which a ceiling at or above it never beats, so such a ceiling is left out (the solver then does
      // exactly what it did without it).
      const double cap = p2p_remote_channels(ctx) * kP2pChannelNet_Bps;
      if (cap < shape.nic_Bps) plan.p2p_remote_cap_Bps = cap;
    } else {
      // One send may be alone on its NIC (a GPU sharing it with others that do not send across): always capped.
      plan.p2p_peer_channels = p2p_net_channels_per_peer(ctx);
      plan.p2p_remote_cap_Bps = plan.p2p_peer_channels * kP2pChannelNet_Bps;
    }
  }
  return plan;
}

}  // namespace collemu::collectives
