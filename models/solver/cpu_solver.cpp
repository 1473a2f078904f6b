#include "models/solver/cpu_solver.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace collemu::models::solver {

namespace {

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

std::uint64_t bits(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

}  // namespace

void CpuRateSolver::do_solve(const RateProblem& p, std::span<double> rates) {
  const std::size_t nf = p.num_flows(), nl = p.num_links();

  // 1. Merge identical flows: same links, same coefficients, same cap per unit of weight.
  var_of_flow_.assign(nf, 0);
  var_weight_.clear();
  var_cap_share_.clear();
  var_rep_.clear();
  {
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> by_hash;
    by_hash.reserve(nf);
    for (FlowIndex f = 0; f < nf; ++f) {
      const double cap_share = p.cap_Bps(f) / p.weight(f);
      auto links = p.links(f);
      auto a = p.coefficients(f);
      std::uint64_t h = mix(bits(cap_share) ^ links.size());
      for (std::size_t i = 0; i < links.size(); ++i) h = mix(h ^ (std::uint64_t{links[i]} << 32 ^ bits(a[i])));
      auto& bucket = by_hash[h];
      std::uint32_t var = ~0u;
      for (std::uint32_t v : bucket) {
        const FlowIndex g = var_rep_[v];
        if (var_cap_share_[v] == cap_share && std::ranges::equal(p.links(g), links) &&
            std::ranges::equal(p.coefficients(g), a)) {
          var = v;
          break;
        }
      }
      if (var == ~0u) {
        var = static_cast<std::uint32_t>(var_rep_.size());
        bucket.push_back(var);
        var_rep_.push_back(f);
        var_weight_.push_back(0.0);
        var_cap_share_.push_back(cap_share);
      }
      var_weight_[var] += p.weight(f);
      var_of_flow_[f] = var;
    }
  }
  const std::size_t nv = var_rep_.size();
  stats_ = {};
  stats_.variables = nv;

  // 2. Link state: remaining capacity and weight of unfrozen variables (sum of a * W).
  rem_.resize(nl);
  for (LinkIndex l = 0; l < nl; ++l) rem_[l] = p.capacity_Bps(l);
  wsum_.assign(nl, 0.0);
  nvars_.assign(nl, 0);
  for (std::uint32_t v = 0; v < nv; ++v) {
    auto links = p.links(var_rep_[v]);
    auto a = p.coefficients(var_rep_[v]);
    for (std::size_t i = 0; i < links.size(); ++i) {
      wsum_[links[i]] += a[i] * var_weight_[v];
      ++nvars_[links[i]];
    }
  }
  share_.assign(nl, 0.0);
  link_min_.assign(nl, kNoCap);
  link_active_.assign(nl, 0);
  link_bottleneck_.assign(nl, 0);
  active_links_.clear();
  for (LinkIndex l = 0; l < nl; ++l)
    if (nvars_[l] > 0) {
      link_active_[l] = 1;
      active_links_.push_back(l);
    }
  active_vars_.resize(nv);
  for (std::uint32_t v = 0; v < nv; ++v) active_vars_[v] = v;
  var_level_.assign(nv, 0.0);
  var_min_.assign(nv, 0.0);

  // 3. Rounds: every local-minimum link saturates; its unfrozen variables freeze at its share.
  while (!active_vars_.empty()) {
    ++stats_.rounds;
    for (LinkIndex l : active_links_) {
      share_[l] = rem_[l] > 0 ? rem_[l] / wsum_[l] : 0.0;
      link_min_[l] = kNoCap;
    }
    // The smallest share along each variable (its cap is a private link), then the smallest of those per link.
    for (std::uint32_t v : active_vars_) {
      double m = var_cap_share_[v];
      for (LinkIndex l : p.links(var_rep_[v])) m = std::min(m, share_[l]);
      var_min_[v] = m;
      for (LinkIndex l : p.links(var_rep_[v])) link_min_[l] = std::min(link_min_[l], m);
    }
    for (LinkIndex l : active_links_) link_bottleneck_[l] = share_[l] <= link_min_[l];
    // Freeze the variables on a bottleneck link, and those whose cap is their smallest share.
    std::size_t kept = 0;
    for (std::uint32_t v : active_vars_) {
      bool freeze = var_cap_share_[v] <= var_min_[v];
      if (!freeze)
        for (LinkIndex l : p.links(var_rep_[v]))
          if (link_bottleneck_[l]) {
            freeze = true;
            break;
          }
      if (!freeze) {
        active_vars_[kept++] = v;
        continue;
      }
      const double level = var_min_[v];
      var_level_[v] = level;
      auto links = p.links(var_rep_[v]);
      auto a = p.coefficients(var_rep_[v]);
      for (std::size_t i = 0; i < links.size(); ++i) {
        const double aw = a[i] * var_weight_[v];
        rem_[links[i]] -= aw * level;
        wsum_[links[i]] -= aw;
        --nvars_[links[i]];
      }
    }
    active_vars_.resize(kept);
    // Links whose variables are all frozen leave the active set (a bottleneck's all froze this round).
    std::size_t kept_links = 0;
    for (LinkIndex l : active_links_) {
      link_bottleneck_[l] = 0;
      if (nvars_[l] == 0) {
        link_active_[l] = 0;
        continue;
      }
      active_links_[kept_links++] = l;
    }
    active_links_.resize(kept_links);
  }
  for (FlowIndex f = 0; f < nf; ++f) rates[f] = p.weight(f) * var_level_[var_of_flow_[f]];
}

std::unique_ptr<RateSolver> make_rate_solver(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuRateSolver>();
  throw SolverInputError("unknown rate solver '" + name + "'; this build has: cpu");
}

std::vector<std::string> rate_solver_names() { return {"cpu"}; }

}  // namespace collemu::models::solver
