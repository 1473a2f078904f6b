#include "collectives/nccl.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "common/error.hpp"

namespace collemu::collectives {

using common::InputError;

namespace {

std::string canon(std::string_view s) {
  std::string out;
  for (char ch : s)
    if (ch != '_' && ch != '-' && ch != ' ') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  return out;
}

// tuning.cc, NCCL 2.30 (FABRIC.md), microseconds, indexed by protocol (LL, LL128, Simple).
constexpr double kRingBase_us[3] = {6.6, 14.0, 8.4};
constexpr double kTreeBase_us[3] = {6.8, 14.0, 8.4};
constexpr double kTreeNvlink_us[3] = {0.6, 1.25, 4.0};
constexpr double kRingNvlink_us[3] = {0.6, 1.9, 3.4};
constexpr double kRingNet_us[3] = {2.7, 4.0, 14.0};
constexpr double kTreeNet_us[3] = {5.0, 8.5, 14.0};  // used for rings with one rank per node
constexpr double kNvlsNvlink_us = 25.0;              // NVLS and NVLSTree Simple over NVLink
constexpr double kNvlsTreeNet_us = 20.9;             // NVLSTree Simple over the network
constexpr double kPatBase_us = 8.0;                  // PAT base (all protocols)
constexpr double kPatPerRank_us = 2.8;               // PAT's linear part, per rank
// getNetOverhead(): 1 us on x86 Intel and on other architectures (Arm), 2 us on x86 AMD; x3 for Simple.
constexpr double kNetOverheadIntel_us = 1.0, kNetOverheadAmd_us = 2.0;
// Per-generation ceilings (tuning.cc ncclTunerConstantsDefaults), GB/s, [Volta, Ampere, Hopper, Blackwell][1, 2,
// >= 4 nodes].
constexpr double kPerChNvlsTree_GBps[4][3] = {{26.5, 18.5, 10.0}, {24.0, 23.6, 17.8}, {0.0, 57.7, 45.5}, {0.0, 96.0, 80.0}};
constexpr double kPerChRingLL128_GBps[4][3] = {{20.0, 20.0, 20.0}, {20.0, 20.0, 20.0}, {36.7, 36.7, 36.7}, {40.0, 40.0, 40.0}};
constexpr double kPerChTree_GBps[4][3] = {{26.5, 18.5, 10.0}, {24.0, 23.6, 17.8}, {38.7, 41.4, 36.0}, {70.0, 42.8, 24.0}};
constexpr double kPerChTreeLL128_GBps[4][3] = {{20.0, 20.0, 20.0}, {20.0, 20.0, 20.0}, {36.7, 36.7, 29.0}, {55.6, 31.67, 20.0}};
// LL's total (llMaxBws): one node by generation (llMaxBws[compCapIndex][0]: 39, 87.7, 141, 282); across nodes by the
// hosts' CPU vendor, for 2 and > 2 nodes (tuning.cc: "for multi-node, we look at CPU type": index1 1 for AMD and mixed
// vendors, else 0): Intel and Arm the Volta row's 39.0 and 20.4, AMD the Ampere row's 22.5 and 19.0.
constexpr double kLLMaxOneNode_GBps[4] = {39.0, 87.7, 141.0, 282.0};
constexpr double kLLMaxMultiNodeIntel_GBps[2] = {39.0, 20.4};
constexpr double kLLMaxMultiNodeAmd_GBps[2] = {22.5, 19.0};
constexpr double kNvlsEff[4] = {0.0, 0.0, 0.85, 0.74};
constexpr double kNvlinkEff[4] = {20.0 / 25.0, 20.0 / 25.0, 20.6 / 25.0, 40.1 / 50.0};

int arch_index(Arch a) { return static_cast<int>(a); }

int nodes_index(int nodes) { return nodes <= 1 ? 0 : nodes == 2 ? 1 : 2; }

int log2_floor(int n) {
  int l = 0;
  while (n >>= 1) ++l;
  return l;
}

int proto_index(Proto p) { return static_cast<int>(p); }

int ring_steps(CollKind op, int n) {
  switch (op) {
    case CollKind::AllReduce: return 2 * (n - 1);
    case CollKind::AllGather:
    case CollKind::ReduceScatter: return n - 1;
    default: return n;
  }
}

}  // namespace

Arch nccl_arch(models::GpuType g) {
  switch (g) {
    case models::GpuType::A100: return Arch::Ampere;
    case models::GpuType::H100:
    case models::GpuType::H200:
    case models::GpuType::H20: return Arch::Hopper;
    case models::GpuType::B200:
    case models::GpuType::GB200:
    case models::GpuType::GB300: return Arch::Blackwell;
  }
  return Arch::Hopper;
}
const char* to_string(Arch a) {
  switch (a) {
    case Arch::Volta: return "Volta";
    case Arch::Ampere: return "Ampere";
    case Arch::Hopper: return "Hopper";
    case Arch::Blackwell: return "Blackwell";
  }
  return "?";
}
double nvlink_payload_efficiency(Arch a) { return kNvlinkEff[arch_index(a)]; }
double network_payload_efficiency(models::Transport t) {
  return t == models::Transport::Ib ? kIbPayloadEfficiency : kRoceV2PayloadEfficiency;
}
double nvls_efficiency(Arch a) { return kNvlsEff[arch_index(a)]; }

const char* to_string(Algo a) {
  switch (a) {
    case Algo::Ring: return "Ring";
    case Algo::Tree: return "Tree";
    case Algo::Nvls: return "NVLS";
    case Algo::NvlsTree: return "NVLSTree";
    case Algo::Pat: return "PAT";
  }
  return "?";
}
const char* algo_name(CollKind op, Algo a) { return op == CollKind::AllToAll || op == CollKind::SendRecv ? "P2P" : to_string(a); }
const char* to_string(Proto p) {
  switch (p) {
    case Proto::LL: return "LL";
    case Proto::LL128: return "LL128";
    case Proto::Simple: return "Simple";
  }
  return "?";
}

bool is_collective(CollKind op) {
  return op != CollKind::Send && op != CollKind::Recv && op != CollKind::Barrier;
}

CollKind parse_collective(std::string_view text) {
  const std::string c = canon(text);
  for (CollKind op : {CollKind::AllReduce, CollKind::AllGather, CollKind::ReduceScatter, CollKind::Broadcast,
                      CollKind::Reduce, CollKind::AllToAll, CollKind::SendRecv})
    if (c == common::to_string(op)) return op;
  throw InputError("collective '" + std::string(text) + "'",
                   "unknown collective; expected allreduce, allgather, reducescatter, broadcast, reduce, alltoall or "
                   "sendrecv");
}

Algo parse_algo(std::string_view text) {
  const std::string c = canon(text);
  if (c == "ring") return Algo::Ring;
  if (c == "tree") return Algo::Tree;
  if (c == "nvls") return Algo::Nvls;
  if (c == "nvlstree") return Algo::NvlsTree;
  if (c == "pat") return Algo::Pat;
  throw InputError("algorithm '" + std::string(text) + "'",
                   "unknown or unsupported algorithm; expected Ring, Tree, NVLS, NVLSTree or PAT (NCCL_ALGO names; "
                   "CollNet needs SHARP switches, not modelled)");
}

Proto parse_proto(std::string_view text) {
  const std::string c = canon(text);
  if (c == "ll") return Proto::LL;
  if (c == "ll128") return Proto::LL128;
  if (c == "simple") return Proto::Simple;
  throw InputError("protocol '" + std::string(text) + "'", "unknown protocol; expected LL, LL128 or Simple (NCCL_PROTO names)");
}

double busbw_factor(CollKind op, int n) {
  switch (op) {
    case CollKind::AllReduce: return 2.0 * (n - 1) / n;
    case CollKind::AllGather:
    case CollKind::ReduceScatter:
    case CollKind::AllToAll: return static_cast<double>(n - 1) / n;
    default: return 1.0;
  }
}

static bool splits_over_ranks(CollKind op) { return op == CollKind::AllGather || op == CollKind::ReduceScatter || op == CollKind::AllToAll; }

std::int64_t nccl_tests_count(CollKind op, double bytes, int ranks, int type_bytes) {
  const double per = static_cast<double>(type_bytes) * (splits_over_ranks(op) ? ranks : 1);
  return static_cast<std::int64_t>(std::floor(bytes / per));
}

double nccl_tests_bytes(CollKind op, std::int64_t count, int ranks, int type_bytes) {
  return static_cast<double>(count) * type_bytes * (splits_over_ranks(op) ? ranks : 1);
}

bool is_nccl_redop(std::string_view name) {
  return name == "sum" || name == "prod" || name == "max" || name == "min" || name == "avg";
}

double proto_efficiency(Proto p) {
  switch (p) {
    case Proto::LL: return 0.5;
    case Proto::LL128: return 120.0 / 128.0;
    case Proto::Simple: return 1.0;
  }
  return 1.0;
}

double ring_step_latency_s(Proto p, bool inter, const CommShape& c) {
  const int i = proto_index(p);
  if (inter) return (c.ranks_per_node == 1 ? kTreeNet_us[i] : kRingNet_us[i]) * 1e-6;
  double intra = kRingNvlink_us[i];
  const double overhead_us = c.cpu == models::CpuVendor::Amd ? kNetOverheadAmd_us : kNetOverheadIntel_us;
  if (c.nodes > 1) intra = std::max(intra, overhead_us * (p == Proto::Simple ? 3 : 1));
  return intra * 1e-6;
}

double tree_base_latency_s(Proto p) { return kTreeBase_us[proto_index(p)] * 1e-6; }
double tree_step_latency_s(Proto p, bool inter) {
  return (inter ? kTreeNet_us[proto_index(p)] : kTreeNvlink_us[proto_index(p)]) * 1e-6;
}

int nccl_net_steps(CollKind op, Algo a, const CommShape& c) {
  if (c.nodes <= 1 || a == Algo::Nvls) return 0;
  if (a == Algo::NvlsTree || a == Algo::Tree) return 2 * log2_floor(c.nodes);
  if (a == Algo::Pat) return log2_floor(c.nodes);
  if (op == CollKind::AllToAll || op == CollKind::SendRecv) return 1;
  return op == CollKind::AllReduce ? 2 * (c.nodes - 1) : c.nodes - 1;  // Broadcast, Reduce: the chain's, as AllGather
}

double chain_latency_s(Proto p, const CommShape& c) { return nccl_latency_s(CollKind::AllGather, Algo::Ring, p, c); }

double nccl_latency_s(CollKind op, Algo a, Proto p, const CommShape& c) {
  const int i = proto_index(p);
  if (a == Algo::Nvls) return kNvlsNvlink_us * 1e-6;
  if (a == Algo::NvlsTree) return (kNvlsNvlink_us + 2 * log2_floor(c.nodes) * kNvlsTreeNet_us) * 1e-6;
  if (a == Algo::Pat)  // base + log2(nNodes) x inter / 3.5 + nRanks x 2.8 (one rank per node: Tree NET latency)
    return (kPatBase_us + log2_floor(c.nodes) * (kTreeNet_us[i] / 3.5) + c.ranks * kPatPerRank_us) * 1e-6;
  if (a == Algo::Tree) {  // base + 2 ((ppn - 1) intra + log2(nNodes) inter), tuning.cc
    const double intra = kTreeNvlink_us[i];
    const double inter = kTreeNet_us[i];
    return (kTreeBase_us[i] + 2 * ((c.ranks_per_node - 1) * intra + log2_floor(c.nodes) * inter)) * 1e-6;
  }
  // p2p (no tuning entry; one base and one step, documented) and Broadcast/Reduce (tuning.cc with sameChannels: base
  // + one hop): the Ring hardware latency of the link type, without the one-rank-per-node substitution.
  if (op == CollKind::AllToAll || op == CollKind::SendRecv || op == CollKind::Broadcast || op == CollKind::Reduce)
    return (kRingBase_us[i] + (c.nodes > 1 ? kRingNet_us[i] : kRingNvlink_us[i])) * 1e-6;
  const int nsteps = ring_steps(op, c.ranks);
  const int ninter = c.nodes == 1 ? 0 : (op == CollKind::AllReduce ? 2 * (c.nodes - 1) : c.nodes - 1);
  return kRingBase_us[i] * 1e-6 + (nsteps - ninter) * ring_step_latency_s(p, false, c) +
         ninter * ring_step_latency_s(p, true, c);
}

double ll128_channel_cap_Bps(Arch a, int nodes) { return kPerChRingLL128_GBps[arch_index(a)][nodes_index(nodes)] * 1e9; }
double ll_total_cap_Bps(const CommShape& c) {
  if (c.nodes <= 1) return kLLMaxOneNode_GBps[arch_index(c.arch)] * 1e9;
  const double* row = c.cpu == models::CpuVendor::Amd ? kLLMaxMultiNodeAmd_GBps : kLLMaxMultiNodeIntel_GBps;
  return row[nodes_index(c.nodes) - 1] * 1e9;
}

double tree_channel_cap_Bps(const CommShape& c, Proto p, int channels) {
  const Arch a = c.arch;
  const int nodes = c.nodes;
  switch (p) {
    case Proto::LL: return ll_total_cap_Bps(c) / channels;
    case Proto::LL128: return kPerChTreeLL128_GBps[arch_index(a)][nodes_index(nodes)] * 1e9;
    case Proto::Simple: return kPerChTree_GBps[arch_index(a)][nodes_index(nodes)] * 1e9;
  }
  return 0;
}

static int pow2_up(int x) {
  int p = 1;
  while (p < x) p <<= 1;
  return p;
}

int p2p_net_channels_per_peer(const P2pContext& c) {
  const int p2p = pow2_up(std::max(c.channels, 1));
  if (c.forced > 0) return std::min(p2p, pow2_up(c.forced));
  if (c.nccl_minor < 20) return 2;
  int per_peer = 2;
  if (c.nccl_minor < 29) {
    while (per_peer * c.ranks > p2p * 4 && per_peer > 1) per_peer /= 2;
    return per_peer;
  }
  const int net_GBps = static_cast<int>(c.nic_line_Bps / 1e9);
  per_peer = pow2_up(std::max(1, (net_GBps + 13) / 14));
  if (c.nodes > 1)
    while (per_peer * ((c.ranks + 7) / 8) > p2p && per_peer > 1) per_peer /= 2;
  return std::min(per_peer, p2p);
}

int p2p_remote_channels(const P2pContext& c) {
  const int p2p = pow2_up(std::max(c.channels, 1));
  return std::min(p2p, std::max(c.nodes - 1, 0) * p2p_net_channels_per_peer(c));
}

int parse_nccl_minor(std::string_view text) {
  // 2.MINOR[.PATCH[-BUILD]]
  int minor = -1;
  if (text.size() > 2 && text.substr(0, 2) == "2.") {
    std::size_t i = 2;
    int v = 0;
    while (i < text.size() && i < 5 && std::isdigit(static_cast<unsigned char>(text[i]))) v = v * 10 + (text[i++] - '0');
    if (i > 2 && (i == text.size() || text[i] == '.' || text[i] == '-')) minor = v;
  }
  if (minor < 0)
    throw common::InputError(std::string(text), "expected an NCCL version such as 2.28 or 2.29.2");
  if (minor < 12 || minor > 40)
    throw common::InputError(std::string(text), "NCCL versions 2.12 to 2.40 are modelled (2.12 brought PXN)");
  return minor;
}

static int btree_parent(int n, int i) {
  if (i == 0) return -1;
  int bit = 1;
  while (bit < n && !(bit & i)) bit <<= 1;
  const int up = (i ^ bit) | (bit << 1);
  return up < n ? up : (i ^ bit);
}

int dtree_parent(int n, int i, int t) {
  if (t == 0) return btree_parent(n, i);
  if (n % 2 == 1) {
    const int u = btree_parent(n, (i - 1 + n) % n);
    return u < 0 ? -1 : (u + 1) % n;
  }
  const int u = btree_parent(n, n - 1 - i);
  return u < 0 ? -1 : n - 1 - u;
}

// The per-rank ring bandwidth (NCCL's busBw) this fabric offers: NVLink carries every ring edge of a GPU; each GPU's
// NIC carries the edges that leave its node.
static double ring_bus_Bps(const CommShape& c) {
  double bw = std::numeric_limits<double>::infinity();
  // Rail-aligned rings (emit_ring.cpp) hand the edge that leaves a node over NVLink too: every GPU sends one edge per
  // channel over NVLink, within a node or across.
  if (c.ranks_per_node > 1) bw = c.nvlink_Bps;
  if (c.nodes > 1) bw = std::min(bw, c.nic_Bps * c.ranks_per_node);
  return bw;
}

double nccl_model_algbw_Bps(CollKind op, Algo a, Proto p, const CommShape& c, int channels) {
  if (a == Algo::Nvls) {
    // NVLS: one NVSwitch domain, AllReduce, Simple, >= 2 channels (tuning.cc); busBw = 2 x bwIntra x efficiency x
    // (nCh - 1) / nCh, algbw = busBw x n / nsteps.
    const double eff = nvls_efficiency(c.arch);
    if (op != CollKind::AllReduce || p != Proto::Simple || !c.nvswitch || eff == 0 || c.nodes != 1 || channels < 2 ||
        c.ranks < 2)
      return 0;
    const double bus = 2 * c.nvlink_Bps * eff * (channels - 1) / channels;
    return bus * c.ranks / ring_steps(op, c.ranks);
  }
  if (a == Algo::NvlsTree) {
    // NVLS inside each node, a tree of NICs across: AllReduce, Simple, > 1 node, >= 2 channels. busBw = min(NVLS
    // intra x 2, the node's NICs (x 2 for 2 nodes), nCh x perChMaxNVLSTreeBw); algbw = busBw x n / nsteps.
    const double eff = nvls_efficiency(c.arch);
    if (op != CollKind::AllReduce || p != Proto::Simple || !c.nvswitch || eff == 0 || c.nodes < 2 || channels < 2)
      return 0;
    const double intra = 2 * c.nvlink_Bps * eff * (channels - 1) / channels;
    const double inter = c.nic_Bps * c.ranks_per_node * (c.nodes <= 2 ? 2 : 1);
    const double bus =
        std::min({intra, inter, channels * kPerChNvlsTree_GBps[arch_index(c.arch)][nodes_index(c.nodes)] * 1e9});
    return bus * c.ranks / ring_steps(op, c.ranks);
  }
  double bus = ring_bus_Bps(c);
  if (a == Algo::Pat) {
    // PAT: AllGather and ReduceScatter with one rank per node, Simple; busBw x 0.75, no algbw conversion (tuning.cc).
    if ((op != CollKind::AllGather && op != CollKind::ReduceScatter) || p != Proto::Simple || c.ranks_per_node != 1 || c.nodes < 2)
      return 0;
    return bus * kPatEfficiency;
  }
  if (a == Algo::Tree) {
    // Tree: AllReduce across nodes only (here); busBw x 0.92 and per-channel ceilings; algbw = busBw / 2.
    if (op != CollKind::AllReduce || c.nodes < 2) return 0;
    bus = std::min(bus * 0.92, channels * tree_channel_cap_Bps(c, Proto::Simple, channels));
    if (p == Proto::LL) bus = std::min(bus / 3.8, ll_total_cap_Bps(c));
    if (p == Proto::LL128)
      bus = std::min(bus * 120.0 / 128.0, channels * tree_channel_cap_Bps(c, p, channels));
    return bus * 0.5;
  }
  if (p == Proto::LL) bus = std::min(ll_total_cap_Bps(c), bus * 0.5);
  if (p == Proto::LL128) bus = std::min(bus * 0.92, channels * ll128_channel_cap_Bps(c.arch, c.nodes));
  if (op == CollKind::AllToAll || op == CollKind::SendRecv || op == CollKind::Broadcast || op == CollKind::Reduce) return bus;
  return bus * c.ranks / ring_steps(op, c.ranks);
}

Choice choose(CollKind op, double bytes, const CommShape& c, int channels, const Algo* force_algo, const Proto* force_proto) {
  Choice best{Algo::Ring, Proto::Simple};
  double best_t = std::numeric_limits<double>::infinity();
  const bool p2p = op == CollKind::AllToAll || op == CollKind::SendRecv;
  for (Algo a : {Algo::Ring, Algo::Tree, Algo::Nvls, Algo::NvlsTree, Algo::Pat}) {
    if (force_algo && *force_algo != a) continue;
    if (p2p && a != Algo::Ring) continue;
    for (Proto p : {Proto::LL, Proto::LL128, Proto::Simple}) {
      if (force_proto && *force_proto != p) continue;
      if (p2p && p != Proto::Simple && !force_proto) continue;  // NCCL's p2p uses Simple (LL for tiny sizes)
      const double bw = nccl_model_algbw_Bps(op, a, p, c, channels);
      if (bw <= 0) continue;
      const double t = nccl_latency_s(op, a, p, c) + bytes / bw;
      if (t < best_t) {
        best_t = t;
        best = {a, p};
      }
    }
  }
  if (!std::isfinite(best_t)) {
    std::string what = std::string(to_string(op)) + " on " + std::to_string(c.ranks) + " ranks in " +
                       std::to_string(c.nodes) + " NVLink domain(s)";
    if (force_algo) what += " with NCCL_ALGO=" + std::string(to_string(*force_algo));
    if (force_proto) what += " with NCCL_PROTO=" + std::string(to_string(*force_proto));
    throw InputError("", what + ": NCCL has no such algorithm here (NVLS needs a Hopper or later GPU and an AllReduce "
                           "with Simple inside one NVSwitch domain and at least 2 channels; NVLSTree and Tree an AllReduce across NVLink "
                           "domains; PAT an AllGather or ReduceScatter with one rank per domain)");
  }
  return best;
}

}  // namespace collemu::collectives
