#include "models/solver/cpu_solver.hpp"

#include <algorithm>

namespace collemu::models::solver {

namespace {

double share_of(double rem, double wsum) { return rem > 0 ? rem / wsum : 0.0; }

// The filling's state at `from_level`: live variables whose saved level is below it stay frozen at that level (their
// load is taken from the links); the others are free (their weight is on the links). -inf: nothing frozen, the state
// the build left (every variable free). Only the components listed in `scope` are rebuilt (all when empty): after a
// complete filling every other variable is frozen and every other link has no free variable, so they stay out of the
// next filling.
void state_at(const RateProblem& p, const Variables& vars, std::span<const double> level, double from_level,
              std::span<const std::uint32_t> scope, std::vector<double>& rem, std::vector<double>& wsum,
              std::vector<std::uint32_t>& nvars, std::vector<std::uint8_t>& frozen) {
  const std::size_t nl = p.num_links(), nv = vars.size();
  if (from_level == -kNoCap && scope.empty()) {
    rem.assign(p.capacities().begin(), p.capacities().end());
    wsum = vars.link_weight;
    nvars = vars.link_vars;
    frozen.assign(nv, 0);
    return;
  }
  auto reset_link = [&](LinkIndex l) {
    rem[l] = p.capacity_Bps(l);
    wsum[l] = 0;
    nvars[l] = 0;
  };
  auto place = [&](std::uint32_t v) {
    const VarView r = vars.view(v);
    auto links = r.links();
    if (vars.live_flows[v] == 0) {
      frozen[v] = 1;  // every flow of it has finished
    } else if (level[v] < from_level) {
      frozen[v] = 1;
      for (std::uint32_t i = 0; i < links.size(); ++i) rem[links[i]] -= r.coefficient(i) * r.weight() * level[v];
    } else {
      frozen[v] = 0;
      for (std::uint32_t i = 0; i < links.size(); ++i) {
        wsum[links[i]] += r.coefficient(i) * r.weight();
        ++nvars[links[i]];
      }
    }
  };
  if (scope.empty()) {
    rem.resize(nl);
    wsum.resize(nl);
    nvars.resize(nl);
    frozen.resize(nv);
    for (LinkIndex l = 0; l < nl; ++l) reset_link(l);
    for (std::uint32_t v = 0; v < nv; ++v) place(v);
    return;
  }
  for (std::uint32_t c : scope) {
    for (auto i = vars.component_link_begin[c]; i < vars.component_link_begin[c + 1]; ++i)
      reset_link(vars.component_link[i]);
    for (auto i = vars.component_var_begin[c]; i < vars.component_var_begin[c + 1]; ++i) place(vars.component_var[i]);
  }
}

// Freezes a variable (record `r`) at `level`: its links lose its load and weight. `skip` is a link left out (the
// saturating link, whose state no longer matters: updating it from every variable it freezes would chain them all
// through one memory location).
inline void freeze_on_links(VarView r, double level, double* rem, double* wsum, std::uint32_t* nvars,
                            LinkIndex skip = ~0u) {
  const double w = r.weight();
  auto links = r.links();
  const bool unit = r.unit();
  for (std::uint32_t i = 0; i < links.size(); ++i) {
    const LinkIndex m = links[i];
    if (m == skip) continue;
    const double aw = unit ? w : r.coefficient(i) * w;
    rem[m] -= aw * level;
    wsum[m] -= aw;
    --nvars[m];
  }
}

// The components of the removed flows' variables, each once, in increasing order.
void affected_components(const Variables& vars, std::span<const FlowIndex> flows, std::vector<std::uint32_t>& out) {
  out.clear();
  for (FlowIndex f : flows) out.push_back(vars.component_of_variable(vars.of_flow[f]));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace

void CpuRateSolver::sift_down(std::size_t i) {
  const std::uint32_t x = heap_[i];
  const std::size_t n = heap_.size();
  while (true) {
    std::size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(heap_[c + 1], heap_[c])) ++c;
    if (!before(heap_[c], x)) break;
    heap_[i] = heap_[c];
    i = c;
  }
  heap_[i] = x;
}

void CpuRateSolver::do_solve(const RateProblem& p, std::span<double> rates) {
  vars_.build(p);
  level_.assign(vars_.size(), 0.0);
  scope_.clear();
  fill(p, -kNoCap, rates);
}

void CpuRateSolver::do_remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<double> rates) {
  affected_components(vars_, flows, scope_);
  fill(p, vars_.remove_flows(p, flows, level_), rates);
}

void CpuRateSolver::fill(const RateProblem& p, double from_level, std::span<double> rates) {
  const std::size_t nl = p.num_links(), nv = vars_.size();
  stats_ = {};
  stats_.variables = nv;
  state_at(p, vars_, level_, from_level, scope_, rem_, wsum_, nvars_, frozen_);
  key_.resize(nl);
  heap_.clear();
  for (LinkIndex l = 0; l < nl; ++l)
    if (nvars_[l] > 0) {
      key_[l] = share_of(rem_[l], wsum_[l]);
      heap_.push_back(l);
    }
  std::make_heap(heap_.begin(), heap_.end(), [&](std::uint32_t x, std::uint32_t y) { return before(y, x); });
  // Caps never move: one sorted list, merged with the heap.
  caps_.clear();
  for (std::uint32_t v = 0; v < nv; ++v)
    if (!frozen_[v] && vars_.cap_share[v] != kNoCap) caps_.push_back(v);
  std::sort(caps_.begin(), caps_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return vars_.cap_share[a] != vars_.cap_share[b] ? vars_.cap_share[a] < vars_.cap_share[b] : a < b;
  });
  std::size_t next_cap = 0;

  // `skip`: the saturating link, left out of its own variables' updates (see freeze_on_links).
  auto freeze = [&](std::uint32_t v, double level, LinkIndex skip = ~0u) {
    frozen_[v] = 1;
    level_[v] = level;
    freeze_on_links(vars_.view(v), level, rem_.data(), wsum_.data(), nvars_.data(), skip);
  };
  auto pop = [&] {
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(0);
  };
  while (true) {
    // The heap's top, made current: links without unfrozen variables leave; a stale key is raised and sunk.
    while (!heap_.empty()) {
      const LinkIndex l = heap_.front();
      if (nvars_[l] == 0) {
        pop();
        continue;
      }
      const double share = share_of(rem_[l], wsum_[l]);
      if (share <= key_[l]) break;
      key_[l] = share;
      sift_down(0);
    }
    while (next_cap < caps_.size() && frozen_[caps_[next_cap]]) ++next_cap;
    if (heap_.empty() && next_cap == caps_.size()) break;
    ++stats_.rounds;
    if (next_cap < caps_.size() && (heap_.empty() || vars_.cap_share[caps_[next_cap]] <= key_[heap_.front()])) {
      const std::uint32_t v = caps_[next_cap++];
      freeze(v, vars_.cap_share[v]);
      continue;
    }
    const LinkIndex l = heap_.front();
    // The share is current, or a rounding step below the key: the link saturates at its current share.
    const double level = share_of(rem_[l], wsum_[l]);
    // The link's variables are scattered over the records: prefetch their frozen flags and records ahead (a record
    // of up to 48 bytes may straddle two cache lines) so the misses overlap.
    const std::uint32_t* entries = vars_.link_var.data();
    const std::uint32_t* record_at = vars_.record_at.data();
    const std::uint8_t* frozen = frozen_.data();
    const std::uint64_t b = vars_.link_begin[l], e = vars_.link_begin[l + 1];
    for (auto i = b; i < e; ++i) {
      if (i + 16 < e) {
        __builtin_prefetch(&record_at[entries[i + 16]]);
        __builtin_prefetch(&frozen[entries[i + 16]]);
      }
      if (i + 8 < e) {
        const char* rec = reinterpret_cast<const char*>(vars_.record_address(record_at[entries[i + 8]]));
        __builtin_prefetch(rec);
        __builtin_prefetch(rec + 40);
      }
      if (!frozen[entries[i]]) freeze(entries[i], level, l);
    }
    nvars_[l] = 0;
    pop();  // every variable of the link is frozen now
  }
  for (FlowIndex f = 0; f < p.num_flows(); ++f) rates[f] = alive_[f] ? p.weight(f) * level_[vars_.of_flow[f]] : 0.0;
}

void RoundsRateSolver::do_solve(const RateProblem& p, std::span<double> rates) {
  vars_.build(p);
  var_level_.assign(vars_.size(), 0.0);
  scope_.clear();
  rounds(p, -kNoCap, rates);
}

void RoundsRateSolver::do_remove_flows(const RateProblem& p, std::span<const FlowIndex> flows,
                                       std::span<double> rates) {
  affected_components(vars_, flows, scope_);
  rounds(p, vars_.remove_flows(p, flows, var_level_), rates);
}

void RoundsRateSolver::rounds(const RateProblem& p, double from_level, std::span<double> rates) {
  const std::size_t nl = p.num_links(), nv = vars_.size();
  stats_ = {};
  stats_.variables = nv;
  state_at(p, vars_, var_level_, from_level, scope_, rem_, wsum_, nvars_, frozen_);
  share_.assign(nl, 0.0);
  link_min_.assign(nl, kNoCap);
  link_bottleneck_.assign(nl, 0);
  active_links_.clear();
  for (LinkIndex l = 0; l < nl; ++l)
    if (nvars_[l] > 0) active_links_.push_back(l);
  active_vars_.clear();
  for (std::uint32_t v = 0; v < nv; ++v)
    if (!frozen_[v]) active_vars_.push_back(v);
  var_min_.assign(nv, 0.0);

  while (!active_vars_.empty()) {
    ++stats_.rounds;
    for (LinkIndex l : active_links_) {
      share_[l] = share_of(rem_[l], wsum_[l]);
      link_min_[l] = kNoCap;
    }
    // The smallest share along each variable (its cap is a private link), then the smallest of those per link.
    for (std::uint32_t v : active_vars_) {
      auto links = vars_.view(v).links();
      double m = vars_.cap_share[v];
      for (LinkIndex l : links) m = std::min(m, share_[l]);
      var_min_[v] = m;
      for (LinkIndex l : links) link_min_[l] = std::min(link_min_[l], m);
    }
    for (LinkIndex l : active_links_) link_bottleneck_[l] = share_[l] <= link_min_[l];
    // Freeze the variables on a bottleneck link, and those whose cap is their smallest share.
    std::size_t kept = 0;
    for (std::uint32_t v : active_vars_) {
      bool freeze = vars_.cap_share[v] <= var_min_[v];
      const VarView r = vars_.view(v);
      for (LinkIndex l : r.links()) freeze = freeze || link_bottleneck_[l];
      if (!freeze) {
        active_vars_[kept++] = v;
        continue;
      }
      const double level = var_min_[v];
      var_level_[v] = level;
      frozen_[v] = 1;
      freeze_on_links(r, level, rem_.data(), wsum_.data(), nvars_.data());
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
  for (FlowIndex f = 0; f < p.num_flows(); ++f) rates[f] = alive_[f] ? p.weight(f) * var_level_[vars_.of_flow[f]] : 0.0;
}

namespace {
template <class... V>
std::size_t bytes_of(const V&... v) {
  return ((v.capacity() * sizeof(v[0])) + ...);
}
}  // namespace

std::size_t CpuRateSolver::memory_bytes() const {
  return vars_.memory_bytes() + bytes_of(rem_, wsum_, key_, level_, nvars_, heap_, caps_, frozen_, alive_);
}

std::size_t RoundsRateSolver::memory_bytes() const {
  return vars_.memory_bytes() + bytes_of(frozen_, var_level_, var_min_, rem_, wsum_, share_, link_min_, nvars_,
                                         active_vars_, active_links_, link_bottleneck_, alive_);
}

}  // namespace collemu::models::solver
