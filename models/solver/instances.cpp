#include "models/solver/instances.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace collemu::models::solver {

RateProblem random_rate_problem(std::uint64_t seed, int links, int flows) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> cap(1, 100), coef(0.05, 1), w(0.5, 4), u(0, 1);
  RateProblem p;
  for (int l = 0; l < links; ++l) p.add_link(cap(rng));
  for (int f = 0; f < flows; ++f) {
    const int k = 1 + static_cast<int>(rng() % 5);
    std::vector<LinkIndex> ls;
    while (static_cast<int>(ls.size()) < std::min(k, links)) {
      const auto l = static_cast<LinkIndex>(rng() % static_cast<std::uint64_t>(links));
      if (std::find(ls.begin(), ls.end(), l) == ls.end()) ls.push_back(l);
    }
    std::vector<double> a(ls.size());
    for (auto& x : a) x = u(rng) < 0.5 ? 1.0 : coef(rng);
    p.add_flow(w(rng), u(rng) < 0.3 ? cap(rng) / 4 : kNoCap, ls, a);
  }
  return p;
}

RateProblem fat_tree_all_to_all_problem(std::uint32_t k, std::uint64_t seed) {
  if (k < 2 || k % 2 != 0 || k > 24)
    throw SolverInputError("fat-tree k = " + std::to_string(k) + ": expected an even k from 2 to 24");
  const std::uint32_t half = k / 2, hosts = k * k * k / 4, edges = k * k / 2, aggs = k * k / 2;
  const std::uint32_t hosts_per_pod = half * half;
  // Link ids: access up/down per host; edge-agg up/down per (edge, agg of its pod); agg-core up/down per (agg, core
  // of its group). Capacity 1 each.
  const LinkIndex access = 0, edge_agg = access + 2 * hosts, agg_core = edge_agg + 2 * edges * half;
  const LinkIndex total = agg_core + 2 * aggs * half;
  RateProblem p;
  const std::size_t flows = std::size_t{hosts} * (hosts - 1);
  p.reserve(total, flows, flows * 6);
  for (LinkIndex l = 0; l < total; ++l) p.add_link(1.0);
  auto up_access = [&](std::uint32_t h) { return access + 2 * h; };
  auto up_edge_agg = [&](std::uint32_t e, std::uint32_t a) { return edge_agg + 2 * (e * half + a); };
  auto up_agg_core = [&](std::uint32_t g, std::uint32_t c) { return agg_core + 2 * (g * half + c); };
  std::mt19937_64 rng(seed);
  std::vector<LinkIndex> path;
  const std::vector<double> ones(6, 1.0);
  for (std::uint32_t s = 0; s < hosts; ++s)
    for (std::uint32_t d = 0; d < hosts; ++d) {
      if (s == d) continue;
      const std::uint32_t se = s / half, de = d / half;                  // edge switches
      const std::uint32_t sp = s / hosts_per_pod, dp = d / hosts_per_pod;  // pods
      path.assign({up_access(s)});
      if (se != de) {
        const auto a = static_cast<std::uint32_t>(rng() % half);  // aggregation switch (index within the pod)
        path.push_back(up_edge_agg(se, a));
        if (sp != dp) {
          const auto c = static_cast<std::uint32_t>(rng() % half);  // core switch of aggregation a's group
          path.push_back(up_agg_core(sp * half + a, c));
          path.push_back(up_agg_core(dp * half + a, c) + 1);
        }
        path.push_back(up_edge_agg(de, a) + 1);
      }
      path.push_back(up_access(d) + 1);
      p.add_flow(1.0, kNoCap, path, std::span<const double>(ones.data(), path.size()));
    }
  return p;
}

}  // namespace collemu::models::solver
