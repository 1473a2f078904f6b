// Fabric: the graph of an AI backend network. Nodes are GPUs, NICs, NVSwitch domains and switches; links are
// directed (a full-duplex cable is two links) with a capacity in bytes per second and a latency in seconds.
//
// The builder (builder.hpp) lays nodes out in structured blocks and records that structure in FabricLayout,
// so that the router finds paths from arithmetic on the layout instead of enumerating node pairs: memory stays
// linear in GPUs. Out-links of every node are kept sorted by destination (CSR), so "the link from u to v" is a
// binary search and "the links from u into a block of nodes" is one contiguous range.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <span>
#include <string>
#include <vector>

namespace collemu::models {

using NodeId = std::uint32_t;
using LinkId = std::uint32_t;
inline constexpr NodeId kNoNode = ~NodeId{0};
inline constexpr LinkId kNoLink = ~LinkId{0};

enum class NodeKind : std::uint8_t { Gpu, Nic, NvSwitch, Leaf, EdgeLeaf, FabricElement, Spine, SuperSpine, Bag };
// Link tiers, bottom up. Every link has a tier and a direction (up: away from the GPUs).
enum class LinkTier : std::uint8_t { NvLink, HostNic, Access, L1L2, EdgeFabric, L2L3, Bag, InterRegion };
enum class BuildingKind : std::uint8_t { Dsf, Nsf };

const char* to_string(NodeKind k);
const char* to_string(LinkTier t);
const char* to_string(BuildingKind k);
inline constexpr int kNumLinkTiers = 8;
inline constexpr int kNumNodeKinds = 9;

struct Node {
  NodeKind kind;
  std::uint8_t plane;      // fabric plane (switches of a building fabric and BAG switches); 0 otherwise
  std::uint16_t region;
  std::uint16_t building;  // within the region; 0 for BAG switches
  std::uint32_t index;     // within its block (GPU/NIC: within the building)
  std::uint32_t group;     // NSF 3 tiers: pod of a leaf or spine, spine group of a super-spine
};

struct Link {
  NodeId src;
  NodeId dst;
  double capacity_Bps;
  double latency_s;
  LinkTier tier;
  bool up;      // direction: true when it leads away from the GPUs
  bool failed;  // set by Fabric::fail_*; failed links carry nothing and are avoided by routing
};

// One plane of one building's fabric. Node ids in each block are contiguous: block_base + index.
struct PlaneLayout {
  NodeId leaf_base = kNoNode;  // host leaves (NIC-facing)
  std::uint32_t n_leaves = 0;
  NodeId edge_base = kNoNode;  // DSF edge leaves (BAG-facing)
  std::uint32_t n_edges = 0;
  NodeId mid_base = kNoNode;   // DSF fabric elements, or NSF spines (pod-major for 3 tiers)
  std::uint32_t n_mid = 0;
  std::uint32_t spines_per_pod = 0;  // NSF: spines per pod (2 tiers: all spines, one pod)
  std::uint32_t leaves_per_pod = 0;  // NSF
  std::uint32_t n_pods = 0;          // NSF
  NodeId super_base = kNoNode;       // NSF 3 tiers: super-spines, group-major (group = pod spine index)
  std::uint32_t supers_per_group = 0;
  NodeId top_base = kNoNode;  // the nodes that link to the BAG: DSF edge leaves, NSF spines or supers
  std::uint32_t n_top = 0;
};

struct BuildingLayout {
  std::uint16_t region = 0;
  std::uint16_t building = 0;  // within the region
  BuildingKind kind = BuildingKind::Dsf;
  int nsf_tiers = 0;
  NodeId gpu_base = 0;  // GPUs of the building: gpu_base .. gpu_base + n_gpus - 1
  std::uint32_t n_gpus = 0;
  NodeId nic_base = 0;  // NIC of GPU gpu_base + i is nic_base + i / FabricLayout::gpus_per_nic
  std::uint32_t n_nics = 0;
  NodeId nvs_base = kNoNode;  // NVSwitch of domain d is nvs_base + d (none when scale-up is 1 GPU)
  std::uint32_t leaf_ports = 0;  // NIC-facing ports per host leaf
  std::vector<PlaneLayout> planes;
};

struct RegionLayout {
  NodeId bag_base = kNoNode;  // BAG switch i of the region is bag_base + i; plane = i / bag_per_plane
  std::uint32_t n_bag = 0;
  std::uint32_t first_building = 0;  // index into FabricLayout::buildings
  std::uint32_t n_buildings = 0;
};

enum class PortSelect : std::uint8_t { Spray, Hash };
enum class EcmpHash : std::uint8_t { FiveTuple, QueuePair };
// How an NSF building's switches choose among equal-cost spines (nsf.routing): one by hash, or adaptive routing
// (InfiniBand AR), modelled as every flow spread evenly over all live choices.
enum class NsfRouting : std::uint8_t { Ecmp, Adaptive };
enum class BagWiring : std::uint8_t { Planar, Spread };
enum class Attach : std::uint8_t { Rack, Rail };
// The backend network's transport (nic.transport): what share of a network link's line rate carries payload
// (collectives::network_payload_efficiency).
enum class Transport : std::uint8_t { Roce, Ib };
// The hosts' CPU vendor (host.cpu): NCCL's tuning across nodes reads it (collectives::ll_total_cap_Bps, the network
// post overhead).
enum class CpuVendor : std::uint8_t { Intel, Amd, Arm };
// The GPU of every scale-up domain (key gpu.type): what the fabric needs of it is the NVLink bandwidth default
// (gpu_nvlink_default below); NCCL's per-generation constants are looked up from it in collectives/.
enum class GpuType : std::uint8_t { A100, H100, H200, H20, B200, GB200, GB300 };
const char* to_string(GpuType g);
// Parses a gpu.type value ("a100", "h100", ...); nullopt for anything else.
std::optional<GpuType> parse_gpu_type(std::string_view text);
// NVLink bandwidth per GPU per direction, B/s, of the GPU's SXM/NVL part (NVIDIA datasheets): A100 NVLink3, 12 links
// x 25 GB/s = 300 GB/s; H100, H200 and H20 NVLink4, 18 x 25 = 450 GB/s; B200, GB200 and GB300 NVLink5, 18 x 50 =
// 900 GB/s.
double gpu_nvlink_default_Bps(GpuType g);

struct FabricLayout {
  std::string name;             // preset or file it was built from
  std::uint32_t gpus_per_domain = 1;  // scale-up domain size
  GpuType gpu = GpuType::H100;        // gpu.type
  // Achieved shares of the payload rates collectives see (nic.efficiency on every network tier, scaleup.efficiency on
  // NVLink; collectives::payload_efficiency): the links keep their line rates.
  double nic_efficiency = 1, scaleup_efficiency = 1;
  Transport transport = Transport::Roce;  // nic.transport
  CpuVendor cpu = CpuVendor::Intel;       // host.cpu
  // Latency added to what collectives model (nccl.extra_latency per collective or transfer, nccl.extra_hop_latency per
  // network step on its critical path; collectives::CollPlan::extra_latency_s), s.
  double extra_latency_s = 0, extra_hop_latency_s = 0;
  // gpu.compute_time: every compute duration of a replayed trace times this (emulator::Job::compute_scale).
  double compute_time = 1;
  std::uint32_t planes = 1;
  std::uint32_t nic_ports = 1;  // per NIC; port k is on plane k % planes
  std::uint32_t gpus_per_nic = 1;  // GPUs sharing one NIC (nic.gpus_per_nic), all in one scale-up domain
  Attach attach = Attach::Rack;
  PortSelect port_select = PortSelect::Spray;
  EcmpHash ecmp_hash = EcmpHash::QueuePair;
  NsfRouting nsf_routing = NsfRouting::Ecmp;
  std::uint64_t hash_seed = 1;  // routing.hash_seed: 1 leaves every hash as the flow key alone makes it
  BagWiring wiring = BagWiring::Planar;
  bool has_bag = false;
  std::uint32_t gpus_per_building = 0;
  std::vector<BuildingLayout> buildings;  // region-major
  std::vector<RegionLayout> regions;
  // Configured ratios, kept only to report them next to what is measured.
  double configured_bag_oversubscription = 0;
};

class Fabric {
 public:
  // Throws common::InputError when the fabric outgrows 32-bit node or link ids.
  NodeId add_node(const Node& n);
  // Adds a cable: lower->upper (id, up) and upper->lower (id + 1, down), so a link's reverse is id ^ 1.
  // `lower` is the end nearer the GPUs. The CSR index is built by finalize().
  LinkId add_duplex(NodeId lower, NodeId upper, double capacity_Bps, double latency_s, LinkTier tier);
  static LinkId reverse(LinkId id) { return id ^ 1u; }
  // Builds the sorted out-link index. Must be called once after the last add_duplex.
  void finalize();

  std::size_t num_nodes() const { return nodes_.size(); }
  std::size_t num_links() const { return links_.size(); }
  const Node& node(NodeId id) const { return nodes_[id]; }
  const Link& link(LinkId id) const { return links_[id]; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Link>& links() const { return links_; }

  // Out-links of u, sorted by destination node id.
  std::span<const LinkId> out_links(NodeId u) const {
    return {out_ids_.data() + out_begin_[u], out_ids_.data() + out_begin_[u + 1]};
  }
  // The live-or-failed link u->v, or kNoLink.
  LinkId find_link(NodeId u, NodeId v) const;
  // The same, trying position `hint` of u's sorted out-links first (O(1) when the caller knows the layout).
  LinkId find_link(NodeId u, NodeId v, std::size_t hint) const {
    const std::uint64_t i = out_begin_[u] + hint;
    if (i < out_begin_[u + 1] && out_dst_[i] == v) return out_ids_[i];
    return find_link(u, v);
  }
  // Out-links of u whose destination lies in [first, first + count).
  std::span<const LinkId> out_links_to(NodeId u, NodeId first, std::uint32_t count) const;

  // Names: "r0.b1.gpu17", "r0.b0.p2.leaf5", "r0.b1.p0.pod3.spine2", "r0.b1.p0.ss2.1", "r0.bag7"; links "A->B".
  std::string node_name(NodeId id) const;
  std::string link_name(LinkId id) const;
  NodeId find_node(std::string_view name) const;  // kNoNode when absent

  // Failures (a what-if, applied before a Router is made) of the scale-out network: a cable fails both
  // directions; a switch fails all of its cables. Scale-up (NVLink) and GPU-NIC links do not fail here.
  void fail_link(LinkId id);
  void fail_node(NodeId id);
  // "NAME" (a switch) or "A->B" (every cable between two adjacent nodes). Throws common::InputError naming the
  // text when nothing matches or the target cannot fail.
  void fail(std::string_view spec);
  std::size_t num_failed_links() const { return failed_; }

  FabricLayout layout;

  // Bytes of memory held by the graph and its index (for the benchmark).
  std::size_t memory_bytes() const;

 private:
  LinkId add_link(NodeId src, NodeId dst, double capacity_Bps, double latency_s, LinkTier tier, bool up);

  std::vector<Node> nodes_;
  std::vector<Link> links_;
  std::vector<std::uint64_t> out_begin_;  // size nodes + 1
  std::vector<LinkId> out_ids_;
  std::vector<NodeId> out_dst_;  // destination of out_ids_[i], for searches
  std::size_t failed_ = 0;
  bool finalized_ = false;
};

}  // namespace collemu::models
