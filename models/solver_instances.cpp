#include "models/solver_instances.hpp"

#include <random>

#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/router.hpp"

namespace collemu::models {

SolverInstance fat_tree_all_to_all(std::uint32_t k, std::uint64_t seed) {
  // k = 24 gives 3,456 hosts and 11.9M flows (about 70M entries, 2-3 GB); beyond that the instance outgrows memory.
  if (k < 2 || k % 2 != 0 || k > 24)
    throw common::InputError("fat-tree k = " + std::to_string(k), "expected an even k from 2 to 24");
  auto config = FabricConfig::from_preset("fat-tree");
  config.set("fat_tree.k", std::to_string(k), "fat_tree_all_to_all");
  const Fabric fabric = build_fabric(config);
  const Router router(fabric);
  SolverInstance out;
  std::vector<solver::LinkIndex> index(fabric.num_links(), ~0u);
  for (LinkId l = 0; l < fabric.num_links(); ++l)
    if (fabric.link(l).tier != LinkTier::HostNic) {
      index[l] = out.problem.add_link(1.0);
      out.fabric_link.push_back(l);
    }
  const NodeId hosts = k * k * k / 4;
  const std::size_t flows = std::size_t{hosts} * (hosts - 1);
  out.problem.reserve(out.fabric_link.size(), flows, flows * 6);
  std::mt19937_64 rng(seed);
  Route route;
  std::vector<solver::LinkIndex> links;
  std::vector<double> coefficients;
  for (NodeId s = 0; s < hosts; ++s)
    for (NodeId d = 0; d < hosts; ++d) {
      if (s == d) continue;
      router.route({s, d, static_cast<std::uint32_t>(rng())}, route);
      links.clear();
      coefficients.clear();
      for (std::size_t i = 0; i < route.size(); ++i)
        if (index[route.links[i]] != ~0u) {
          links.push_back(index[route.links[i]]);
          coefficients.push_back(route.coefficients[i]);
        }
      out.problem.add_flow(1.0, solver::kNoCap, links, coefficients);
    }
  return out;
}

}  // namespace collemu::models
