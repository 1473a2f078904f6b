// Network: the one small interface between the collectives and a fabric. What NCCL's algorithms need to know about
// the network, and nothing of how it is built:
//   - GPUs, their NVLink (scale-up) domains and their local index in a domain;
//   - the path set of a flow (source GPU, destination GPU, optionally through a third GPU, with a QP number and a
//     RoCE UDP source port): the flow engine's links it loads, each with its share, and its mean latency;
//   - each GPU's NVLink links (up to its NVSwitch, down from it) and per-GPU payload bandwidths (NVLink, NIC);
//   - the engine links' capacities (payload rates: the line rate times the caller's payload efficiency of the tier)
//     and their tiers.
// Engine links are the fabric's links merged into LinkGroups (link_groups.hpp): exact, fewer constraints and entries.
// A Network is made once per fabric (it builds the Router and the groups) and is read-only afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "models/fabric.hpp"
#include "models/link_groups.hpp"
#include "models/router.hpp"
#include "models/solver/flow_engine.hpp"
#include "models/solver/rate_problem.hpp"

namespace collemu::models {

using EngineLink = solver::LinkIndex;

// A flow's path set on the engine's links.
struct PathSet {
  std::vector<EngineLink> links;
  std::vector<double> shares;  // in (0, 1], one per link
  double latency_s = 0;        // share-weighted mean latency of the path set (both legs, through a GPU)
};

class Network {
 public:
  // `payload_efficiency[t]`: the share of a link of tier t's line rate that carries payload, in (0, 1].
  // `group_links` false: engine links are the fabric's links, one each (LinkGroups), so that networks of one fabric
  // before and after a failure number their links alike (failures at a time).
  Network(const Fabric& fabric, const std::array<double, kNumLinkTiers>& payload_efficiency, bool group_links = true);

  const Fabric& fabric() const { return fabric_; }
  const std::array<double, kNumLinkTiers>& payload_efficiency() const { return efficiency_; }
  // Engine links are the fabric's links (no groups): see the constructor.
  bool one_link_per_fabric_link() const { return !grouped_; }
  std::size_t num_gpus() const;
  std::uint32_t gpus_per_domain() const { return fabric_.layout.gpus_per_domain; }
  std::uint32_t domain_of(NodeId gpu) const { return gpu / gpus_per_domain(); }
  std::uint32_t local_index(NodeId gpu) const { return gpu % gpus_per_domain(); }
  NodeId gpu_at(std::uint32_t domain, std::uint32_t local) const { return domain * gpus_per_domain() + local; }
  // The GPU through which `src` reaches `dst`'s rail when they are in different domains (PXN: the GPU of src's domain
  // with dst's local index; when GPUs share NICs, the first GPU of src's domain on dst's NIC index, or src itself when
  // it is on that NIC), or kNoNode when no hand-over is needed (same domain, or no NVLink).
  NodeId rail_proxy(NodeId src, NodeId dst) const;

  // The path set of the flow src -> dst (through `via` over NVLink first when given and not src), QP `qp`, UDP source
  // port `udp_sport`. Throws RouteError when failures cut the pair.
  void path(NodeId src, NodeId dst, std::uint32_t qp, std::uint32_t udp_sport, PathSet& out,
            NodeId via = kNoNode) const;
  // Only the mean latency of that path set, s.
  double path_latency_s(NodeId src, NodeId dst, std::uint32_t qp, std::uint32_t udp_sport, NodeId via = kNoNode) const;

  // A GPU's link up to its NVSwitch and down from it (engine links) with their latencies; `found` false when the GPU
  // has no NVLink.
  struct NvLinks {
    bool found = false;
    EngineLink up = 0, down = 0;
    double up_latency_s = 0, down_latency_s = 0;
  };
  NvLinks nvlinks(NodeId gpu) const;
  // Payload bandwidth of a GPU into its NVLink domain and of its NIC, B/s (0: none); GPUs that share a NIC get their
  // share of it (the NIC's rate / nic.gpus_per_nic).
  double nvlink_Bps(NodeId gpu) const;
  double nic_Bps(NodeId gpu) const;

  std::size_t num_links() const { return groups_.num_groups(); }
  const std::vector<double>& capacities() const { return groups_.capacities(); }
  double capacity_Bps(EngineLink l) const { return groups_.capacity_Bps(l); }
  LinkTier tier(EngineLink l) const { return fabric_.link(groups_.representative(l)).tier; }
  // Whether it leads away from the GPUs (every link of a group has the same direction).
  bool up(EngineLink l) const { return fabric_.link(groups_.representative(l)).up; }
  // A fabric link of the group, for its name.
  LinkId representative(EngineLink l) const { return groups_.representative(l); }

  // Proposes to `engine` (before its first flow) the links whose constraint the host links of the NICs imply
  // (FlowEngine::guard; the engine takes what the capacities allow and checks every flow): each NIC port, over which
  // the NIC's flows are sprayed evenly (1/ports of each), by the NIC's host links; and on a DSF plane, a leaf's merged
  // group of links to the fabric elements (and from them) by the host links of the NICs on the leaf, whose flows cross
  // it with the same 1/ports. A port that hashes (nic.port_select: hash), a failed port, a leaf above 1:1 or host links
  // faster than the ports: the engine refuses the proposal or puts the link back, and the link constrains. Returns
  // the number of links the engine took.
  std::size_t propose_guards(solver::FlowEngine& engine) const;

 private:
  const Fabric& fabric_;
  std::array<double, kNumLinkTiers> efficiency_;
  bool grouped_;
  Router router_;
  std::vector<double> payload_Bps_;  // per fabric link
  LinkGroups groups_;
  mutable Route route_, combined_;  // scratch (a Network is used by one thread at a time)
};

}  // namespace collemu::models
