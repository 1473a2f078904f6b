#include "models/flow_engine.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace collemu::models {

using solver::SolverInputError;

namespace {

std::string flow_name(std::size_t f) { return "flow " + std::to_string(f); }

void require_finite_nonnegative(double v, std::size_t f, const char* what, const char* unit) {
  if (!std::isfinite(v) || v < 0)
    throw SolverInputError(flow_name(f) + ": " + what + " " + std::to_string(v) + " " + unit +
                           "; expected a finite value >= 0");
}

// Flows within this relative distance of their end finish at the event that brings them there (they tie with the
// flow that set the event's time, up to rounding).
constexpr double kFinishTolerance = 1e-12;

}  // namespace

FlowEngine::FlowEngine(std::vector<double> capacity_Bps, const std::string& solver)
    : capacity_Bps_(std::move(capacity_Bps)), solver_name_(solver) {
  solver::make_rate_solver(solver_name_);  // an unknown backend is an error now, not at the first solve
  for (std::size_t l = 0; l < capacity_Bps_.size(); ++l)
    if (!std::isfinite(capacity_Bps_[l]) || capacity_Bps_[l] < 0)
      throw SolverInputError("link " + std::to_string(l) + ": capacity " + std::to_string(capacity_Bps_[l]) +
                             " B/s; expected a finite capacity >= 0");
  link_bytes_.assign(capacity_Bps_.size(), 0.0);
}

FlowId FlowEngine::add_flow(double bytes, std::span<const solver::LinkIndex> links,
                            std::span<const double> coefficients, double latency_s, std::span<const FlowId> deps,
                            double earliest_start_s, double weight, double cap_Bps) {
  const std::size_t f = flows_.size();
  if (f >= std::numeric_limits<FlowId>::max()) throw SolverInputError("too many flows for 32-bit flow ids");
  require_finite_nonnegative(bytes, f, "size", "B");
  require_finite_nonnegative(latency_s, f, "latency", "s");
  require_finite_nonnegative(earliest_start_s, f, "earliest start", "s");
  if (!std::isfinite(weight) || weight <= 0)
    throw SolverInputError(flow_name(f) + ": weight " + std::to_string(weight) + "; expected a finite weight > 0");
  if (std::isnan(cap_Bps) || cap_Bps <= 0)
    throw SolverInputError(flow_name(f) + ": rate cap " + std::to_string(cap_Bps) + " B/s; expected a cap > 0");
  if (links.size() != coefficients.size())
    throw SolverInputError(flow_name(f) + ": " + std::to_string(links.size()) + " links but " +
                           std::to_string(coefficients.size()) + " coefficients; expected one per link");
  if (bytes > 0 && links.empty())
    throw SolverInputError(flow_name(f) + ": " + std::to_string(bytes) + " B over no link; expected at least one");
  for (std::size_t i = 0; i < links.size(); ++i) {
    if (links[i] >= capacity_Bps_.size())
      throw SolverInputError(flow_name(f) + ": link " + std::to_string(links[i]) + " does not exist (" +
                             std::to_string(capacity_Bps_.size()) + " links)");
    if (!(coefficients[i] > 0 && coefficients[i] <= 1))
      throw SolverInputError(flow_name(f) + ": coefficient " + std::to_string(coefficients[i]) + " on link " +
                             std::to_string(links[i]) + "; expected a value in (0, 1]");
  }
  Flow fl{bytes, latency_s, earliest_start_s, weight, cap_Bps, entry_link_.size(), 0};
  entry_link_.insert(entry_link_.end(), links.begin(), links.end());
  entry_coeff_.insert(entry_coeff_.end(), coefficients.begin(), coefficients.end());
  fl.entry_end = entry_link_.size();
  for (FlowId d : deps) {
    if (d >= f)
      throw SolverInputError(flow_name(f) + ": depends on flow " + std::to_string(d) +
                             ", which is not an earlier flow");
    dep_edges_.emplace_back(d, static_cast<FlowId>(f));
  }
  fl.pending_deps = static_cast<std::uint32_t>(deps.size());
  flows_.push_back(fl);
  return static_cast<FlowId>(f);
}

void FlowEngine::make_ready(FlowId f, double now) {
  Flow& fl = flows_[f];
  fl.ready_s = std::max(now, fl.earliest_s);
  fl.send_s = fl.ready_s + fl.latency_s;
  timers_.emplace_back(fl.send_s, f);
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>{});
}

void FlowEngine::finish(FlowId f, double now) {
  Flow& fl = flows_[f];
  fl.finish_s = now;
  fl.remaining_B = 0;
  makespan_s_ = std::max(makespan_s_, now);
  for (std::uint64_t e = fl.entry_begin; e < fl.entry_end; ++e) link_bytes_[entry_link_[e]] += entry_coeff_[e] * fl.bytes;
  for (std::uint64_t i = dependents_begin_[f]; i < dependents_begin_[f + 1]; ++i) {
    const FlowId d = dependents_[i];
    if (--flows_[d].pending_deps == 0) make_ready(d, now);
  }
}

void FlowEngine::free_component(std::uint32_t c) {
  Component& k = comps_[c];
  for (std::uint32_t l : k.links) comp_of_link_[l] = kNone;
  k = Component{};
  free_comps_.push_back(c);
}

void FlowEngine::rebuild(std::vector<std::uint32_t>& touched, std::span<const FlowId> joined) {
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  std::vector<FlowId> flows(joined.begin(), joined.end());
  for (std::uint32_t c : touched) {
    flows.insert(flows.end(), comps_[c].flows.begin(), comps_[c].flows.end());
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
  k.flows = std::move(flows);
  // The component's problem knows its own links only: local index = position in k.links.
  for (const FlowId f : k.flows)
    for (std::uint64_t e = flows_[f].entry_begin; e < flows_[f].entry_end; ++e) {
      const std::uint32_t l = entry_link_[e];
      if (comp_of_link_[l] != id) {
        comp_of_link_[l] = id;
        local_link_[l] = static_cast<std::uint32_t>(k.links.size());
        k.links.push_back(l);
      }
    }
  std::size_t entries = 0;
  for (const FlowId f : k.flows) entries += flows_[f].entry_end - flows_[f].entry_begin;
  k.problem = std::make_unique<solver::RateProblem>();
  k.problem->reserve(k.links.size(), k.flows.size(), entries);
  for (std::uint32_t l : k.links) k.problem->add_link(capacity_Bps_[l]);
  std::vector<solver::LinkIndex> local;
  for (std::size_t i = 0; i < k.flows.size(); ++i) {
    const FlowId f = k.flows[i];
    const Flow& fl = flows_[f];
    local.clear();
    for (std::uint64_t e = fl.entry_begin; e < fl.entry_end; ++e) local.push_back(local_link_[entry_link_[e]]);
    k.problem->add_flow(fl.weight, fl.cap_Bps, local, {entry_coeff_.data() + fl.entry_begin, local.size()});
    comp_of_flow_[f] = id;
    index_in_problem_[f] = static_cast<std::uint32_t>(i);
  }
  k.solver = solver::make_rate_solver(solver_name_);
  k.solver->solve(*k.problem, k.rates);
  for (std::size_t i = 0; i < k.flows.size(); ++i) rate_[k.flows[i]] = k.rates[i];
  ++stats_.full_solves;
  stats_.max_component = std::max(stats_.max_component, k.flows.size());
}

void FlowEngine::run() {
  // Dependents CSR.
  const std::size_t nf = flows_.size();
  dependents_begin_.assign(nf + 1, 0);
  for (const auto& [d, f] : dep_edges_) ++dependents_begin_[d + 1];
  for (std::size_t i = 0; i < nf; ++i) dependents_begin_[i + 1] += dependents_begin_[i];
  dependents_.resize(dep_edges_.size());
  {
    std::vector<std::uint64_t> at(dependents_begin_.begin(), dependents_begin_.end() - 1);
    for (const auto& [d, f] : dep_edges_) dependents_[at[d]++] = f;
  }
  comp_of_link_.assign(capacity_Bps_.size(), kNone);
  local_link_.assign(capacity_Bps_.size(), kNone);
  comp_of_flow_.assign(nf, kNone);
  index_in_problem_.assign(nf, kNone);
  rate_.assign(nf, 0.0);
  for (FlowId f = 0; f < nf; ++f) {
    flows_[f].remaining_B = flows_[f].bytes;
    if (flows_[f].pending_deps == 0) make_ready(f, 0.0);
  }

  double now = 0;
  std::vector<FlowId> finished, joined;
  std::vector<std::uint32_t> touched;
  std::vector<solver::FlowIndex> removed;
  while (!timers_.empty() || !sending_.empty()) {
    // The next event: the earliest timer or the earliest completion at the current rates.
    const double t_timer = timers_.empty() ? std::numeric_limits<double>::infinity() : timers_.front().first;
    double dt_done = std::numeric_limits<double>::infinity();
    for (FlowId f : sending_)
      if (rate_[f] > 0) dt_done = std::min(dt_done, flows_[f].remaining_B / rate_[f]);
    if (!std::isfinite(t_timer) && !std::isfinite(dt_done))
      throw SolverInputError(flow_name(sending_.front()) + " can never finish: every sending flow has rate 0");
    const bool completion_first = now + dt_done <= t_timer;
    const double t = completion_first ? now + dt_done : t_timer;
    const double dt = completion_first ? dt_done : t_timer - now;
    ++stats_.events;

    // Advance the sending flows; those that reach their end finish now.
    finished.clear();
    std::size_t kept = 0;
    for (FlowId f : sending_) {
      Flow& fl = flows_[f];
      const double sent = rate_[f] * dt;
      if (rate_[f] > 0 && sent >= fl.remaining_B * (1 - kFinishTolerance)) {
        finished.push_back(f);
        continue;
      }
      fl.remaining_B -= sent;
      sending_[kept++] = f;
    }
    sending_.resize(kept);
    now = t;
    for (FlowId f : finished) finish(f, now);

    // Timers due now start sending; flows with nothing to send finish at once, which may make others ready.
    joined.clear();
    while (!timers_.empty() && timers_.front().first <= now) {
      std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
      const FlowId f = timers_.back().second;
      timers_.pop_back();
      if (flows_[f].bytes == 0) {
        finish(f, now);
        continue;
      }
      joined.push_back(f);
    }

    // Components the joining flows touch are rebuilt with them; the others drop their finished flows.
    touched.clear();
    for (FlowId f : joined)
      for (std::uint64_t e = flows_[f].entry_begin; e < flows_[f].entry_end; ++e)
        if (const std::uint32_t c = comp_of_link_[entry_link_[e]]; c != kNone) touched.push_back(c);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    // Finished flows leave their component's flow list (and, where the component is not rebuilt, its solver).
    std::sort(finished.begin(), finished.end(),
              [&](FlowId a, FlowId b) { return comp_of_flow_[a] < comp_of_flow_[b] || (comp_of_flow_[a] == comp_of_flow_[b] && a < b); });
    for (std::size_t i = 0; i < finished.size();) {
      const std::uint32_t c = comp_of_flow_[finished[i]];
      std::size_t j = i;
      removed.clear();
      while (j < finished.size() && comp_of_flow_[finished[j]] == c) removed.push_back(index_in_problem_[finished[j++]]);
      Component& k = comps_[c];
      auto& fl = k.flows;
      fl.erase(std::remove_if(fl.begin(), fl.end(), [&](FlowId f) { return flows_[f].finish_s >= 0; }), fl.end());
      if (fl.empty()) {
        free_component(c);
        touched.erase(std::remove(touched.begin(), touched.end(), c), touched.end());
      } else if (!std::binary_search(touched.begin(), touched.end(), c)) {
        k.solver->remove_flows(*k.problem, removed, k.rates, solver::RateSolver::Rates::kUnchanged);
        for (FlowId f : fl) rate_[f] = k.rates[index_in_problem_[f]];
        ++stats_.incremental_solves;
      }
      i = j;
    }
    for (FlowId f : finished) comp_of_flow_[f] = kNone;

    if (!joined.empty()) {
      std::sort(joined.begin(), joined.end());
      // Joining flows that share links with each other but with no component end up in one component too: group them
      // by union of their links before solving.
      std::vector<std::uint32_t> parent(joined.size());
      for (std::size_t i = 0; i < joined.size(); ++i) parent[i] = static_cast<std::uint32_t>(i);
      auto root = [&](std::uint32_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
      };
      // Link -> first joining flow (index) seen on it, and component touched per joining flow, through a scratch map.
      std::vector<std::pair<std::uint32_t, std::uint32_t>> link_flow;
      for (std::size_t i = 0; i < joined.size(); ++i)
        for (std::uint64_t e = flows_[joined[i]].entry_begin; e < flows_[joined[i]].entry_end; ++e)
          link_flow.emplace_back(entry_link_[e], static_cast<std::uint32_t>(i));
      std::sort(link_flow.begin(), link_flow.end());
      for (std::size_t i = 1; i < link_flow.size(); ++i)
        if (link_flow[i].first == link_flow[i - 1].first) parent[root(link_flow[i].second)] = root(link_flow[i - 1].second);
      // Flows touching the same existing component are joined too.
      std::vector<std::uint32_t> comp_owner(comps_.size(), kNone);
      for (std::size_t i = 0; i < joined.size(); ++i)
        for (std::uint64_t e = flows_[joined[i]].entry_begin; e < flows_[joined[i]].entry_end; ++e)
          if (const std::uint32_t c = comp_of_link_[entry_link_[e]]; c != kNone) {
            if (comp_owner[c] == kNone) comp_owner[c] = static_cast<std::uint32_t>(i);
            else parent[root(static_cast<std::uint32_t>(i))] = root(comp_owner[c]);
          }
      // One rebuild per group of joining flows.
      std::vector<std::pair<std::uint32_t, FlowId>> by_group;
      for (std::size_t i = 0; i < joined.size(); ++i) by_group.emplace_back(root(static_cast<std::uint32_t>(i)), joined[i]);
      std::sort(by_group.begin(), by_group.end());
      std::vector<FlowId> group_flows;
      std::vector<std::uint32_t> group_comps;
      for (std::size_t i = 0; i < by_group.size();) {
        std::size_t j = i;
        group_flows.clear();
        group_comps.clear();
        while (j < by_group.size() && by_group[j].first == by_group[i].first) {
          const FlowId f = by_group[j++].second;
          group_flows.push_back(f);
          for (std::uint64_t e = flows_[f].entry_begin; e < flows_[f].entry_end; ++e)
            if (const std::uint32_t c = comp_of_link_[entry_link_[e]]; c != kNone) group_comps.push_back(c);
        }
        rebuild(group_comps, group_flows);
        i = j;
      }
      const std::size_t mid = sending_.size();
      sending_.insert(sending_.end(), joined.begin(), joined.end());
      std::inplace_merge(sending_.begin(), sending_.begin() + static_cast<std::ptrdiff_t>(mid), sending_.end());
      stats_.max_sending = std::max(stats_.max_sending, sending_.size());
    }
  }
  for (FlowId f = 0; f < nf; ++f)
    if (flows_[f].finish_s < 0)
      throw SolverInputError(flow_name(f) + " never became ready: a dependency cycle or an unfinished dependency");
}

}  // namespace collemu::models
