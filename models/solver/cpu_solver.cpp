#include "models/solver/cpu_solver.hpp"

#include <algorithm>

namespace collemu::models::solver {

namespace {

double share_of(double rem, double wsum) { return rem > 0 ? rem / wsum : 0.0; }

// How far above the smallest share the heap of a re-solve reaches (fill()): links above it wait outside. 1.25 rather
// than 2: the shares of a re-solve's links sit in a narrow band, and a link that waits usually ends with every variable
// frozen elsewhere, leaving without a heap operation (measured: docs/rate-solver.md).
constexpr double kThresholdStep = 1.25;

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
  link_seen_.assign(nl, 0);
  event_head_.resize(nv);
  thawed_since_sweep_ = 0;
  level_.resize(nv);
  order_.resize(nv);
  pos_.resize(nv);
  ordered_ = 0;
  positioned_ = 0;
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
  if (positioned_ < ordered_) {  // positions are kept from the first re-solve on (a full solve does not need them)
    for (std::size_t i = 0; i < ordered_; ++i) pos_[order_[i]] = static_cast<std::uint32_t>(i);
    positioned_ = ordered_;
  }
  // The first event that froze a removed flow's variable: back from the earliest such variable to its event's first.
  std::size_t start = ordered_;
  for (FlowIndex f : flows) start = std::min<std::size_t>(start, pos_[vars_.of_flow[f]]);
  while (start > 0 && start < ordered_ && !event_head_[order_[start]]) --start;
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
  vars_.remove_flows(p, flows, level_, alive_);

  // Thaw the variables that can change: those frozen from `start` on that are joined to a removed flow's variable
  // through links, walking only over variables frozen from `start` on (find_closure). Few of them: one by one, adding
  // their loads back onto their links. Many: one sweep over the affected components in variable order, which reads the
  // records sequentially and recomputes their links from capacity. A sweep also comes once the variables thawed one
  // by one since the last one outnumber the variables, so that rounding cannot pile up over a long run (at a cost
  // proportional to the work done).
  heap_.clear();
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
    thawed_since_sweep_ += thaw_closure(start, whole);
  }
  for (std::uint32_t v : closure_) in_closure_[v] = 0;
  // The variables left frozen keep their places in order_, ahead of those the filling will append. Variables whose
  // flows have all finished leave it: frozen for good and loading nothing, they would only make later re-solves look
  // larger than they are (an event head among them leaves its event to the one before: thawing from there is safe).
  thawed_.clear();
  std::size_t kept = start;
  double lowest = kNoCap, highest = 0;
  for (std::size_t i = start; i < ordered_; ++i) {
    const std::uint32_t v = order_[i];
    if (frozen_[v]) {
      if (vars_.live_flows[v] == 0) continue;
      order_[kept] = v;
      pos_[v] = static_cast<std::uint32_t>(kept++);
    } else {
      thawed_.push_back(v);
      lowest = std::min(lowest, level_[v]);
      highest = std::max(highest, level_[v]);
    }
  }
  ordered_ = kept;
  // Caps bind at or above their variable's old level: the sorted list is entered at the lowest thawed level.
  const auto first_cap = std::lower_bound(caps_.begin(), caps_.end(), lowest,
                                          [&](std::uint32_t v, double x) { return vars_.cap_share[v] < x; });
  fill(static_cast<std::size_t>(first_cap - caps_.begin()), highest);
  for (std::size_t i = kept; i < ordered_; ++i) pos_[order_[i]] = static_cast<std::uint32_t>(i);
  positioned_ = ordered_;

  auto write = [&](FlowIndex f) { rates[f] = alive_[f] ? p.weight(f) * level_[vars_.of_flow[f]] : 0.0; };
  if (!rates_current || thawed_.size() * 4 > vars_.size()) {
    for (FlowIndex f = 0; f < p.num_flows(); ++f) write(f);
    return;
  }
  wrote_all_ = false;
  for (std::uint32_t v : thawed_)
    for (auto i = vars_.var_flow_begin[v]; i < vars_.var_flow_begin[v + 1]; ++i) {
      write(vars_.var_flow[i]);
      written_.push_back(vars_.var_flow[i]);
    }
  for (FlowIndex f : flows) {  // also those whose variable emptied and stays frozen
    rates[f] = 0.0;
    written_.push_back(f);
  }
}

void CpuRateSolver::thaw(std::uint32_t v) {
  frozen_[v] = 0;
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
  // Why it is enough (the others keep their levels bit for bit): events before `start` cannot change (the removed
  // variables were free, their links unsaturated; less weight only raises shares). From `start` on, a link that no
  // closure variable crosses is crossed, above the start level, only by variables outside the closure, and below it
  // by variables frozen for good: its share at every level is what it was, so it saturates where it did and its
  // variables freeze where they did. The closure and the rest are independent problems above the start level, each
  // filled in its own valid order; the order they leave in order_ (the rest in place, the closure after it) is valid
  // for every later removal for the same reason.
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
  // closure is most of what froze from `start` on, that costs more than it saves. Past a budget (the closure at an
  // eighth of those variables, or a quarter as many link entries read) it stops and takes all of them: what thawing from
  // `start` always did, and as exact.
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

std::size_t CpuRateSolver::thaw_closure(std::size_t start, bool whole) {
  // Each thawed variable's load goes back on its links (at its current weight; the removed weight is added back
  // below), and its weight becomes free weight there. Records are prefetched ahead of the walk.
  const std::uint32_t* record_at = vars_.record_at.data();
  std::size_t thawed = 0;
  auto thaw_one = [&](std::uint32_t v) {
    ++thawed;
    const VarView r = vars_.view(v);
    const double load = r.weight() * level_[v];
    auto links = r.links();
    for (std::uint32_t k = 0; k < links.size(); ++k) links_[links[k]].rem += r.coefficient(k) * load;
    thaw(v);
  };
  if (whole) {  // every live variable of the affected components frozen from `start` on, in freezing order
    for (std::size_t i = start; i < ordered_; ++i) {
      if (i + 16 < ordered_) __builtin_prefetch(&record_at[order_[i + 16]]);
      if (i + 8 < ordered_) __builtin_prefetch(vars_.record_address(record_at[order_[i + 8]]));
      const std::uint32_t v = order_[i];
      if (in_scope_[vars_.var_component[v]] && vars_.live_flows[v] > 0) thaw_one(v);
    }
  } else {
    const std::size_t n = closure_.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (i + 16 < n) __builtin_prefetch(&record_at[closure_[i + 16]]);
      if (i + 8 < n) __builtin_prefetch(vars_.record_address(record_at[closure_[i + 8]]));
      thaw_one(closure_[i]);
    }
  }
  for (const auto& [v, old_weight] : changed_) {
    const VarView r = vars_.view(v);
    const double load = (old_weight - r.weight()) * level_[v];
    auto links = r.links();
    for (std::uint32_t k = 0; k < links.size(); ++k) links_[links[k]].rem += r.coefficient(k) * load;
  }
  return thawed;
}

void CpuRateSolver::rebuild_from(const RateProblem& p, std::size_t start, bool whole) {
  // The affected components' links start over at full capacity; their variables that stay frozen take their loads
  // again, the others (the closure, or all from `start` on) thaw.
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
      event_head_[v] = 1;
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
    std::uint8_t head = 1;  // the event's first variable
    for (auto i = b; i < e; ++i) {
      if (i + 24 < e) __builtin_prefetch(&frozen[entries[i + 24]]);
      if (i + 16 < e && !frozen[entries[i + 16]]) __builtin_prefetch(&record_at[entries[i + 16]]);
      if (i + 8 < e && !frozen[entries[i + 8]]) {
        const char* rec = reinterpret_cast<const char*>(vars_.record_address(record_at[entries[i + 8]]));
        __builtin_prefetch(rec);
        __builtin_prefetch(rec + 40);
      }
      if (!frozen[entries[i]]) {
        event_head_[entries[i]] = head;
        head = 0;
        freeze(entries[i], level, l);
      }
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
  return vars_.memory_bytes() + bytes_of(links_, key_, level_, heap_, waiting_, caps_, frozen_, event_head_, order_, pos_,
                                         closure_, in_closure_, link_seen_, link_queue_,
                                         thawed_, in_scope_, changed_, alive_);
}

std::size_t RoundsRateSolver::memory_bytes() const {
  return vars_.memory_bytes() + bytes_of(frozen_, var_level_, var_min_, rem_, wsum_, share_, link_min_, nvars_,
                                         active_vars_, active_links_, link_bottleneck_, alive_);
}

}  // namespace collemu::models::solver
