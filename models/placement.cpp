#include "models/placement.hpp"

#include <string>

#include "common/error.hpp"

namespace collemu::models {

using common::InputError;

Placement parse_placement(std::string_view text) {
  if (text == "packed") return Placement::Packed;
  if (text == "spread") return Placement::Spread;
  throw InputError("placement '" + std::string(text) + "'", "expected packed or spread");
}

const char* to_string(Placement p) { return p == Placement::Packed ? "packed" : "spread"; }

std::vector<NodeId> place_ranks(const FabricLayout& L, int ranks, Placement placement) {
  const std::string where = std::to_string(ranks) + " ranks";
  const std::int64_t n_gpus = std::int64_t{L.gpus_per_building} * static_cast<std::int64_t>(L.buildings.size());
  if (ranks < 1) throw InputError(where, "expected at least 1 rank");
  if (ranks > n_gpus) throw InputError(where, "more ranks than the fabric's " + std::to_string(n_gpus) + " GPUs");
  const std::uint32_t dom = L.gpus_per_domain;
  const std::uint32_t nb = static_cast<std::uint32_t>(L.buildings.size());
  const std::uint32_t domains_per_building = L.gpus_per_building / dom;
  std::vector<NodeId> gpu(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    if (placement == Placement::Packed) {
      gpu[r] = static_cast<NodeId>(r);
      continue;
    }
    const std::uint32_t j = static_cast<std::uint32_t>(r) / dom, local = static_cast<std::uint32_t>(r) % dom;
    const std::uint32_t b = j % nb, d = j / nb;
    if (d >= domains_per_building)
      throw InputError(where, "spread placement needs " + std::to_string(d + 1) + " NVLink domains in building " +
                                  std::to_string(b) + ", which has " + std::to_string(domains_per_building));
    gpu[r] = L.buildings[b].gpu_base + d * dom + local;
  }
  return gpu;
}

}  // namespace collemu::models
