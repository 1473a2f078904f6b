#include "models/solver/flow_engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace collemu::models::solver {

namespace {

std::string flow_name(std::size_t f) { return "flow " + std::to_string(f); }

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void require_finite_nonnegative(double v, std::size_t f, const char* what, const char* unit) {
  if (!std::isfinite(v) || v < 0)
    throw SolverInputError(flow_name(f) + ": " + what + " " + number(v) + " " + unit +
                           "; expected a finite value >= 0");
}

// Flows within this relative distance of their end finish at the event that brings them there (they tie with the
// flow that set the event's time, up to rounding).
constexpr double kFinishTolerance = 1e-12;
// Completions projected up to this relative distance after an event's time are checked against the tolerance above
// (it allows a projected finish up to about t / (1 - 1e-12); rounding adds a few ulps).
constexpr double kCandidateMargin = 4e-12;

// 64-bit mixing (splitmix64's finaliser), for the signature of a component's problem.
std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}
std::uint64_t bits(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

std::uint64_t signature(const RateProblem& p) {
  std::uint64_t h = mix(p.num_links(), p.num_flows());
  for (LinkIndex l = 0; l < p.num_links(); ++l) h = mix(h, bits(p.capacity_Bps(l)));
  for (FlowIndex f = 0; f < p.num_flows(); ++f) {
    h = mix(h, bits(p.weight(f)));
    h = mix(h, bits(p.cap_Bps(f)));
    const auto links = p.links(f);
    const auto coeffs = p.coefficients(f);
    h = mix(h, links.size());
    for (std::size_t i = 0; i < links.size(); ++i) h = mix(mix(h, links[i]), bits(coeffs[i]));
  }
  return h;
}

bool same_problem(const RateProblem& a, const RateProblem& b) {
  if (a.num_links() != b.num_links() || a.num_flows() != b.num_flows() || a.num_entries() != b.num_entries())
    return false;
  for (LinkIndex l = 0; l < a.num_links(); ++l)
    if (bits(a.capacity_Bps(l)) != bits(b.capacity_Bps(l))) return false;
  for (FlowIndex f = 0; f < a.num_flows(); ++f) {
    if (bits(a.weight(f)) != bits(b.weight(f)) || bits(a.cap_Bps(f)) != bits(b.cap_Bps(f))) return false;
    const auto la = a.links(f), lb = b.links(f);
    if (!std::equal(la.begin(), la.end(), lb.begin(), lb.end())) return false;
    const auto ca = a.coefficients(f), cb = b.coefficients(f);
    for (std::size_t i = 0; i < ca.size(); ++i)
      if (bits(ca[i]) != bits(cb[i])) return false;
  }
  return true;
}

bool later(const std::pair<double, FlowId>& a, const std::pair<double, FlowId>& b) { return a > b; }

}  // namespace

// A solved rate problem, shared by the identical components that use it.
struct FlowEngine::Shape {
  RateProblem problem;
  std::unique_ptr<RateSolver> solver;
  std::vector<double> rates;  // per problem flow, as the solver last wrote them
  // The removal sets applied since the solve, kept while the shape has several users: how a copy is rebuilt. It grows
  // by one set per event for as long as identical components stay in step (and is dropped when one user is left).
  std::vector<std::vector<FlowIndex>> history;
  std::uint32_t users = 0;
  std::uint64_t hash = 0;
  bool fresh = true;  // no flow has left it yet: a new identical component may share it
};

// A page of flows and the arena of their links and coefficients. Its flow table is reserved whole (untouched memory is
// not resident until written); the arena grows by blocks that never move, a flow's entries contiguous in one block.
struct FlowEngine::Page {
  std::vector<Flow> flows;
  std::uint32_t released = 0;
  template <class T>
  struct Arena {
    static constexpr std::size_t kBlock = std::size_t{1} << 16;  // entries
    std::vector<std::unique_ptr<T[]>> blocks, big;  // big: one each for flows of more than kBlock entries
    std::size_t used = kBlock;                      // of the last block
    T* take(std::size_t n) {
      if (n == 0) return nullptr;
      if (n > kBlock) return big.emplace_back(new T[n]).get();
      if (used + n > kBlock) {
        blocks.emplace_back(new T[kBlock]);
        used = 0;
      }
      T* p = blocks.back().get() + used;
      used += n;
      return p;
    }
  };
  Arena<LinkIndex> links;
  Arena<double> coeffs;
  Page() { flows.reserve(kPageFlows); }
};

FlowEngine::FlowEngine(std::vector<double> capacity_Bps, SolverFactory solver, FlowEngineOptions options)
    : capacity_Bps_(std::move(capacity_Bps)), make_solver_(std::move(solver)), options_(options) {
  if (!make_solver_) throw SolverInputError("flow engine: no rate solver factory");
  if (!(options_.finish_tolerance >= 0 && options_.finish_tolerance <= kMaxFinishTolerance))
    throw SolverInputError("finish tolerance " + number(options_.finish_tolerance) +
                           "; expected a fraction of a flow's sending time in [0, " + number(kMaxFinishTolerance) +
                           "] (0: exact)");
  for (std::size_t l = 0; l < capacity_Bps_.size(); ++l)
    if (!std::isfinite(capacity_Bps_[l]) || capacity_Bps_[l] < 0)
      throw SolverInputError("link " + std::to_string(l) + ": capacity " + number(capacity_Bps_[l]) +
                             " B/s; expected a finite capacity >= 0");
  link_bytes_.assign(capacity_Bps_.size(), 0.0);
  comp_of_link_.assign(capacity_Bps_.size(), kNone);
  local_link_.assign(capacity_Bps_.size(), kNone);
}

FlowEngine::~FlowEngine() = default;

// ---- the flow table: pages, and their release ----

const FlowEngine::Flow& FlowEngine::kept(FlowId f) const {
  if (f >= num_flows_) throw SolverInputError(flow_name(f) + ": there is no such flow");
  const Flow* fl = find(f);
  if (!fl) throw SolverInputError(flow_name(f) + ": released, its record is gone");
  return *fl;
}

void FlowEngine::store_entries(FlowId f, Flow& fl, std::span<const LinkIndex> links,
                               std::span<const double> coefficients, bool unit) {
  Page& page = *pages_[f >> kPageBits];
  LinkIndex* l = page.links.take(links.size());
  std::copy(links.begin(), links.end(), l);
  fl.links = l;
  fl.entries = static_cast<std::uint32_t>(links.size());
  fl.coeffs = nullptr;
  if (!unit) {
    double* a = page.coeffs.take(coefficients.size());
    std::copy(coefficients.begin(), coefficients.end(), a);
    fl.coeffs = a;
  }
}

void FlowEngine::release(FlowId first, std::size_t count) {
  if (count == 0) return;
  if (first >= num_flows_ || count > num_flows_ - first)
    throw SolverInputError("release of flows " + std::to_string(first) + " to " + std::to_string(first + count - 1) +
                           ": there are " + std::to_string(num_flows_) + " flows");
  for (std::size_t i = 0; i < count; ++i) {
    const FlowId f = static_cast<FlowId>(first + i);
    const Flow* fl = find(f);
    if (!fl || fl->dependents == kReleased) throw SolverInputError(flow_name(f) + ": released twice");
    if (fl->finish_s < 0) throw SolverInputError(flow_name(f) + ": released before it finished");
  }
  for (std::size_t i = 0; i < count; ++i) {
    const FlowId f = static_cast<FlowId>(first + i);
    flow(f).dependents = kReleased;
    Page& page = *pages_[f >> kPageBits];
    if (++page.released == kPageFlows) {  // a full page, every flow released: gone
      pages_[f >> kPageBits].reset();
      page_flows_[f >> kPageBits] = nullptr;
    }
  }
  released_ += count;
}

FlowId FlowEngine::add_flow(const FlowSpec& spec) {
  const std::size_t f = num_flows_;
  if (f >= std::numeric_limits<FlowId>::max() - 1) throw SolverInputError("too many flows for 32-bit flow ids");
  require_finite_nonnegative(spec.bytes, f, "size", "B");
  require_finite_nonnegative(spec.latency_s, f, "latency", "s");
  if (spec.start_s != kNow && !(std::isfinite(spec.start_s) && spec.start_s >= now_s_))
    throw SolverInputError(flow_name(f) + ": earliest start " + number(spec.start_s) + " s; expected a time from the " +
                           "engine's clock (" + number(now_s_) + " s) on: a flow cannot start in the past");
  if (!spec.coefficients.empty() && spec.links.size() != spec.coefficients.size())
    throw SolverInputError(flow_name(f) + ": " + std::to_string(spec.links.size()) + " links but " +
                           std::to_string(spec.coefficients.size()) + " coefficients; expected one per link");
  if (spec.bytes > 0 && spec.links.empty())
    throw SolverInputError(flow_name(f) + ": " + number(spec.bytes) + " B over no link; expected at least one");
  if (spec.links.size() > std::numeric_limits<std::uint32_t>::max())
    throw SolverInputError(flow_name(f) + ": too many links");
  // Weight, cap, links and coefficients as the rate problem checks them (each link once included): checked now, not at
  // a re-solve in the middle of a run.
  const bool unit = RateProblem::check_flow(f, capacity_Bps_.size(), spec.weight, spec.cap_Bps, spec.links,
                                            spec.coefficients);
  for (FlowId d : spec.after) {
    if (d >= f)
      throw SolverInputError(flow_name(f) + ": waits for flow " + std::to_string(d) +
                             ", which is not an earlier flow");
    if (const Flow* w = find(d); !w || w->dependents == kReleased)
      throw SolverInputError(flow_name(f) + ": waits for flow " + std::to_string(d) + ", which was released");
  }
  // A flow that breaks a guard puts its link back into the problems (the flows already sending on it are solved
  // again with it) before it is added.
  if (!guards_.empty()) {
    std::vector<LinkIndex> broken;
    check_guards(spec.links, spec.coefficients, broken);
    if (!broken.empty()) {
      std::vector<std::uint32_t> comps;
      release_guards(broken, comps);
      solve_again(comps, {}, {});
    }
  }

  if ((f & (kPageFlows - 1)) == 0) {
    pages_.push_back(std::make_unique<Page>());
    page_flows_.push_back(pages_.back()->flows.data());
  }
  Flow fl{};
  fl.bytes = spec.bytes;
  fl.latency_s = spec.latency_s;
  fl.start_s = spec.start_s;
  fl.weight = spec.weight;
  fl.cap_Bps = spec.cap_Bps;
  store_entries(static_cast<FlowId>(f), fl, spec.links, spec.coefficients, unit);
  count_guard_flows(fl, 1);
  for (FlowId d : spec.after) {
    Flow& w = flow(d);
    if (w.finish_s >= 0) continue;
    ++fl.pending;
    dep_flow_.push_back(static_cast<FlowId>(f));
    dep_next_.push_back(w.dependents);
    w.dependents = static_cast<std::uint32_t>(dep_flow_.size() - 1);
  }
  pages_.back()->flows.push_back(fl);
  ++num_flows_;
  if (fl.pending == 0) make_ready(static_cast<FlowId>(f), now_s_);
  return static_cast<FlowId>(f);
}

void FlowEngine::make_ready(FlowId f, double now) {
  Flow& fl = flow(f);
  fl.ready_s = std::max(now, fl.start_s);
  fl.send_s = fl.ready_s + fl.latency_s;
  timers_.emplace_back(fl.send_s, f);
  std::push_heap(timers_.begin(), timers_.end(), later);
}

void FlowEngine::finish(FlowId f, double now) {
  Flow& fl = flow(f);
  fl.finish_s = now;
  fl.remaining_B = 0;
  ++finished_;
  makespan_s_ = std::max(makespan_s_, now);
  reported_.push_back({f, now});
  double bytes = fl.bytes;
  if (!credited_B_.empty())
    if (auto it = credited_B_.find(f); it != credited_B_.end()) {
      bytes -= it->second;  // sent over links it left (update())
      credited_B_.erase(it);
    }
  for (std::uint32_t i = 0; i < fl.entries; ++i) link_bytes_[fl.links[i]] += coefficient(fl, i) * bytes;
  count_guard_flows(fl, -1);
  for (std::uint32_t e = fl.dependents; e != kNone; e = dep_next_[e]) {
    const FlowId d = dep_flow_[e];
    if (--flow(d).pending == 0) make_ready(d, now);
  }
}

double FlowEngine::next_event_s() const {
  double t = std::numeric_limits<double>::infinity();
  if (!timers_.empty()) t = timers_.front().first;
  if (!completions_.empty()) t = std::min(t, completions_.front().time_s);
  return t;
}

std::span<const FinishedFlow> FlowEngine::advance_to(double t_s) {
  if (!std::isfinite(t_s) || t_s < now_s_)
    throw SolverInputError("advance_to " + number(t_s) + " s; expected a finite time from the clock (" +
                           number(now_s_) + " s) on");
  reported_.clear();
  for (double e = next_event_s(); e <= t_s; e = next_event_s()) process_event(std::max(e, now_s_));
  now_s_ = t_s;
  return reported_;
}

void FlowEngine::run() {
  while (!done()) {
    const double t = next_event_s();
    if (!std::isfinite(t)) {
      for (FlowId f = 0; f < num_flows_; ++f)
        if (const Flow* fl = find(f); fl && fl->comp != kNone)
          throw SolverInputError(flow_name(f) + " can never finish: every sending flow has rate 0");
      for (FlowId f = 0; f < num_flows_; ++f)
        if (const Flow* fl = find(f); fl && fl->finish_s < 0)
          throw SolverInputError(flow_name(f) + " never became ready: it waits for a flow that cannot finish");
    }
    advance_to(t);
  }
}

// ---- completions: a heap of projected finish times, updated only for flows whose rate changes ----

namespace {
bool completion_later(const auto& a, const auto& b) {
  return a.time_s != b.time_s ? a.time_s > b.time_s : a.flow > b.flow;
}
}  // namespace

namespace {
// Pushes c onto the lazy heap h; when h has doubled since its last pass, drops its stale entries (one live entry per
// sending flow at most), so that the passes cost O(1) per push.
template <class C>
void push_lazy(std::vector<C>& h, std::size_t& compact_at, const C& c, const auto& stale) {
  h.push_back(c);
  std::push_heap(h.begin(), h.end(), completion_later<C, C>);
  if (h.size() > compact_at) {
    std::erase_if(h, stale);
    std::make_heap(h.begin(), h.end(), completion_later<C, C>);
    compact_at = 2 * h.size() + 1024;
  }
}
}  // namespace

bool FlowEngine::stale(const Completion& c) const {
  const Flow* fl = find(c.flow);
  return !fl || fl->version != c.version || fl->comp == kNone;
}

void FlowEngine::push_completion(FlowId f) {
  const Flow& fl = flow(f);
  if (fl.rate_Bps <= 0) return;
  auto is_stale = [&](const Completion& c) { return stale(c); };
  const double end_s = fl.updated_s + fl.remaining_B / fl.rate_Bps;
  push_lazy(completions_, compact_at_, Completion{end_s, f, fl.version}, is_stale);
  // A flow that nothing waits for (yet: dependents only grow, and collect_completions checks again) may tie from
  // end - tol (end - send_s) on.
  if (const double tol = options_.finish_tolerance; tol > 0 && fl.dependents == kNone)
    push_lazy(ties_, compact_ties_at_, Completion{end_s - tol * (end_s - fl.send_s), f, fl.version}, is_stale);
}

void FlowEngine::settle_heap() {
  while (!completions_.empty() && stale(completions_.front())) {
    std::pop_heap(completions_.begin(), completions_.end(), completion_later<Completion, Completion>);
    completions_.pop_back();
  }
}

void FlowEngine::set_rate(FlowId f, double rate_Bps) {
  Flow& fl = flow(f);
  if (rate_Bps == fl.rate_Bps) return;
  fl.remaining_B -= fl.rate_Bps * (now_s_ - fl.updated_s);
  fl.updated_s = now_s_;
  fl.rate_Bps = rate_Bps;
  ++fl.version;
  push_completion(f);
}

void FlowEngine::collect_completions(double t, std::vector<FlowId>& out) {
  std::vector<Completion>& keep = keep_scratch_;
  const double tol = options_.finish_tolerance;
  const double bound = t + kCandidateMargin * std::abs(t);
  // A flow that started sending at s and ends at e ties when nothing waits for it and e - t <= tol (e - s).
  auto ties = [&](const Flow& fl, double end_s) {
    return tol > 0 && fl.dependents == kNone && end_s - t <= tol * (end_s - fl.send_s);
  };
  // Pops the candidates of h (keys up to bound); those that `due` refuses go back.
  auto collect = [&](std::vector<Completion>& h, const auto& due) {
    keep.clear();
    while (!h.empty() && h.front().time_s <= bound) {
      const Completion c = h.front();
      std::pop_heap(h.begin(), h.end(), completion_later<Completion, Completion>);
      h.pop_back();
      if (stale(c)) continue;
      if (due(c))
        out.push_back(c.flow);
      else
        keep.push_back(c);
    }
    for (const Completion& c : keep) {
      h.push_back(c);
      std::push_heap(h.begin(), h.end(), completion_later<Completion, Completion>);
    }
  };
  // Due by now, or close enough to tie (the projection itself may round a few ulps past t), or within the tolerance.
  collect(completions_, [&](const Completion& c) {
    const Flow& fl = flow(c.flow);
    return c.time_s <= t || fl.rate_Bps * (t - fl.updated_s) >= fl.remaining_B * (1 - kFinishTolerance) ||
           ties(fl, c.time_s);
  });
  if (tol > 0)
    collect(ties_, [&](const Completion& c) {
      const Flow& fl = flow(c.flow);
      return ties(fl, fl.updated_s + fl.remaining_B / fl.rate_Bps);
    });
  // A flow taken from both heaps (its other entry was not stale yet) is reported once.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

// ---- one event ----

void FlowEngine::process_event(double t) {
  ++stats_.events;
  now_s_ = t;
  std::vector<FlowId>& finished = finished_scratch_;
  finished.clear();
  collect_completions(t, finished);
  sending_ -= finished.size();
  for (FlowId f : finished) finish(f, t);

  // Timers due now start sending; flows with nothing to send finish at once, which may make others ready.
  std::vector<FlowId>& joined = joined_scratch_;
  joined.clear();
  while (!timers_.empty() && timers_.front().first <= t) {
    std::pop_heap(timers_.begin(), timers_.end(), later);
    const FlowId f = timers_.back().second;
    timers_.pop_back();
    Flow& fl = flow(f);
    if (fl.bytes == 0) {
      finish(f, t);
      continue;
    }
    fl.remaining_B = fl.bytes;  // sending from now, at rate 0 until its component is solved below
    fl.updated_s = t;
    fl.rate_Bps = 0;
    joined.push_back(f);
  }

  // Components the joining flows touch are rebuilt with them; the others drop their finished flows.
  std::vector<std::uint32_t>& touched = touched_scratch_;
  touched.clear();
  for (FlowId f : joined) {
    const Flow& fl = flow(f);
    for (std::uint32_t i = 0; i < fl.entries; ++i)
      if (const std::uint32_t c = comp_of_link_[fl.links[i]]; c != kNone) touched.push_back(c);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  remove_finished(finished, touched);
  join(joined);
  settle_heap();
}

void FlowEngine::join(std::vector<FlowId>& joined) {
  if (!joined.empty()) {
    std::sort(joined.begin(), joined.end());
    // Joining flows that share links with each other, or touch the same component, end up in one component: a
    // union-find over the links they cross and the components those links are in (node L + c), stamped per event so
    // that only what this event touches is initialised.
    const std::size_t nl = capacity_Bps_.size();
    if (uf_parent_.size() < nl + comps_.size()) {
      uf_parent_.resize(nl + comps_.size());
      uf_stamp_.resize(nl + comps_.size(), 0);
      uf_group_.resize(nl + comps_.size());
    }
    if (++uf_epoch_ == 0) {  // the stamps wrapped around: start them over
      std::fill(uf_stamp_.begin(), uf_stamp_.end(), 0);
      uf_epoch_ = 1;
    }
    auto find = [&](std::uint32_t x) {
      if (uf_stamp_[x] != uf_epoch_) {
        uf_stamp_[x] = uf_epoch_;
        uf_parent_[x] = x;
        uf_group_[x] = kNone;
      }
      while (uf_parent_[x] != x) x = uf_parent_[x] = uf_parent_[uf_parent_[x]];
      return x;
    };
    auto unite = [&](std::uint32_t a, std::uint32_t b) {
      a = find(a), b = find(b);
      if (a != b) uf_parent_[std::max(a, b)] = std::min(a, b);
    };
    for (const FlowId f : joined) {
      const Flow& fl = flow(f);
      const LinkIndex first = first_constraining(fl);
      for (std::uint32_t e = 0; e < fl.entries; ++e) {
        const LinkIndex l = fl.links[e];
        if (!constrains(l)) continue;
        unite(l, first);
        if (comp_of_link_[l] != kNone) unite(l, static_cast<std::uint32_t>(nl + comp_of_link_[l]));
      }
    }
    // Groups in order of their lowest flow id; one rebuild per group.
    std::vector<std::uint32_t> group_of(joined.size());
    std::uint32_t groups = 0;
    for (std::size_t i = 0; i < joined.size(); ++i) {
      const std::uint32_t r = find(first_constraining(flow(joined[i])));
      if (uf_group_[r] == kNone) uf_group_[r] = groups++;
      group_of[i] = uf_group_[r];
    }
    std::vector<std::uint32_t> begin(groups + 1, 0);
    for (std::uint32_t g : group_of) ++begin[g + 1];
    for (std::uint32_t g = 0; g < groups; ++g) begin[g + 1] += begin[g];
    std::vector<FlowId> by_group(joined.size());
    {
      std::vector<std::uint32_t> at(begin.begin(), begin.end() - 1);
      for (std::size_t i = 0; i < joined.size(); ++i) by_group[at[group_of[i]]++] = joined[i];
    }
    std::vector<std::uint32_t> group_comps;
    for (std::uint32_t g = 0; g < groups; ++g) {
      const std::span<const FlowId> group_flows(by_group.data() + begin[g], begin[g + 1] - begin[g]);
      group_comps.clear();
      for (const FlowId f : group_flows) {
        const Flow& fl = flow(f);
        for (std::uint32_t e = 0; e < fl.entries; ++e)
          if (const std::uint32_t c = comp_of_link_[fl.links[e]]; c != kNone)
            group_comps.push_back(c);
      }
      rebuild(group_comps, group_flows);
    }
    sending_ += joined.size();
    stats_.max_sending = std::max(stats_.max_sending, sending_);
  }
}

void FlowEngine::update(std::span<const Reroute> reroutes, std::span<const CapacityChange> capacities) {
  // Everything is checked before anything changes.
  std::vector<std::uint8_t> listed;
  for (const Reroute& r : reroutes) {
    if (r.flow >= num_flows_)
      throw SolverInputError(flow_name(r.flow) + ": re-routed, but there is no such flow");
    if (!find(r.flow)) throw SolverInputError(flow_name(r.flow) + ": re-routed, but it was released");
    const Flow& fl = flow(r.flow);
    if (fl.finish_s >= 0)
      throw SolverInputError(flow_name(r.flow) + ": re-routed at " + number(now_s_) + " s, but it finished at " +
                             number(fl.finish_s) + " s");
    if (listed.size() < num_flows_) listed.assign(num_flows_, 0);
    if (listed[r.flow]++) throw SolverInputError(flow_name(r.flow) + ": re-routed twice in one update");
    if (!r.coefficients.empty() && r.links.size() != r.coefficients.size())
      throw SolverInputError(flow_name(r.flow) + ": " + std::to_string(r.links.size()) + " links but " +
                             std::to_string(r.coefficients.size()) + " coefficients; expected one per link");
    if (fl.bytes > 0 && r.links.empty())
      throw SolverInputError(flow_name(r.flow) + ": re-routed over no link; expected at least one");
    RateProblem::check_flow(r.flow, capacity_Bps_.size(), fl.weight, fl.cap_Bps, r.links, r.coefficients);
  }
  for (const CapacityChange& c : capacities) {
    if (c.link >= capacity_Bps_.size())
      throw SolverInputError("link " + std::to_string(c.link) + ": capacity changed, but there is no such link");
    if (!std::isfinite(c.capacity_Bps) || c.capacity_Bps < 0)
      throw SolverInputError("link " + std::to_string(c.link) + ": capacity " + number(c.capacity_Bps) +
                             " B/s; expected a finite capacity >= 0");
  }

  // The components to solve again: those of moved sending flows, of changed links, and of flows on links whose guard
  // the new routes or capacities break.
  std::vector<std::uint32_t> comps;
  for (const Reroute& r : reroutes)
    if (flow(r.flow).comp != kNone) comps.push_back(flow(r.flow).comp);
  for (const CapacityChange& c : capacities) {
    capacity_Bps_[c.link] = c.capacity_Bps;
    if (comp_of_link_[c.link] != kNone) comps.push_back(comp_of_link_[c.link]);
  }
  if (!guards_.empty()) {
    std::vector<LinkIndex> broken;
    for (const Reroute& r : reroutes) check_guards(r.links, r.coefficients, broken);
    if (!capacities.empty())
      for (std::uint32_t g = 0; g < guards_.size(); ++g)
        if (guard_of_[guards_[g].link] == g && !guard_capacity_holds(g)) broken.push_back(guards_[g].link);
    release_guards(broken, comps);
  }
  solve_again(comps, reroutes, listed);
}

void FlowEngine::solve_again(std::vector<std::uint32_t>& comps, std::span<const Reroute> reroutes,
                             const std::vector<std::uint8_t>& listed) {
  std::sort(comps.begin(), comps.end());
  comps.erase(std::unique(comps.begin(), comps.end()), comps.end());
  std::vector<FlowId> moving;
  for (std::uint32_t c : comps)
    for (FlowId f : comps_[c].flow_of)
      if (in_component(f, c)) moving.push_back(f);
  for (FlowId f : moving) {
    Flow& fl = flow(f);
    fl.remaining_B -= fl.rate_Bps * (now_s_ - fl.updated_s);
    fl.remaining_B = std::max(fl.remaining_B, 0.0);
    fl.updated_s = now_s_;
    fl.rate_Bps = 0;
    ++fl.version;  // its projected completion is stale
    if (f < listed.size() && listed[f]) {  // it moves: the bytes sent so far count on its old links
      double& credited = credited_B_[f];
      const double sent = fl.bytes - fl.remaining_B;
      for (std::uint32_t i = 0; i < fl.entries; ++i) link_bytes_[fl.links[i]] += coefficient(fl, i) * (sent - credited);
      credited = sent;
    }
  }
  const std::vector<std::uint32_t> touched = comps;  // emptied below: no incremental re-solve
  remove_finished(moving, touched);
  sending_ -= moving.size();

  for (const Reroute& r : reroutes) {
    Flow& fl = flow(r.flow);
    const bool unit = std::all_of(r.coefficients.begin(), r.coefficients.end(), [](double a) { return a == 1.0; });
    count_guard_flows(fl, -1);
    store_entries(r.flow, fl, r.links, r.coefficients, unit);  // the old entries stay in the arena until the page goes
    count_guard_flows(fl, 1);
  }
  join(moving);
  settle_heap();
}

void FlowEngine::remove_finished(std::vector<FlowId>& finished, const std::vector<std::uint32_t>& touched) {
  // Finished flows leave their components; a component that is rebuilt anyway (touched) just loses them.
  // By (component, flow): pairs sort faster than a comparator that looks the components up.
  std::vector<std::pair<std::uint32_t, FlowId>> by_comp(finished.size());
  for (std::size_t i = 0; i < finished.size(); ++i) by_comp[i] = {flow(finished[i]).comp, finished[i]};
  std::sort(by_comp.begin(), by_comp.end());
  for (std::size_t i = 0; i < finished.size(); ++i) finished[i] = by_comp[i].second;
  struct Removal {
    std::uint32_t shape, comp;
    std::vector<FlowIndex> removed;
  };
  std::vector<Removal> removals;
  for (std::size_t i = 0; i < finished.size();) {
    const std::uint32_t c = flow(finished[i]).comp;
    std::size_t j = i;
    std::vector<FlowIndex> removed;
    while (j < finished.size() && flow(finished[j]).comp == c) removed.push_back(flow(finished[j++]).index);
    Component& k = comps_[c];
    k.live -= static_cast<std::uint32_t>(removed.size());
    if (k.live == 0) {
      free_component(c);  // a touched component that empties is gone before the rebuild looks at it
    } else if (!std::binary_search(touched.begin(), touched.end(), c)) {
      std::sort(removed.begin(), removed.end());
      removals.push_back({k.shape, c, std::move(removed)});
    }
    i = j;
  }
  for (FlowId f : finished) {
    flow(f).comp = kNone;
    flow(f).index = kNone;
  }
  // Per shape: components that lose the same flows at this event stay together; the shape's solver re-solves once for
  // them. Components that lose other flows (or none) than the group that keeps the shape get copies.
  std::sort(removals.begin(), removals.end(), [](const Removal& a, const Removal& b) {
    if (a.shape != b.shape) return a.shape < b.shape;
    if (a.removed != b.removed) return a.removed < b.removed;
    return a.comp < b.comp;
  });
  for (std::size_t i = 0; i < removals.size();) {
    const std::uint32_t s = removals[i].shape;
    std::size_t j = i;
    while (j < removals.size() && removals[j].shape == s) ++j;
    // Classes of equal removal sets within [i, j).
    std::vector<std::pair<std::size_t, std::size_t>> classes;
    for (std::size_t a = i; a < j;) {
      std::size_t b = a;
      while (b < j && removals[b].removed == removals[a].removed) ++b;
      classes.emplace_back(a, b);
      a = b;
    }
    // Components of this shape that lose nothing now, other than those rebuilt below (which let it go then).
    std::size_t rebuilt = 0;
    for (std::uint32_t c : touched) rebuilt += comps_[c].shape == s;
    const bool others_keep = (j - i) + rebuilt < shapes_[s]->users;
    // Copies first, all from the shape's state before this event's removals.
    std::vector<std::uint32_t> target(classes.size(), s);
    for (std::size_t k = others_keep ? 0 : 1; k < classes.size(); ++k) target[k] = clone_shape(s);
    for (std::size_t k = 0; k < classes.size(); ++k) {
      const std::uint32_t t = target[k];
      for (std::size_t r = classes[k].first; r < classes[k].second; ++r) {
        Component& comp = comps_[removals[r].comp];
        if (comp.shape != t) {
          --shapes_[comp.shape]->users;
          comp.shape = t;
          ++shapes_[t]->users;
        }
      }
      Shape& sh = *shapes_[t];
      const auto& removed = removals[classes[k].first].removed;
      unfresh(t);
      sh.solver->remove_flows(sh.problem, removed, sh.rates, RateSolver::Rates::kUnchanged);
      ++stats_.incremental_solves;
      if (sh.users > 1)
        sh.history.push_back(removed);
      else
        sh.history.clear();
      for (std::size_t r = classes[k].first; r < classes[k].second; ++r)
        apply_rates(removals[r].comp, sh.solver->wrote_every_rate());
    }
    if (shapes_[s]->users == 1) shapes_[s]->history.clear();
    i = j;
  }
}

void FlowEngine::apply_rates(std::uint32_t c, bool every) {
  const Component& k = comps_[c];
  const Shape& sh = *shapes_[k.shape];
  auto one = [&](FlowIndex i) {
    const FlowId f = k.flow_of[i];
    if (in_component(f, c)) set_rate(f, sh.rates[i]);
  };
  if (every) {
    for (FlowIndex i = 0; i < k.flow_of.size(); ++i) one(i);
  } else {
    for (FlowIndex i : sh.solver->written_flows()) one(i);
  }
}

// ---- components and shapes ----

std::uint32_t FlowEngine::new_shape() {
  std::uint32_t s;
  if (!free_shapes_.empty()) {
    s = free_shapes_.back();
    free_shapes_.pop_back();
  } else {
    s = static_cast<std::uint32_t>(shapes_.size());
    shapes_.emplace_back();
  }
  shapes_[s] = std::make_unique<Shape>();
  return s;
}

std::uint32_t FlowEngine::clone_shape(std::uint32_t s) {
  const std::uint32_t t = new_shape();
  Shape& from = *shapes_[s];
  Shape& to = *shapes_[t];
  to.problem = from.problem;
  to.solver = make_solver_();
  to.solver->solve(to.problem, to.rates);
  for (const auto& removed : from.history)
    to.solver->remove_flows(to.problem, removed, to.rates, RateSolver::Rates::kUnchanged);
  to.history = from.history;
  to.hash = from.hash;
  to.fresh = false;
  ++stats_.full_solves;
  return t;
}

void FlowEngine::release_shape(std::uint32_t s) {
  Shape& sh = *shapes_[s];
  if (--sh.users > 0) {
    if (sh.users == 1) sh.history.clear();
    return;
  }
  unfresh(s);
  shapes_[s].reset();
  free_shapes_.push_back(s);
}

void FlowEngine::unfresh(std::uint32_t s) {
  Shape& sh = *shapes_[s];
  if (!sh.fresh) return;
  sh.fresh = false;
  for (auto [it, end] = fresh_.equal_range(sh.hash); it != end; ++it)
    if (it->second == s) {
      fresh_.erase(it);
      return;
    }
}

void FlowEngine::free_component(std::uint32_t c) {
  Component& k = comps_[c];
  for (LinkIndex l : k.links) comp_of_link_[l] = kNone;
  if (k.shape != kNone) release_shape(k.shape);
  k = Component{};
  free_comps_.push_back(c);
}

void FlowEngine::rebuild(std::vector<std::uint32_t>& touched, std::span<const FlowId> joined) {
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  std::vector<FlowId> flows(joined.begin(), joined.end());
  for (std::uint32_t c : touched) {
    for (FlowId f : comps_[c].flow_of)
      if (in_component(f, c)) flows.push_back(f);
    free_component(c);
  }
  std::sort(flows.begin(), flows.end());
  std::uint32_t id;
  if (!free_comps_.empty()) {
    id = free_comps_.back();
    free_comps_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(comps_.size());
    comps_.emplace_back();
  }
  Component& k = comps_[id];
  k.flow_of = std::move(flows);
  k.live = static_cast<std::uint32_t>(k.flow_of.size());
  // The component's problem knows its own links only: local index = position in k.links (first appearance).
  std::size_t entries = 0;
  for (const FlowId f : k.flow_of) {
    const Flow& fl = flow(f);
    for (std::uint32_t e = 0; e < fl.entries; ++e) {
      const LinkIndex l = fl.links[e];
      if (!constrains(l)) continue;
      ++entries;
      if (comp_of_link_[l] != id) {
        comp_of_link_[l] = id;
        local_link_[l] = static_cast<std::uint32_t>(k.links.size());
        k.links.push_back(l);
      }
    }
  }
  RateProblem problem;
  problem.reserve(k.links.size(), k.flow_of.size(), entries);
  for (LinkIndex l : k.links) problem.add_link(capacity_Bps_[l]);
  std::vector<LinkIndex> local;
  std::vector<double> coeffs;
  for (std::size_t i = 0; i < k.flow_of.size(); ++i) {
    const FlowId f = k.flow_of[i];
    Flow& fl = flow(f);
    local.clear();
    coeffs.clear();
    for (std::uint32_t e = 0; e < fl.entries; ++e) {
      const LinkIndex l = fl.links[e];
      if (!constrains(l)) continue;
      local.push_back(local_link_[l]);
      coeffs.push_back(coefficient(fl, e));
    }
    problem.add_flow(fl.weight, fl.cap_Bps, local, coeffs);
    fl.comp = id;
    fl.index = static_cast<std::uint32_t>(i);
  }
  ++stats_.full_solves;
  stats_.max_component = std::max(stats_.max_component, k.flow_of.size());
  // An identical component that no flow has left yet has the rates of this one: share its solution.
  const std::uint64_t h = signature(problem);
  k.shape = kNone;
  for (auto [it, end] = fresh_.equal_range(h); it != end; ++it)
    if (same_problem(shapes_[it->second]->problem, problem)) {
      k.shape = it->second;
      ++stats_.shared_solves;
      break;
    }
  if (k.shape == kNone) {
    k.shape = new_shape();
    Shape& sh = *shapes_[k.shape];
    sh.problem = std::move(problem);
    sh.hash = h;
    sh.solver = make_solver_();
    sh.solver->solve(sh.problem, sh.rates);
    if (options_.share_identical_components) fresh_.emplace(h, k.shape);
  }
  Shape& sh = *shapes_[k.shape];
  ++sh.users;
  for (std::size_t i = 0; i < k.flow_of.size(); ++i) set_rate(k.flow_of[i], sh.rates[i]);
}

}  // namespace collemu::models::solver
