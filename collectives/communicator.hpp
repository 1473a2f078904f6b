// Communicator: the ranks of one NCCL communicator, as an explicit list of GPUs (rank r runs on gpus[r]), and the
// order in which NCCL's rings and trees visit them.
//
// The ordering rule, as NCCL builds it (NCCL 2.28-2.30):
//   - nodes (here: NVLink domains) are numbered in the order of their lowest rank: src/init.cc, initTransportsRank,
//     walks the ranks 0..n-1 and gives each new node the next index (comm->rankToNode);
//   - inside a node, the ranks are visited in the order of their GPUs in the node's topology: the topology search
//     (src/graph/search.cc, ncclTopoSearchNextGpuSort) tries the GPUs after the current one in index order, and on an
//     NVSwitch every GPU is as close as any other, so rings and chains follow the local GPU index (PCI order), not
//     the rank numbers;
//   - rings cross the nodes in node order (src/graph/connect.cc, connectRings: node i's last rank sends to node
//     i+1's first), and the double binary tree is built over node indices (ncclGetDtree, src/graph/trees.cc).
// So a data-parallel group of every 128th GPU, or a group whose ranks are numbered against the GPU order, gets the
// rings NCCL would give it. Channels rotate the order inside each node (the emitters' business).
#pragma once

#include <vector>

#include "collectives/nccl.hpp"
#include "models/network.hpp"

namespace collemu::collectives {

class Communicator {
 public:
  // Throws common::InputError for no GPU, a GPU the network does not have, or the same GPU twice.
  Communicator(const models::Network& network, std::vector<models::NodeId> gpus);

  const models::Network& network() const { return *net_; }
  int size() const { return static_cast<int>(gpu_.size()); }
  models::NodeId gpu(int rank) const { return gpu_[rank]; }
  const std::vector<models::NodeId>& gpus() const { return gpu_; }
  // Nodes (NVLink domains) in NCCL's order, and each rank's node.
  int nodes() const { return static_cast<int>(node_ranks_.size()); }
  int node_of(int rank) const { return static_cast<int>(node_of_rank_[rank]); }
  // The ranks of node i in NCCL's intra-node order (by local GPU index).
  const std::vector<int>& node_ranks(int node) const { return node_ranks_[node]; }
  const CommShape& shape() const { return shape_; }
  // NCCL's default channel count here (an assumption, documented in docs/collectives.md): 16 inside one node, two
  // per NIC (2 x ranks per node) across nodes, at most 32.
  int default_channels() const;

 private:
  const models::Network* net_;
  std::vector<models::NodeId> gpu_;          // per rank
  std::vector<std::uint32_t> node_of_rank_;  // dense node index per rank
  std::vector<std::vector<int>> node_ranks_;
  CommShape shape_;
};

}  // namespace collemu::collectives
