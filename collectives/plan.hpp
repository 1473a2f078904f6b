// The choice step, apart from the flows: for one collective on one communicator, what NCCL would run (algorithm,
// protocol, channels; NCCL's cost model in nccl.hpp, table-driven) and the figures every emitter needs from it (the
// protocol's wire efficiency, the per-channel rate ceiling, NCCL's modelled latency).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "collectives/communicator.hpp"
#include "collectives/nccl.hpp"

namespace collemu::collectives {

// Pipelined: each connection of a ring, tree or chain is one flow carrying its whole share. Step: each step (a ring
// step, a tree chunk) is a flow that waits for the one it forwards (ring collectives and Tree).
// Lockstep: each channel of a ring is one flow over all its edges, moving at the rate of its slowest edge.
enum class Granularity : std::uint8_t { Pipelined, Step, Lockstep };
Granularity parse_granularity(std::string_view text);
const char* to_string(Granularity g);

struct CollSpec {
  CollKind op = CollKind::AllReduce;
  double bytes = 0;            // nccl-tests' size (AllGather/ReduceScatter: the gathered size; AllToAll: per rank), B
  std::optional<Algo> algo;    // forced, as NCCL_ALGO
  std::optional<Proto> proto;  // forced, as NCCL_PROTO
  int channels = 0;            // 0: NCCL's default here (Communicator::default_channels)
  int qps = 1;                 // QPs per connection, as NCCL_IB_QPS_PER_CONNECTION
  Granularity granularity = Granularity::Pipelined;
  int root = 0;                // Broadcast and Reduce
  int type_bytes = 4;          // the element size (nccl-tests' -d; float), B: counts and the size rounded to whole elements
  int net_channels_per_peer = 0;  // p2p channels per remote peer, as NCCL_NCHANNELS_PER_NET_PEER (0: NCCL's default)
  // PXN (NCCL 2.12+): a p2p send to a GPU of another node goes over NVLink to the GPU of this node on the
  // destination's rail and out of that GPU's NIC; false: out of the sender's own NIC, as NCCL_PXN_DISABLE=1.
  bool pxn = true;
  int nccl_minor = kNcclMinor;  // the NCCL version modelled (2.MINOR): its p2p channels per remote peer (nccl.hpp)
};

struct CollPlan {
  CollKind op;
  std::int64_t count = 0;  // nccl-tests' element count (of type_bytes each)
  double bytes = 0;        // size moved: count x type_bytes (x ranks where nccl-tests splits it), B
  Algo algo;
  Proto proto;
  int channels = 0;
  int qps = 1;
  Granularity granularity = Granularity::Pipelined;
  int root = 0;
  double efficiency = 1;              // payload bytes per byte on the wire (the protocol's)
  double channel_cap_Bps = 0;         // wire-rate ceiling of one channel's connection (kNoCap: none)
  double model_latency_s = 0;         // NCCL's latency for (op, algo, proto) on this communicator
  // Latency the fabric adds to it (nccl.extra_latency + nccl_net_steps x nccl.extra_hop_latency), paid once before the
  // collective's first flows (the emitters add it to every flow that waits for no other). NCCL's choice does not see it.
  double extra_latency_s = 0;
  // AllToAll across nodes: the payload rate all of a rank's receives from other nodes share (its remote p2p channels x
  // kP2pChannelNet_Bps), B/s. SendRecv and a replay's transfers: the payload rate of one send to a rank of another
  // node (the channels of one remote peer x kP2pChannelNet_Bps). kNoCap within one node; an AllToAll's also where
  // the NIC binds first.
  double p2p_remote_cap_Bps = 0;
  // SendRecv and transfers across nodes: the p2p channels one remote peer runs on (0 otherwise).
  int p2p_peer_channels = 0;
  bool pxn = true;  // CollSpec::pxn
};

// Checks the request and makes NCCL's choice. Throws common::InputError (in the request's terms: the QP count, the
// channel count, the root, the size) for an impossible request, or a forced algorithm NCCL would not use here.
CollPlan plan_collective(const Communicator& comm, const CollSpec& spec);

}  // namespace collemu::collectives
