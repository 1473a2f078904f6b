// One NCCL collective on a fabric, as nccl-tests would run it: ranks placed on the fabric's GPUs, the algorithm
// and protocol NCCL's model picks (or the ones forced), its flows run by the FlowEngine, and nccl-tests' figures.
//
// Flows (DESIGN.md §4): a ring has one flow per edge, channel and QP. *Pipelined*: each flow carries its whole
// share of the collective (AllReduce 2(n-1)/n of the size per channel) and all start together after NCCL's modelled
// latency. *Step*: each of the ring's steps is a flow of one chunk that waits for the chunk its sender received in
// the step before, with NCCL's per-step latency (intra- or inter-node). Bytes on the wire are payload over the
// protocol's efficiency; LL and LL128 also have NCCL's per-channel ceilings as rate caps. Link capacities are
// their payload rates: NVLink at NCCL's 20.6 of 25 GB/s, Ethernet at RoCEv2's 4096 of 4178 bytes.
// AllToAll is a send and a receive to every peer; a peer in another NVLink domain is reached with PXN: over NVLink
// to the GPU on the destination's rail (same local index), then that GPU's NIC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collectives/nccl.hpp"
#include "models/fabric.hpp"
#include "models/flow_engine.hpp"
#include "models/link_groups.hpp"
#include "models/router.hpp"

namespace collemu::collectives {

enum class Granularity : std::uint8_t { Pipelined, Step };
// packed: rank i on GPU i (filling NVLink domains, then buildings, in order); spread: the job's NVLink domains
// dealt round-robin over the buildings (domain j of the job in building j mod B), so that rings cross the BAG.
enum class Placement : std::uint8_t { Packed, Spread };
Placement parse_placement(std::string_view text);
Granularity parse_granularity(std::string_view text);
const char* to_string(Placement p);
const char* to_string(Granularity g);

struct CollSpec {
  Op op = Op::AllReduce;
  double bytes = 0;  // nccl-tests' size (AllGather/ReduceScatter: the gathered size; AllToAll: per rank)
  std::optional<Algo> algo;    // NCCL_ALGO
  std::optional<Proto> proto;  // NCCL_PROTO
  int channels = 0;            // 0: NCCL's default here (see default_channels)
  int qps = 1;                 // NCCL_IB_QPS_PER_CONNECTION
  Granularity granularity = Granularity::Pipelined;
  int root = 0;                // Broadcast and Reduce
};

struct CollResult {
  Op op;
  std::int64_t count = 0;  // nccl-tests' element count (float)
  double bytes = 0;        // size moved: count x 4 (x ranks where nccl-tests splits it)
  double time_s = 0;
  double algbw_Bps = 0, busbw_Bps = 0;
  Algo algo;
  Proto proto;
  int channels = 0;
  // The tier whose busiest link was busiest (bytes carried over capacity x time) and that link's utilisation.
  models::LinkTier binding_tier = models::LinkTier::NvLink;
  double binding_utilisation = 0;
  std::size_t flows = 0;
  models::FlowEngineStats engine;
};

class Communicator {
 public:
  // Places `ranks` ranks on the fabric. Throws common::InputError when there are not enough GPUs (or domains in each
  // building for spread), naming both counts.
  Communicator(const models::Fabric& fabric, int ranks, Placement placement);
  int size() const { return static_cast<int>(gpu_.size()); }
  models::NodeId gpu(int rank) const { return gpu_[rank]; }
  const CommShape& shape() const { return shape_; }
  // NCCL's default channel count here (an assumption, documented in docs/collectives.md): 16 inside one node,
  // two per NIC (2 x ranks per node) across nodes, at most 32.
  int default_channels() const;

  // Runs one collective. Throws common::InputError for an impossible request (a forced algorithm NCCL would not
  // use here, a root out of range, non-positive channels or QPs) and models::RouteError when failures cut a pair.
  CollResult run(const CollSpec& spec, const std::string& solver = "cpu") const;

 private:
  const models::Fabric& fabric_;
  models::Router router_;
  std::vector<models::NodeId> gpu_;          // per rank
  std::vector<std::uint32_t> node_of_rank_;  // dense node (NVLink domain) index per rank
  std::vector<std::vector<int>> node_ranks_; // ranks of each node, in rank order
  CommShape shape_;
  std::vector<double> payload_Bps_;  // per link
  models::LinkGroups groups_;        // what the engine's link indices are (link_groups.hpp)
};

}  // namespace collemu::collectives
