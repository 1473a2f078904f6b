// NCCL, as far as the network sees it: operations, algorithms and protocols by NCCL's names; NCCL's cost model
// (src/graph/tuning.cc, NCCL 2.28–2.30) for latencies, protocol efficiency and the choice of algorithm and
// protocol; nccl-tests' definitions of sizes, counts, algbw and busbw (doc/PERFORMANCE.md). Sources: FABRIC.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/collective.hpp"
#include "models/fabric.hpp"

namespace collemu::collectives {

using common::CollKind;

enum class Algo : std::uint8_t { Ring, Tree, Nvls, NvlsTree, Pat };
// NCCL's GPU generations for its tuning constants (tuning.cc compCapIndex: compute capability >= 10.0 Blackwell,
// >= 9.0 Hopper, >= 8.0 Ampere, else Volta).
enum class Arch : std::uint8_t { Volta, Ampere, Hopper, Blackwell };
Arch nccl_arch(models::GpuType g);  // A100 8.0; H100, H200, H20 9.0; B200, GB200 10.0; GB300 10.3
const char* to_string(Arch a);
enum class Proto : std::uint8_t { LL, LL128, Simple };

const char* to_string(Algo a);
// The algorithm as reported: "P2P" for AllToAll and SendRecv (grouped sends and receives, no NCCL algorithm).
const char* algo_name(CollKind op, Algo a);
const char* to_string(Proto p);
// The collectives `coll` runs: "allreduce", "all_reduce", "AllReduce" (case and '_' ignored), ..., "sendrecv".
// Throws common::InputError naming the text and the accepted names.
CollKind parse_collective(std::string_view text);
// Whether the collectives here can run it (not Send, Recv or Barrier alone).
bool is_collective(CollKind op);
// NCCL_ALGO / NCCL_PROTO values ("Ring", "Tree", "NVLS", "NVLSTree", "PAT"; "LL", "LL128", "Simple"), case-insensitive.
Algo parse_algo(std::string_view text);
Proto parse_proto(std::string_view text);

// nccl-tests' bus bandwidth factor: busbw = algbw x factor. AllReduce 2(n-1)/n; AllGather, ReduceScatter,
// AllToAll (n-1)/n; Broadcast, Reduce, SendRecv 1.
double busbw_factor(CollKind op, int ranks);
// nccl-tests' element count for a size in bytes (elements of `type_bytes`, float's 4 by default): AllGather,
// ReduceScatter and AllToAll split the size over the ranks (count per rank), the others do not. The size actually
// moved is count x type_bytes (x ranks for those).
std::int64_t nccl_tests_count(CollKind op, double bytes, int ranks, int type_bytes = 4);
double nccl_tests_bytes(CollKind op, std::int64_t count, int ranks, int type_bytes = 4);
// nccl-tests' reductions (-o): sum, prod, max, min, avg.
bool is_nccl_redop(std::string_view name);

// Payload bytes per byte on the wire: LL 8 of 16 (flags), LL128 120 of 128, Simple 1 (FABRIC.md).
double proto_efficiency(Proto p);

// Link payload efficiency, the share of a link's line rate that carries data.
// NVLink: NCCL's model of one NVLink (src/graph/topo.h SMxx_NVLINK_BW) over the link's rate per direction: Volta
// NVLink2 and Ampere NVLink3 20 of 25 GB/s (0.8), Hopper NVLink4 20.6 of 25 (0.824), Blackwell NVLink5 40.1 of 50
// (0.802).
double nvlink_payload_efficiency(Arch a);
inline constexpr double kNvlinkPayloadEfficiency = 20.6 / 25.0;  // Hopper's
// RoCEv2 with a 4096 B MTU: per packet 82 B of overhead on the wire (preamble+SFD 8, Ethernet 14, IPv4 20,
// UDP 8, BTH 12, ICRC 4, FCS 4, inter-frame gap 12): 4096 / 4178.
inline constexpr double kRoceV2PayloadEfficiency = 4096.0 / (4096.0 + 82.0);
// InfiniBand: what NCCL reaches per NIC, 94% of the line rate. NVIDIA/nccl-tests#290 (AddyLaddy, NVIDIA, 2025-03-03):
// "For NDR @ 400Gbps you should see 46-48GB/s per NIC" (47 of 50); NVIDIA/nccl-tests#119 (sjeaugey, 2022-11-17):
// 24 GB/s per 200G NIC, 12 per 100G (96%). IB's framing alone (LRH 8, BTH 12, ICRC 4, VCRC 2 bytes per 4096 B
// packet: 4096 / 4122 = 0.994) would carry more; NCCL's default channels do not fill it (NVIDIA/nccl-tests#309,
// kiskra-nvidia: NCCL_MIN_CTAS=24 gets 8 NDR NICs "above 380 GB/s" of their 400, at the cost of more SMs).
inline constexpr double kIbPayloadEfficiency = 0.94;
// The payload share of a network link's line rate for the fabric's transport (nic.transport).
double network_payload_efficiency(models::Transport t);
// NVLS efficiency (tuning.cc nvlsEfficiency): Volta and Ampere 0 (no NVLS: their NVSwitches have no multicast),
// Hopper 0.85, Blackwell 0.74.
double nvls_efficiency(Arch a);
inline constexpr double kNvlsEfficiency = 0.85;  // Hopper's
// PAT's bandwidth refinement (tuning.cc: busBw *= .75).
inline constexpr double kPatEfficiency = 0.75;

// What NCCL's cost model needs to know about a communicator on a fabric.
struct CommShape {
  int ranks = 0;
  int nodes = 0;          // NVLink domains the ranks occupy
  int ranks_per_node = 0; // the largest number of ranks in one domain
  bool nvswitch = false;  // the domains have an NVSwitch (NVLS possible on Hopper and later)
  Arch arch = Arch::Hopper;  // the GPUs' generation, for NCCL's constants
  models::CpuVendor cpu = models::CpuVendor::Intel;  // the hosts' (host.cpu): NCCL's constants across nodes
  double nvlink_Bps = 0;  // payload bandwidth per GPU into its NVLink domain (0: none)
  double nic_Bps = 0;     // payload bandwidth of one GPU's NIC
  double nic_line_Bps = 0;  // its line rate (what NCCL's topology reads: the NIC's speed / 8)
};

// NCCL's latency model for (op, algo, proto) on a communicator, seconds: base + per-step hardware latencies,
// tuning.cc's formulas (Ring: base + (nsteps - nInter) intra + nInter inter; NVLS: its NVLink latency).
double nccl_latency_s(CollKind op, Algo a, Proto p, const CommShape& c);
// The latency a Broadcast or Reduce pays: its first chunk crosses the n - 1 edges of the chain one after the other,
// each at NCCL's Ring step latency (intra or inter), as an AllGather's ring steps do. NCCL's tuner, which only chooses
// the protocol here (Ring is the only algorithm), charges one hop when every rank runs the same channels
// (tuning.cc, sameChannels) and nRanks steps otherwise ("waiting for proper chunk modeling"); one hop for 256 ranks
// would finish a chain of 31 network hops in 9 us.
double chain_latency_s(Proto p, const CommShape& c);
// The network steps on the critical path of (op, algo) in NCCL's latency model (tuning.cc): Ring AllReduce
// 2 (nodes - 1), Ring AllGather / ReduceScatter nodes - 1, Tree 2 log2(nodes), NVLSTree 2 log2(nodes), PAT log2(nodes),
// NVLS 0, p2p 1 across nodes; Broadcast and Reduce the chain's nodes - 1 (chain_latency_s); 0 within one node.
int nccl_net_steps(CollKind op, Algo a, const CommShape& c);
// The latency of one ring step over NVLink (intra) or the network (inter), seconds; with one rank per node NCCL
// charges the Tree network latency (fully exposed).
double ring_step_latency_s(Proto p, bool inter, const CommShape& c);
// Tree: the base latency, and the latency of one hop over NVLink (intra) or the network (inter), seconds (tuning.cc).
double tree_base_latency_s(Proto p);
double tree_step_latency_s(Proto p, bool inter);
// NCCL's own estimate of the algorithm bandwidth, bytes/s, in tuning.cc's form with this fabric's per-GPU NVLink
// and NIC bandwidths; 0 when NCCL would not use (op, algo, proto) here.
double nccl_model_algbw_Bps(CollKind op, Algo a, Proto p, const CommShape& c, int channels);

struct Choice {
  Algo algo;
  Proto proto;
};
// NCCL's choice: the (algo, proto) with the smallest modelled time latency + bytes / algbw, restricted to the
// forced algorithm and protocol when given. Throws common::InputError when the forced pair is not possible here.
Choice choose(CollKind op, double bytes, const CommShape& c, int channels, const Algo* force_algo, const Proto* force_proto);

// Per-channel bandwidth ceilings of the generation (tuning.cc), payload bytes/s: Ring LL128 per channel, and LL's total.
double ll128_channel_cap_Bps(Arch a, int nodes);
double ll_total_cap_Bps(const CommShape& c);
// Tree AllReduce per-channel ceilings (tuning.cc perChMaxTreeBws, perChMaxTreeLL128Bws; LL: LL's total over the
// channels), payload bytes/s.
double tree_channel_cap_Bps(const CommShape& c, Proto p, int channels);

// p2p across nodes (AllToAll): how many channels (CTAs) of a rank carry its sends to, and its receives from, ranks of
// other nodes, and what one such channel moves. A remote peer gets `per_peer` channels (NCCL_NCHANNELS_PER_NET_PEER
// when given), by NCCL's version (src/graph/paths.cc ncclTopoGetNchannels, ncclTopoComputeP2pChannels):
// - up to 2.19: 2;
// - 2.20 to 2.28: 2, halved while per_peer x ranks > 4 x p2p channels ("avoid overloading channels with 8+
//   operations"; the halving NVIDIA/nccl#1272 met at 8 nodes);
// - from 2.29: max(NICs, ceil(NIC GB/s / 14)) (NCCL_P2P_PER_CHANNEL_NET_BW = 14 GB/s, the NIC's speed / 8 as an
//   integer; the PCIe path's bandwidth, which NCCL takes if lower, is not modelled), then across nodes halved while
//   per_peer x ceil(ranks / 8) > p2p channels (NCCL_MAX_DEV_WORK_P2P_PER_BATCH = 8: all peers in one round);
// the p2p channels being the communicator's rounded up to a power of two, and per_peer too. All the peers of one
// remote node share the same base channel (src/include/channel.h ncclP2pChannelBaseForRound), so the remote traffic
// of a rank runs on min(p2p channels, (nodes - 1) x per_peer) channels. One p2p channel drives NCCL's own estimate
// of 14 GB/s over the network (NCCL_P2P_PER_CHANNEL_NET_BW, what 2.29 sizes channels by).
inline constexpr double kP2pChannelNet_Bps = 14e9;
// The NCCL version modelled: its minor number (2.28 -> 28); kNcclMinor is the default.
inline constexpr int kNcclMinor = 28;
int parse_nccl_minor(std::string_view text);  // "2.29", "2.29.2", "2.29.2-1"; throws common::InputError
struct P2pContext {
  int ranks = 0, nodes = 1, channels = 0;
  int forced = 0;              // NCCL_NCHANNELS_PER_NET_PEER (0: not given)
  int nccl_minor = kNcclMinor;
  double nic_line_Bps = 50e9;  // a 400G NIC
};
int p2p_net_channels_per_peer(const P2pContext& p);
int p2p_remote_channels(const P2pContext& p);
// The 2.28 rule on `ranks` and `channels` (what the tests of that version's figures call).
inline int p2p_net_channels_per_peer(int ranks, int channels, int forced = 0) {
  return p2p_net_channels_per_peer({ranks, 2, channels, forced});
}
inline int p2p_remote_channels(int ranks, int nodes, int channels, int forced = 0) {
  return p2p_remote_channels({ranks, nodes, channels, forced});
}

// NCCL's double binary tree over `n` nodes (trees.cc, ncclGetDtree): the parent of node i in tree t (0 or 1), or -1
// for the root. Tree 0 is a binary tree rooted at 0 in which a node's parent clears its lowest set bit and sets the
// next; tree 1 mirrors it (n even) or shifts it by one (n odd), so that a node inside one tree is a leaf of the other.
int dtree_parent(int n, int i, int t);

}  // namespace collemu::collectives
