#include "models/solver/cpu_solver.hpp"

#include <algorithm>
#include <cmath>

namespace collemu::models::solver {

namespace {

double share_of(double rem, double wsum) { return rem > 0 ? rem / wsum : 0.0; }

// How far above the smallest share the heap of a re-solve reaches (fill()): links above it wait outside. 1.25 rather
// than 2: the shares of a re-solve's links sit in a narrow band, and a link that waits usually ends with every variable
// frozen elsewhere, leaving without a heap operation (measured: docs/rate-solver.md).
constexpr double kThresholdStep = 1.25;

// A local re-solve (try_local): a link counts as saturated when its unused capacity is at most this fraction of its
// capacity (rounding leaves a residue on links whose loads were taken off and put back), and two levels as the same
// within this relative difference. Both far below the 1e-12 to which the tests hold every re-solve to a fresh one.
constexpr double kSaturated = 1e-13;
constexpr double kSameLevel = 1e-13;
// The margin below the lowest removed level from which variables may change (re-solves).
constexpr double kLevelMargin = 1e-12;
constexpr LinkIndex kNoLink = ~0u;
// Rounds of a local re-solve before the closure takes over.
constexpr int kLocalRounds = 12;

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

// Freezes a variable (record `r`) at `level`: its links lose its load and weight.
inline void freeze_on_links(VarView r, double level, double* rem, double* wsum, std::uint32_t* nvars) {
  const double w = r.weight();
  auto links = r.links();
  const bool unit = r.unit();
  for (std::uint32_t i = 0; i < links.size(); ++i) {
    const LinkIndex m = links[i];
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
  const std::size_t nl = p.num_links(), nv = vars_.size();
  stats_ = {};
  stats_.variables = nv;
  links_.resize(nl);
  key_.resize(nl);
  heap_.clear();
  for (LinkIndex l = 0; l < nl; ++l) {
    links_[l] = LinkState{p.capacity_Bps(l), vars_.link_weight[l], vars_.link_vars[l]};
    if (links_[l].nvars > 0) heap_.push_back(l);
  }
  frozen_.assign(nv, 0);
  in_closure_.assign(nv, 0);
  order_.resize(nv);
  pos_.resize(nv);
  froze_at_.resize(nv);
  ordered_ = 0;
  positioned_ = 0;
  var_stamp_.assign(nv, 0);
  link_seen_.assign(nl, 0);
  link_stamp_.assign(nl, 0);
  link_max_.resize(nl);
  was_bottleneck_at_.resize(nl);
  link_epoch_.assign(nl, 0);
  epoch_ = 0;
  stamp_ = 0;
  thawed_since_sweep_ = 0;
  level_.resize(nv);
  caps_.clear();
  for (std::uint32_t v = 0; v < nv; ++v)
    if (vars_.cap_share[v] != kNoCap) caps_.push_back(v);
  std::sort(caps_.begin(), caps_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return vars_.cap_share[a] != vars_.cap_share[b] ? vars_.cap_share[a] < vars_.cap_share[b] : a < b;
  });
  fill(0, kNoCap);
  for (FlowIndex f = 0; f < p.num_flows(); ++f) rates[f] = alive_[f] ? p.weight(f) * level_[vars_.of_flow[f]] : 0.0;
}

void CpuRateSolver::do_remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<double> rates,
                                    bool rates_current) {
  vars_.index(p.num_flows());
  stats_ = {};
  stats_.variables = vars_.size();
  in_scope_.assign(vars_.num_components(), 0);
  for (FlowIndex f : flows) in_scope_[vars_.component_of_variable(vars_.of_flow[f])] = 1;
  // The removed flows' variables, with the weights they froze with.
  changed_.clear();
  for (FlowIndex f : flows) changed_.push_back({vars_.of_flow[f], 0.0});
  std::sort(changed_.begin(), changed_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  changed_.erase(std::unique(changed_.begin(), changed_.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 changed_.end());
  for (auto& [v, w] : changed_) w = vars_.view(v).weight();
  // Nothing that froze below the lowest level of a removed flow's variable can change (its links were unsaturated
  // below it, and less weight only raises their shares): `from`, lowered by a rounding margin (variables that froze
  // in different events at what is the same level may differ in their last bits).
  double from = vars_.remove_flows(p, flows, level_, alive_);
  from -= std::abs(from) * kLevelMargin;
  // order_ holds the variables by level (the order of a filling, merged with the re-fillings since): those at `from`
  // or above are its tail from `start`.
  if (positioned_ < ordered_) {  // positions are kept from the first re-solve on (a full solve does not need them)
    for (std::size_t i = 0; i < ordered_; ++i) pos_[order_[i]] = static_cast<std::uint32_t>(i);
    positioned_ = ordered_;
  }
  std::size_t start = ordered_;
  for (const auto& [v, w] : changed_) start = std::min<std::size_t>(start, pos_[v]);
  while (start > 0 && level_[order_[start - 1]] >= from) --start;
  heap_.clear();
  thawed_.clear();
  local_.clear();
  bool adjusted = false;  // the removed weights' loads are off the links
  // A short tail is re-solved by the closure at once (its walk is bounded by the tail); a long one is worth a local
  // attempt first.
  if (ordered_ - start <= local_from_ || !try_local(p, from, start, adjusted)) {
    // The re-filled variables of a local attempt that did not hold are frozen at levels from `from` on (up to
    // rounding), in their old places: the closure takes them again like any other.
    for (std::uint32_t v : local_) from = std::min(from, level_[v]);
    while (start > 0 && level_[order_[start - 1]] >= from) --start;
    thawed_.clear();
    redo_from(p, start, adjusted);
  }

  auto write = [&](FlowIndex f) { rates[f] = alive_[f] ? p.weight(f) * level_[vars_.of_flow[f]] : 0.0; };
  if (!rates_current || (thawed_.size() + local_.size()) * 4 > vars_.size()) {
    for (FlowIndex f = 0; f < p.num_flows(); ++f) write(f);
    return;
  }
  wrote_all_ = false;
  next_stamp();
  auto write_var = [&](std::uint32_t v) {
    if (var_stamp_[v] == stamp_) return;
    var_stamp_[v] = stamp_;
    for (auto i = vars_.var_flow_begin[v]; i < vars_.var_flow_begin[v + 1]; ++i) {
      write(vars_.var_flow[i]);
      written_.push_back(vars_.var_flow[i]);
    }
  };
  for (std::uint32_t v : thawed_) write_var(v);
  for (std::uint32_t v : local_) write_var(v);
  for (FlowIndex f : flows) {  // also those whose variable emptied and stays frozen
    rates[f] = 0.0;
    written_.push_back(f);
  }
}

void CpuRateSolver::next_stamp() {
  if (++stamp_ != 0) return;
  std::fill(var_stamp_.begin(), var_stamp_.end(), 0);
  std::fill(link_stamp_.begin(), link_stamp_.end(), 0);
  stamp_ = 1;
}

void CpuRateSolver::redo_from(const RateProblem& p, std::size_t start, bool adjusted) {
  // Thaw the variables that can change: those from `start` on in order_ that are joined to a removed flow's variable
  // through links, walking only over such variables (find_closure). Few of them: one by one, adding their loads back
  // onto their links. Many: one sweep over the affected components, which reads the records sequentially and
  // recomputes their links from capacity. A sweep also comes once the variables thawed one by one since the last one
  // outnumber the variables, so that rounding cannot pile up over a long run (at a cost proportional to the work done).
  const bool whole = find_closure(start);
  std::size_t thawing = whole ? ordered_ - start : closure_.size();
  std::size_t scoped = 0;
  for (std::uint8_t x : in_scope_) scoped += x;
  if (whole && scoped < vars_.num_components()) {
    // Other components' variables are in that count: count only the affected ones' before deciding to sweep.
    thawing = 0;
    for (std::size_t i = start; i < ordered_; ++i)
      thawing += in_scope_[vars_.var_component[order_[i]]] && vars_.live_flows[order_[i]] > 0;
  }
  if (thawing * 8 > vars_.size() || thawed_since_sweep_ + thawing > vars_.size()) {
    rebuild_from(p, start, whole);
    thawed_since_sweep_ = 0;
  } else {
    thawed_since_sweep_ += thaw_closure(start, whole, adjusted);
  }
  for (std::uint32_t v : closure_) in_closure_[v] = 0;
  // The variables left frozen keep their places in order_; those the filling freezes come after them, in the order
  // it freezes them (by level), and the two runs are merged. Variables whose flows have all finished leave it: frozen
  // for good and loading nothing, they would only make later re-solves look larger than they are.
  std::size_t kept = start;
  for (std::size_t i = start; i < ordered_; ++i) {
    const std::uint32_t v = order_[i];
    if (frozen_[v] && vars_.live_flows[v] > 0) order_[kept++] = v;
  }
  ordered_ = kept;
  fill_thawed(thawed_);
  merge_tail(start, kept);
}

void CpuRateSolver::merge_tail(std::size_t start, std::size_t mid) {
  // order_[start, mid) and [mid, ordered_) are each by level (up to rounding: a filling freezes at levels that never
  // fall by more than a rounding step): one run by level, positions updated.
  merge_.clear();
  std::size_t a = start, b = mid;
  while (a < mid && b < ordered_) merge_.push_back(level_[order_[b]] < level_[order_[a]] ? order_[b++] : order_[a++]);
  while (a < mid) merge_.push_back(order_[a++]);
  while (b < ordered_) merge_.push_back(order_[b++]);
  for (std::size_t i = 0; i < merge_.size(); ++i) {
    order_[start + i] = merge_[i];
    pos_[merge_[i]] = static_cast<std::uint32_t>(start + i);
  }
  positioned_ = ordered_;
}

void CpuRateSolver::fill_thawed(std::span<const std::uint32_t> thawed) {
  double lowest = kNoCap, highest = 0;
  for (std::uint32_t v : thawed) {
    lowest = std::min(lowest, level_[v]);
    highest = std::max(highest, level_[v]);
  }
  // Caps bind at or above their variable's old level: the sorted list is entered at the lowest thawed level.
  const auto first_cap = std::lower_bound(caps_.begin(), caps_.end(), lowest,
                                          [&](std::uint32_t v, double x) { return vars_.cap_share[v] < x; });
  fill(static_cast<std::size_t>(first_cap - caps_.begin()), highest);
}

bool CpuRateSolver::try_local(const RateProblem& p, double from, std::size_t start, bool& adjusted) {
  // The variables that change when flows leave are usually few of those the closure holds (a flow that ends frees
  // its bottleneck's capacity for the variables there, which take it from their other bottlenecks' variables, and
  // so on: a chain through saturated links). A guess: the variables at `from` or above reached from a removed flow's
  // variable through saturated links only. They are thawed and filled with every other variable held at its level,
  // and the result is kept when it is the max-min allocation, which the bottleneck condition tells exactly (feasible,
  // and every variable at its cap or on a saturated link where no variable has a higher level: Bertsekas and
  // Gallager, Data Networks, 6.5.2). Only variables on links whose load changed can have lost their bottleneck, so
  // only those are checked. Variables the check finds wrong join the guess and it is filled again; past a few rounds
  // or a budget, the closure (exact by construction) takes over from the state the attempt left.
  const std::size_t budget = std::min<std::size_t>(vars_.size() / 8, 4096) + 16;
  if (thawed_since_sweep_ + budget > vars_.size()) return false;  // due for a sweep: the closure path makes it
  // The links whose load may change, as they were: saturated, and their highest level (check_local); the walk
  // records the saturated ones it reads.
  if (++epoch_ == 0) {
    std::fill(link_epoch_.begin(), link_epoch_.end(), 0);
    epoch_ = 1;
  }
  changed_links_.clear();
  link_queue_.clear();
  auto visit = [&](std::uint32_t v) {
    for (LinkIndex l : vars_.view(v).links())
      if (!link_seen_[l] && saturated(p, l)) {
        link_seen_[l] = 1;
        link_queue_.push_back(l);
      }
  };
  auto join = [&](std::uint32_t w) {
    in_closure_[w] = 1;
    local_.push_back(w);
    visit(w);
  };
  for (const auto& [v, old_weight] : changed_) {
    visit(v);
    if (vars_.live_flows[v] > 0 && !in_closure_[v]) join(v);
  }
  bool over = false;
  for (std::size_t q = 0; q < link_queue_.size() && !over; ++q) {
    // Of a saturated link's variables, those at its highest level have it as a bottleneck: they take what it frees
    // or lose what others take on it. The others are held elsewhere (the check finds those the link overtakes).
    const LinkIndex l = link_queue_[q];
    const std::uint64_t b = vars_.link_begin[l], e = b + vars_.link_vars[l];
    const double top = highest_live_level(l) * (1 - kSameLevel);
    link_epoch_[l] = epoch_;
    changed_links_.push_back(l);
    was_bottleneck_at_[l] = top;
    for (std::uint64_t i = b; i < e; ++i) {
      const std::uint32_t w = vars_.link_var[i];
      if (!in_closure_[w] && vars_.live_flows[w] > 0 && level_[w] >= from && level_[w] >= top) join(w);
    }
    over = local_.size() > budget;
  }
  for (LinkIndex l : link_queue_) link_seen_[l] = 0;
  auto unmark = [&] {
    for (std::uint32_t v : local_) in_closure_[v] = 0;
  };
  if (over) {
    unmark();
    local_.clear();
    return false;
  }
  // The other links of the guess and of the removed flows' variables, likewise.
  const auto record = [&](std::uint32_t v) {
    for (LinkIndex l : vars_.view(v).links()) {
      if (link_epoch_[l] == epoch_) continue;
      link_epoch_[l] = epoch_;
      changed_links_.push_back(l);
      was_bottleneck_at_[l] = saturated(p, l) ? highest_live_level(l) * (1 - kSameLevel) : kNoCap;
    }
  };
  for (const auto& [v, old_weight] : changed_) record(v);
  for (std::uint32_t v : local_) record(v);
  // Thaw: loads back at their current weights, then the removed weights' loads at the levels they had.
  for (std::uint32_t v : local_) thaw_one(v);
  unload_removed();
  adjusted = true;
  thawed_since_sweep_ += local_.size();
  // Each filling appends what it freezes to order_ from `appended` on, after the old entries (those of the guess are
  // still among them, in their old places).
  const std::size_t appended = ordered_;
  for (int round = 0;; ++round) {
    ordered_ = appended;
    if (order_.size() < appended + local_.size()) order_.resize(appended + local_.size());
    fill_thawed(local_);
    const std::size_t before = local_.size();
    const bool holds = check_local(p, from);
    if (holds) {
      // The guess leaves its old places (and so do variables whose flows have all finished), and joins the tail by
      // its new levels.
      std::size_t kept = start;
      for (std::size_t i = start; i < appended; ++i) {
        const std::uint32_t v = order_[i];
        if (!in_closure_[v] && vars_.live_flows[v] > 0) order_[kept++] = v;
      }
      std::copy(order_.begin() + static_cast<std::ptrdiff_t>(appended),
                order_.begin() + static_cast<std::ptrdiff_t>(ordered_), order_.begin() + static_cast<std::ptrdiff_t>(kept));
      ordered_ = kept + (ordered_ - appended);
      merge_tail(start, kept);
      unmark();
      return true;
    }
    if (round == kLocalRounds || local_.size() > budget || local_.size() == before) {
      // Everything is frozen again (a consistent state), the guess in its old places: the closure goes on from it.
      ordered_ = appended;
      unmark();
      return false;
    }
    // Again, with the variables the check added: every variable of the guess thaws at its current level.
    for (std::size_t i = before; i < local_.size(); ++i) record(local_[i]);
    for (std::uint32_t v : local_) thaw_one(v);
    thawed_since_sweep_ += local_.size();
  }
}

bool CpuRateSolver::saturated(const RateProblem& p, LinkIndex l) const {
  return links_[l].rem <= kSaturated * p.capacity_Bps(l);
}

double CpuRateSolver::highest_live_level(LinkIndex l) const {
  double m = 0;
  const std::uint64_t b = vars_.link_begin[l], e = b + vars_.link_vars[l];
  for (std::uint64_t i = b; i < e; ++i) {
    const std::uint32_t w = vars_.link_var[i];
    if (vars_.live_flows[w] > 0) m = std::max(m, level_[w]);
  }
  return m;
}

bool CpuRateSolver::check_local(const RateProblem& p, double from) {
  // The links whose load changed: those of the re-filled variables and of the removed flows' variables. The highest
  // level of a live variable on a link is computed once per check (link_stamp_).
  next_stamp();
  const auto highest = [&](LinkIndex l) {
    if (link_stamp_[l] != stamp_) {
      link_stamp_[l] = stamp_;
      link_max_[l] = highest_live_level(l);
    }
    return link_max_[l];
  };
  // `first`: the link to try first (the one a re-filled variable froze on, or the changed link a held one had as a
  // bottleneck): usually it still is one.
  const auto bottlenecked = [&](std::uint32_t v, LinkIndex first) {
    const double lv = level_[v];
    if (vars_.cap_share[v] <= lv * (1 + kSameLevel)) return true;
    const auto holds = [&](LinkIndex l) { return saturated(p, l) && lv >= highest(l) * (1 - kSameLevel); };
    if (first != kNoLink && holds(first)) return true;
    for (LinkIndex l : vars_.view(v).links())
      if (l != first && holds(l)) return true;
    return false;
  };
  const std::size_t guessed = local_.size();
  auto add = [&](std::uint32_t w) {
    if (in_closure_[w]) return;
    in_closure_[w] = 1;
    local_.push_back(w);
  };
  // A re-filled variable without a bottleneck froze on a link where a variable held at its level is higher: that one
  // must move too.
  for (std::size_t i = 0; i < guessed; ++i) {
    const std::uint32_t v = local_[i];
    if (bottlenecked(v, froze_at_[v])) continue;
    for (LinkIndex l : vars_.view(v).links()) {
      const std::uint64_t b = vars_.link_begin[l], e = b + vars_.link_vars[l];
      for (std::uint64_t k = b; k < e; ++k) {
        const std::uint32_t w = vars_.link_var[k];
        if (vars_.live_flows[w] > 0 && level_[w] > level_[v] && level_[w] >= from) add(w);
      }
    }
    if (local_.size() == guessed) return false;  // no one to blame (rounding): let the closure decide
  }
  // A held variable keeps every bottleneck whose link did not change; on a changed link that was one of its
  // bottlenecks (saturated, nothing higher), it must still have one. Below `from` none was: their bottlenecks
  // saturated below every re-filled level, so no re-filled variable crosses them.
  for (LinkIndex l : changed_links_) {
    const double was = was_bottleneck_at_[l];
    if (was == kNoCap) continue;
    const std::uint64_t b = vars_.link_begin[l], e = b + vars_.link_vars[l];
    for (std::uint64_t k = b; k < e; ++k) {
      const std::uint32_t w = vars_.link_var[k];
      if (in_closure_[w] || vars_.live_flows[w] == 0 || level_[w] < from || level_[w] < was || var_stamp_[w] == stamp_)
        continue;
      var_stamp_[w] = stamp_;
      if (!bottlenecked(w, l)) add(w);
    }
  }
  return local_.size() == guessed;
}

void CpuRateSolver::thaw(std::uint32_t v) {
  frozen_[v] = 0;
  thawed_.push_back(v);
  const VarView r = vars_.view(v);
  const double w = r.weight();
  auto links = r.links();
  for (std::uint32_t k = 0; k < links.size(); ++k) {
    LinkState& s = links_[links[k]];
    if (s.nvars == 0) {
      s.wsum = 0;  // no residue from the weights that left
      heap_.push_back(links[k]);
    }
    s.wsum += r.coefficient(k) * w;
    ++s.nvars;
  }
}

bool CpuRateSolver::find_closure(std::size_t start) {
  // Why it is enough (the others keep their levels bit for bit): nothing below the tail's level can change (the
  // removed variables were free there, their links unsaturated; less weight only raises shares). In the tail, a link
  // that no closure variable crosses is crossed, above that level, only by variables outside the closure, and below
  // it by variables frozen for good: its share at every level is what it was, so it saturates where it did and its
  // variables freeze where they did. The closure and the rest are independent problems above that level.
  closure_.clear();
  link_queue_.clear();
  auto visit_links = [&](std::uint32_t v) {
    for (LinkIndex l : vars_.view(v).links())
      if (!link_seen_[l]) {
        link_seen_[l] = 1;
        link_queue_.push_back(l);
      }
  };
  auto join = [&](std::uint32_t w) {
    in_closure_[w] = 1;
    closure_.push_back(w);
    visit_links(w);
  };
  // The removed flows' variables change weight: their links are where it starts (an emptied variable stays frozen,
  // with no load, and joins nothing).
  for (const auto& [v, old_weight] : changed_) {
    visit_links(v);
    if (vars_.live_flows[v] > 0 && !in_closure_[v]) join(v);
  }
  // The walk reads every variable of every link it reaches, frozen early or not: on a dense problem, where the
  // closure is most of the tail, that costs more than it saves. Past a budget (the closure at an
  // eighth of those variables, or a quarter as many link entries read) it stops and takes all of them, as exact.
  const std::size_t after_start = ordered_ - start;
  std::size_t read = 0;
  bool whole = false;
  for (std::size_t q = 0; q < link_queue_.size() && !whole; ++q) {
    const LinkIndex l = link_queue_[q];
    const std::uint64_t b = vars_.link_begin[l], e = b + vars_.link_vars[l];
    read += e - b;
    for (std::uint64_t i = b; i < e; ++i) {
      const std::uint32_t w = vars_.link_var[i];
      if (!in_closure_[w] && pos_[w] >= start && vars_.live_flows[w] > 0) join(w);
    }
    whole = 8 * closure_.size() > after_start || 4 * read > after_start + 256;
  }
  for (LinkIndex l : link_queue_) link_seen_[l] = 0;
  if (whole) {
    for (std::uint32_t v : closure_) in_closure_[v] = 0;
    closure_.clear();
  }
  return whole;
}

void CpuRateSolver::thaw_one(std::uint32_t v) {
  const VarView r = vars_.view(v);
  const double load = r.weight() * level_[v];
  auto links = r.links();
  for (std::uint32_t k = 0; k < links.size(); ++k) links_[links[k]].rem += r.coefficient(k) * load;
  thaw(v);
}

std::size_t CpuRateSolver::thaw_closure(std::size_t start, bool whole, bool adjusted) {
  // Each thawed variable's load goes back on its links (at its current weight; the removed weight is added back
  // below, unless a local attempt did), and its weight becomes free weight there. Records are prefetched ahead.
  const std::uint32_t* record_at = vars_.record_at.data();
  std::size_t thawed = 0;
  auto walk = [&](std::span<const std::uint32_t> vs) {
    const std::size_t n = vs.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (i + 16 < n) __builtin_prefetch(&record_at[vs[i + 16]]);
      if (i + 8 < n) __builtin_prefetch(vars_.record_address(record_at[vs[i + 8]]));
      const std::uint32_t v = vs[i];
      if (vars_.live_flows[v] > 0 && (!whole || in_scope_[vars_.var_component[v]])) {
        ++thawed;
        thaw_one(v);
      }
    }
  };
  // Whole: every live variable of the affected components in the tail, in order.
  walk(whole ? std::span<const std::uint32_t>(order_.data() + start, ordered_ - start)
             : std::span<const std::uint32_t>(closure_));
  if (!adjusted) unload_removed();
  return thawed;
}

void CpuRateSolver::unload_removed() {
  for (const auto& [v, old_weight] : changed_) {
    const VarView r = vars_.view(v);
    const double load = (old_weight - r.weight()) * level_[v];
    auto links = r.links();
    for (std::uint32_t k = 0; k < links.size(); ++k) links_[links[k]].rem += r.coefficient(k) * load;
  }
}

void CpuRateSolver::rebuild_from(const RateProblem& p, std::size_t start, bool whole) {
  // The affected components' links start over at full capacity; their variables that stay frozen take their loads
  // again, the others (the closure, or the whole tail from `start`) thaw.
  auto place = [&](std::uint32_t v) {
    if (vars_.live_flows[v] == 0) return;  // emptied: stays frozen
    if (whole ? pos_[v] < start : !in_closure_[v]) {
      const VarView r = vars_.view(v);
      const double load = r.weight() * level_[v];
      auto links = r.links();
      for (std::uint32_t k = 0; k < links.size(); ++k) links_[links[k]].rem -= r.coefficient(k) * load;
    } else {
      thaw(v);
    }
  };
  std::size_t scoped = 0;
  for (std::uint32_t c = 0; c < vars_.num_components(); ++c) scoped += in_scope_[c];
  if (scoped == vars_.num_components()) {
    for (LinkIndex l = 0; l < links_.size(); ++l) links_[l] = LinkState{p.capacity_Bps(l), 0.0, 0};
    for (std::uint32_t v = 0; v < vars_.size(); ++v) place(v);
    return;
  }
  for (std::uint32_t c = 0; c < vars_.num_components(); ++c) {
    if (!in_scope_[c]) continue;
    for (auto i = vars_.component_link_begin[c]; i < vars_.component_link_begin[c + 1]; ++i)
      links_[vars_.component_link[i]] = LinkState{p.capacity_Bps(vars_.component_link[i]), 0.0, 0};
    for (auto i = vars_.component_var_begin[c]; i < vars_.component_var_begin[c + 1]; ++i) place(vars_.component_var[i]);
  }
}

void CpuRateSolver::admit(double threshold) {
  std::size_t kept = 0;
  for (LinkIndex l : waiting_) {
    if (links_[l].nvars == 0) continue;  // every variable of it froze elsewhere: it can no longer saturate
    key_[l] = share_of(links_[l].rem, links_[l].wsum);
    if (key_[l] <= threshold) {
      heap_.push_back(l);
      std::push_heap(heap_.begin(), heap_.end(), [&](std::uint32_t x, std::uint32_t y) { return before(y, x); });
    } else {
      waiting_[kept++] = l;
    }
  }
  waiting_.resize(kept);
}

double CpuRateSolver::smallest_waiting_share() const {
  double m = kNoCap;
  for (LinkIndex l : waiting_)
    if (links_[l].nvars > 0) m = std::min(m, share_of(links_[l].rem, links_[l].wsum));
  return m;
}

void CpuRateSolver::fill(std::size_t next_cap, double threshold) {
  // Links whose share starts above `threshold` wait outside the heap (waiting_): shares only grow during the filling,
  // so while the heap's top has a current share at most the threshold, it is the smallest share of all, the same link
  // the heap of every link would give. When the top passes the threshold, the threshold grows to kThresholdStep times
  // the smaller of the top's key and the waiting links' smallest share, and the waiting links below it enter the heap.
  // A re-solve passes the highest level its thawed variables had before, lowered to kThresholdStep times the smallest
  // share of the links it starts with: most of the links they cross end with every variable frozen elsewhere and leave
  // without ever entering the heap (what is left in the heap while the filling climbs is the band of links just above
  // its level).
  waiting_.clear();
  double smallest = kNoCap;
  for (LinkIndex l : heap_) {
    key_[l] = share_of(links_[l].rem, links_[l].wsum);
    smallest = std::min(smallest, key_[l]);
  }
  if (threshold != kNoCap && smallest < kNoCap) threshold = std::min(threshold, kThresholdStep * smallest);
  std::size_t in_heap = 0;
  for (LinkIndex l : heap_) {
    if (key_[l] <= threshold)
      heap_[in_heap++] = l;
    else
      waiting_.push_back(l);
  }
  heap_.resize(in_heap);
  std::make_heap(heap_.begin(), heap_.end(), [&](std::uint32_t x, std::uint32_t y) { return before(y, x); });
  LinkState* ls = links_.data();
  // Freezes variable v at `level`: its links lose its load and weight. `skip`: the saturating link, left out (its
  // state is set once after the event: updating it from every variable it freezes would chain them all through one
  // memory location).
  auto freeze = [&](std::uint32_t v, double level, LinkIndex skip = ~0u) {
    frozen_[v] = 1;
    level_[v] = level;
    froze_at_[v] = skip;
    order_[ordered_++] = v;
    const VarView r = vars_.view(v);
    const double w = r.weight();
    auto links = r.links();
    const bool unit = r.unit();
    for (std::uint32_t i = 0; i < links.size(); ++i) {
      const LinkIndex m = links[i];
      if (m == skip) continue;
      const double aw = unit ? w : r.coefficient(i) * w;
      ls[m].rem -= aw * level;
      ls[m].wsum -= aw;
      --ls[m].nvars;
    }
  };
  auto pop = [&] {
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(0);
  };
  while (true) {
    // The heap's top, made current: links without free variables leave; a stale key is raised and sunk.
    while (!heap_.empty()) {
      const LinkIndex l = heap_.front();
      if (ls[l].nvars == 0) {
        pop();
        continue;
      }
      const double share = share_of(ls[l].rem, ls[l].wsum);
      if (share <= key_[l]) break;
      key_[l] = share;
      sift_down(0);
    }
    if (!waiting_.empty() && (heap_.empty() || key_[heap_.front()] > threshold)) {
      const double m = std::min(smallest_waiting_share(), heap_.empty() ? kNoCap : key_[heap_.front()]);
      threshold = m < kNoCap ? std::max(threshold, kThresholdStep * m) : kNoCap;
      admit(threshold);
      continue;
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
    const double level = share_of(ls[l].rem, ls[l].wsum);
    // The link's variables are scattered over the records: prefetch their frozen flags, then the records of those
    // still free (a record of up to 48 bytes may straddle two cache lines), ahead, so that the misses overlap and no
    // line is fetched for a variable already frozen (most of them: a variable is listed on each of its links).
    const std::uint32_t* entries = vars_.link_var.data();
    const std::uint32_t* record_at = vars_.record_at.data();
    const std::uint8_t* frozen = frozen_.data();
    const std::uint64_t b = vars_.link_begin[l], e = b + vars_.link_vars[l];
    for (auto i = b; i < e; ++i) {
      if (i + 24 < e) __builtin_prefetch(&frozen[entries[i + 24]]);
      if (i + 16 < e && !frozen[entries[i + 16]]) __builtin_prefetch(&record_at[entries[i + 16]]);
      if (i + 8 < e && !frozen[entries[i + 8]]) {
        const char* rec = reinterpret_cast<const char*>(vars_.record_address(record_at[entries[i + 8]]));
        __builtin_prefetch(rec);
        __builtin_prefetch(rec + 40);
      }
      if (!frozen[entries[i]]) freeze(entries[i], level, l);
    }
    ls[l] = LinkState{0.0, 0.0, 0};  // saturated: its capacity is taken, every variable of it is frozen
    pop();
  }
}

void RoundsRateSolver::do_solve(const RateProblem& p, std::span<double> rates) {
  vars_.build(p);
  var_level_.assign(vars_.size(), 0.0);
  scope_.clear();
  rounds(p, -kNoCap, rates);
}

void RoundsRateSolver::do_remove_flows(const RateProblem& p, std::span<const FlowIndex> flows,
                                       std::span<double> rates, bool /*rates_current*/) {
  vars_.index(p.num_flows());
  affected_components(vars_, flows, scope_);
  rounds(p, vars_.remove_flows(p, flows, var_level_, alive_), rates);
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
  return vars_.memory_bytes() + bytes_of(links_, key_, level_, heap_, waiting_, caps_, frozen_, order_, pos_, froze_at_,
                                         merge_, local_, var_stamp_, link_stamp_, link_max_, was_bottleneck_at_,
                                         link_epoch_, changed_links_, closure_, in_closure_, link_seen_, link_queue_,
                                         thawed_, in_scope_, changed_, alive_);
}

std::size_t RoundsRateSolver::memory_bytes() const {
  return vars_.memory_bytes() + bytes_of(frozen_, var_level_, var_min_, rem_, wsum_, share_, link_min_, nvars_,
                                         active_vars_, active_links_, link_bottleneck_, alive_);
}

}  // namespace collemu::models::solver
