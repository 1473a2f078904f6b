#include "collectives/communicator.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "common/error.hpp"

namespace collemu::collectives {

using common::InputError;
using models::NodeId;

Communicator::Communicator(const models::Network& network, std::vector<NodeId> gpus)
    : net_(&network), gpu_(std::move(gpus)) {
  if (gpu_.empty()) throw InputError("communicator", "no GPU; expected at least one rank");
  const std::size_t n_gpus = network.num_gpus();
  std::unordered_map<NodeId, int> seen;
  std::unordered_map<std::uint32_t, std::uint32_t> node_index;  // domain -> node, in order of first rank
  node_of_rank_.resize(gpu_.size());
  for (std::size_t r = 0; r < gpu_.size(); ++r) {
    const NodeId g = gpu_[r];
    if (g >= n_gpus)
      throw InputError("communicator rank " + std::to_string(r),
                       "GPU " + std::to_string(g) + " does not exist (the fabric has " + std::to_string(n_gpus) +
                           " GPUs)");
    if (auto [it, fresh] = seen.emplace(g, static_cast<int>(r)); !fresh)
      throw InputError("communicator rank " + std::to_string(r),
                       "GPU " + std::to_string(g) + " is rank " + std::to_string(it->second) +
                           "'s already; expected one rank per GPU");
    auto [it, fresh] = node_index.emplace(network.domain_of(g), static_cast<std::uint32_t>(node_ranks_.size()));
    if (fresh) node_ranks_.emplace_back();
    node_of_rank_[r] = it->second;
    node_ranks_[it->second].push_back(static_cast<int>(r));
  }
  // Inside a node, NCCL visits the GPUs in topology order: by local index (stable: equal indices cannot occur).
  for (auto& ranks : node_ranks_)
    std::stable_sort(ranks.begin(), ranks.end(), [&](int a, int b) {
      return network.local_index(gpu_[a]) < network.local_index(gpu_[b]);
    });
  shape_.ranks = size();
  shape_.nodes = nodes();
  for (const auto& nr : node_ranks_) shape_.ranks_per_node = std::max(shape_.ranks_per_node, static_cast<int>(nr.size()));
  shape_.nvswitch = network.gpus_per_domain() > 1;
  shape_.arch = nccl_arch(network.fabric().layout.gpu);
  shape_.cpu = network.fabric().layout.cpu;
  // Per-GPU bandwidths of rank 0's GPU, for NCCL's model.
  shape_.nvlink_Bps = network.nvlink_Bps(gpu_[0]);
  shape_.nic_Bps = network.nic_Bps(gpu_[0]);
  for (models::LinkId l : network.fabric().out_links(gpu_[0]))
    if (network.fabric().link(l).tier == models::LinkTier::HostNic)
      shape_.nic_line_Bps = network.fabric().link(l).capacity_Bps;
}

int Communicator::default_channels() const {
  if (shape_.nodes == 1) return 16;
  return std::clamp(2 * shape_.ranks_per_node, 2, 32);
}

}  // namespace collemu::collectives
