#include "models/solver/cpu_solver.hpp"

#include <algorithm>

namespace collemu::models::solver {

namespace {

// Remaining capacity and unfrozen weight of every link, from the variables.
void init_links(const RateProblem& p, const Variables& v, std::vector<double>& rem, std::vector<double>& wsum,
                std::vector<std::uint32_t>& nvars) {
  const std::size_t nl = p.num_links();
  rem.resize(nl);
  wsum.assign(nl, 0.0);
  nvars.assign(nl, 0);
  for (LinkIndex l = 0; l < nl; ++l) {
    rem[l] = p.capacity_Bps(l);
    for (auto i = v.link_begin[l]; i < v.link_begin[l + 1]; ++i) wsum[l] += v.link_coeff[i] * v.weight[v.link_var[i]];
    nvars[l] = static_cast<std::uint32_t>(v.link_begin[l + 1] - v.link_begin[l]);
  }
}

double share_of(double rem, double wsum) { return rem > 0 ? rem / wsum : 0.0; }

}  // namespace

void CpuRateSolver::sift_up(std::size_t i) {
  const std::uint32_t x = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!before(x, heap_[parent])) break;
    heap_[i] = heap_[parent];
    pos_[heap_[i]] = static_cast<std::uint32_t>(i);
    i = parent;
  }
  heap_[i] = x;
  pos_[x] = static_cast<std::uint32_t>(i);
}

void CpuRateSolver::sift_down(std::size_t i) {
  const std::uint32_t x = heap_[i];
  const std::size_t n = heap_.size();
  while (true) {
    std::size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(heap_[c + 1], heap_[c])) ++c;
    if (!before(heap_[c], x)) break;
    heap_[i] = heap_[c];
    pos_[heap_[i]] = static_cast<std::uint32_t>(i);
    i = c;
  }
  heap_[i] = x;
  pos_[x] = static_cast<std::uint32_t>(i);
}

void CpuRateSolver::heap_remove(std::uint32_t link) {
  const std::size_t i = pos_[link];
  pos_[link] = ~0u;
  const std::uint32_t last = heap_.back();
  heap_.pop_back();
  if (last == link) return;
  heap_[i] = last;
  pos_[last] = static_cast<std::uint32_t>(i);
  sift_up(i);
  sift_down(pos_[last]);
}

void CpuRateSolver::heap_update(std::uint32_t link) {
  sift_up(pos_[link]);
  sift_down(pos_[link]);
}

void CpuRateSolver::do_solve(const RateProblem& p, std::span<double> rates) {
  vars_.build(p);
  var_flows_.assign(vars_.size(), 0);
  for (FlowIndex f = 0; f < p.num_flows(); ++f) ++var_flows_[vars_.of_flow[f]];
  level_.assign(vars_.size(), 0.0);
  fill(p, -kNoCap, rates);
}

void CpuRateSolver::do_remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<double> rates) {
  double from = kNoCap;
  for (FlowIndex f : flows) {
    const std::uint32_t v = vars_.of_flow[f];
    from = std::min(from, level_[v]);
    vars_.weight[v] -= p.weight(f);
    if (--var_flows_[v] == 0) vars_.weight[v] = 0;  // no rounding residue on an empty variable
  }
  fill(p, from, rates);
}

void CpuRateSolver::fill(const RateProblem& p, double from_level, std::span<double> rates) {
  const std::size_t nl = p.num_links(), nv = vars_.size();
  stats_ = {};
  stats_.variables = nv;
  // State at `from_level`: variables below it stay frozen at their saved level; the others are free again.
  rem_.resize(nl);
  for (LinkIndex l = 0; l < nl; ++l) rem_[l] = p.capacity_Bps(l);
  wsum_.assign(nl, 0.0);
  nvars_.assign(nl, 0);
  frozen_.assign(nv, 0);
  for (std::uint32_t v = 0; v < nv; ++v) {
    auto links = vars_.links(v);
    auto a = vars_.coefficients(v);
    if (var_flows_[v] == 0) {
      frozen_[v] = 1;  // every flow of it has finished
      continue;
    }
    if (level_[v] < from_level) {
      frozen_[v] = 1;
      for (std::size_t i = 0; i < links.size(); ++i) rem_[links[i]] -= a[i] * vars_.weight[v] * level_[v];
      continue;
    }
    for (std::size_t i = 0; i < links.size(); ++i) {
      wsum_[links[i]] += a[i] * vars_.weight[v];
      ++nvars_[links[i]];
    }
  }
  share_.resize(nl);
  is_dirty_.assign(nl, 0);
  dirty_.clear();
  pos_.assign(nl, ~0u);
  heap_.clear();
  for (LinkIndex l = 0; l < nl; ++l)
    if (nvars_[l] > 0) {
      share_[l] = share_of(rem_[l], wsum_[l]);
      heap_.push_back(l);
      sift_up(heap_.size() - 1);
    }
  // Caps never move: one sorted list, merged with the heap.
  caps_.clear();
  for (std::uint32_t v = 0; v < nv; ++v)
    if (!frozen_[v] && vars_.cap_share[v] != kNoCap) caps_.push_back(v);
  std::sort(caps_.begin(), caps_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return vars_.cap_share[a] != vars_.cap_share[b] ? vars_.cap_share[a] < vars_.cap_share[b] : a < b;
  });
  std::size_t next_cap = 0;

  auto freeze = [&](std::uint32_t v, double level) {
    frozen_[v] = 1;
    level_[v] = level;
    auto links = vars_.links(v);
    auto a = vars_.coefficients(v);
    for (std::size_t i = 0; i < links.size(); ++i) {
      const LinkIndex m = links[i];
      const double aw = a[i] * vars_.weight[v];
      rem_[m] -= aw * level;
      wsum_[m] -= aw;
      --nvars_[m];
      if (!is_dirty_[m]) {
        is_dirty_[m] = 1;
        dirty_.push_back(m);
      }
    }
  };
  while (!heap_.empty() || next_cap < caps_.size()) {
    while (next_cap < caps_.size() && frozen_[caps_[next_cap]]) ++next_cap;
    const bool cap_first = next_cap < caps_.size() &&
                           (heap_.empty() || vars_.cap_share[caps_[next_cap]] <= share_[heap_.front()]);
    ++stats_.rounds;
    if (cap_first) {
      const std::uint32_t v = caps_[next_cap++];
      freeze(v, vars_.cap_share[v]);
    } else if (!heap_.empty()) {
      const LinkIndex l = heap_.front();
      const double level = share_[l];
      // The link's variables are scattered over the variable arrays: prefetch two steps ahead (the variable's
      // offsets, then its links and coefficients) so the misses overlap.
      const std::uint64_t b = vars_.link_begin[l], e = vars_.link_begin[l + 1];
      for (auto i = b; i < e; ++i) {
        if (i + 16 < e) {
          const std::uint32_t ahead = vars_.link_var[i + 16];
          __builtin_prefetch(&vars_.var_begin[ahead]);
          __builtin_prefetch(&frozen_[ahead]);
          __builtin_prefetch(&vars_.weight[ahead]);
        }
        if (i + 8 < e) {
          const std::uint64_t vb = vars_.var_begin[vars_.link_var[i + 8]];
          __builtin_prefetch(&vars_.var_link[vb]);
          __builtin_prefetch(&vars_.var_coeff[vb]);
        }
        if (!frozen_[vars_.link_var[i]]) freeze(vars_.link_var[i], level);
      }
    } else {
      break;  // only frozen caps were left
    }
    for (LinkIndex m : dirty_) {
      is_dirty_[m] = 0;
      if (nvars_[m] == 0) {
        heap_remove(m);
        continue;
      }
      share_[m] = share_of(rem_[m], wsum_[m]);
      heap_update(m);
    }
    dirty_.clear();
  }
  for (FlowIndex f = 0; f < p.num_flows(); ++f) rates[f] = alive_[f] ? p.weight(f) * level_[vars_.of_flow[f]] : 0.0;
}

void RoundsRateSolver::do_solve(const RateProblem& p, std::span<double> rates) {
  vars_.build(p);
  const std::size_t nl = p.num_links(), nv = vars_.size();
  stats_ = {};
  stats_.variables = nv;
  init_links(p, vars_, rem_, wsum_, nvars_);
  share_.assign(nl, 0.0);
  link_min_.assign(nl, kNoCap);
  link_bottleneck_.assign(nl, 0);
  active_links_.clear();
  for (LinkIndex l = 0; l < nl; ++l)
    if (nvars_[l] > 0) active_links_.push_back(l);
  active_vars_.resize(nv);
  for (std::uint32_t v = 0; v < nv; ++v) active_vars_[v] = v;
  var_level_.assign(nv, 0.0);
  var_min_.assign(nv, 0.0);

  while (!active_vars_.empty()) {
    ++stats_.rounds;
    for (LinkIndex l : active_links_) {
      share_[l] = share_of(rem_[l], wsum_[l]);
      link_min_[l] = kNoCap;
    }
    // The smallest share along each variable (its cap is a private link), then the smallest of those per link.
    for (std::uint32_t v : active_vars_) {
      double m = vars_.cap_share[v];
      for (LinkIndex l : vars_.links(v)) m = std::min(m, share_[l]);
      var_min_[v] = m;
      for (LinkIndex l : vars_.links(v)) link_min_[l] = std::min(link_min_[l], m);
    }
    for (LinkIndex l : active_links_) link_bottleneck_[l] = share_[l] <= link_min_[l];
    // Freeze the variables on a bottleneck link, and those whose cap is their smallest share.
    std::size_t kept = 0;
    for (std::uint32_t v : active_vars_) {
      bool freeze = vars_.cap_share[v] <= var_min_[v];
      for (LinkIndex l : vars_.links(v)) freeze = freeze || link_bottleneck_[l];
      if (!freeze) {
        active_vars_[kept++] = v;
        continue;
      }
      const double level = var_min_[v];
      var_level_[v] = level;
      auto links = vars_.links(v);
      auto a = vars_.coefficients(v);
      for (std::size_t i = 0; i < links.size(); ++i) {
        const double aw = a[i] * vars_.weight[v];
        rem_[links[i]] -= aw * level;
        wsum_[links[i]] -= aw;
        --nvars_[links[i]];
      }
    }
    active_vars_.resize(kept);
    // Links whose variables are all frozen leave the active set (every bottleneck's froze this round).
    std::size_t kept_links = 0;
    for (LinkIndex l : active_links_) {
      link_bottleneck_[l] = 0;
      if (nvars_[l] > 0) active_links_[kept_links++] = l;
    }
    active_links_.resize(kept_links);
  }
  for (FlowIndex f = 0; f < p.num_flows(); ++f) rates[f] = p.weight(f) * var_level_[vars_.of_flow[f]];
}

void RateSolver::solve(const RateProblem& problem, std::vector<double>& rates_Bps) {
  problem.validate();
  rates_Bps.assign(problem.num_flows(), 0.0);
  alive_.assign(problem.num_flows(), 1);
  if (problem.num_flows() == 0) return;
  do_solve(problem, rates_Bps);
}

void RateSolver::remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows,
                              std::vector<double>& rates_Bps) {
  if (alive_.size() != problem.num_flows())
    throw SolverInputError("remove_flows: solve this problem first (" + std::to_string(problem.num_flows()) +
                           " flows, the last solve had " + std::to_string(alive_.size()) + ")");
  for (FlowIndex f : flows) {
    if (f >= alive_.size()) throw SolverInputError("remove_flows: flow " + std::to_string(f) + " does not exist");
    if (!alive_[f]) throw SolverInputError("remove_flows: flow " + std::to_string(f) + " was already removed");
    alive_[f] = 0;
  }
  rates_Bps.resize(problem.num_flows());
  do_remove_flows(problem, flows, rates_Bps);
}

void RateSolver::do_remove_flows(const RateProblem& problem, std::span<const FlowIndex>, std::span<double> rates) {
  RateProblem live;
  for (LinkIndex l = 0; l < problem.num_links(); ++l) live.add_link(problem.capacity_Bps(l));
  std::vector<FlowIndex> index;
  for (FlowIndex f = 0; f < problem.num_flows(); ++f)
    if (alive_[f]) {
      live.add_flow(problem.weight(f), problem.cap_Bps(f), problem.links(f), problem.coefficients(f));
      index.push_back(f);
    }
  std::vector<double> sub(index.size(), 0.0);
  const std::vector<std::uint8_t> alive = alive_;
  alive_.assign(index.size(), 1);
  if (!index.empty()) do_solve(live, sub);
  alive_ = alive;
  std::fill(rates.begin(), rates.end(), 0.0);
  for (std::size_t i = 0; i < index.size(); ++i) rates[index[i]] = sub[i];
}

std::unique_ptr<RateSolver> make_rate_solver(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuRateSolver>();
  if (name == "cpu-rounds") return std::make_unique<RoundsRateSolver>();
  throw SolverInputError("unknown rate solver '" + name + "'; this build has: cpu, cpu-rounds");
}

std::vector<std::string> rate_solver_names() { return {"cpu", "cpu-rounds"}; }

}  // namespace collemu::models::solver
