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
    : capacity_Bps_(std::move(capacity_Bps)), solver_(solver::make_rate_solver(solver)) {
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

void FlowEngine::rebuild_and_solve() {
  problem_ = solver::RateProblem{};
  problem_.reserve(capacity_Bps_.size(), sending_.size(), 0);
  for (double c : capacity_Bps_) problem_.add_link(c);
  problem_flow_.assign(sending_.begin(), sending_.end());
  for (FlowId f : sending_) {
    const Flow& fl = flows_[f];
    const std::size_t n = fl.entry_end - fl.entry_begin;
    problem_.add_flow(fl.weight, fl.cap_Bps, {entry_link_.data() + fl.entry_begin, n},
                      {entry_coeff_.data() + fl.entry_begin, n});
  }
  solver_->solve(problem_, rates_);
  ++stats_.full_solves;
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
  index_in_problem_.assign(nf, ~0u);
  for (FlowId f = 0; f < nf; ++f) {
    flows_[f].remaining_B = flows_[f].bytes;
    if (flows_[f].pending_deps == 0) make_ready(f, 0.0);
  }

  double now = 0;
  std::vector<FlowId> finished, joined;
  std::vector<solver::FlowIndex> removed;
  while (!timers_.empty() || !sending_.empty()) {
    // The next event: the earliest timer or the earliest completion at the current rates.
    const double t_timer = timers_.empty() ? std::numeric_limits<double>::infinity() : timers_.front().first;
    double dt_done = std::numeric_limits<double>::infinity();
    for (FlowId f : sending_) {
      const double r = rates_[index_in_problem_[f]];
      if (r > 0) dt_done = std::min(dt_done, flows_[f].remaining_B / r);
    }
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
      const double sent = rates_[index_in_problem_[f]] * dt;
      if (sent >= fl.remaining_B * (1 - kFinishTolerance) && rates_[index_in_problem_[f]] > 0) {
        finished.push_back(f);
        continue;
      }
      fl.remaining_B -= sent;
      sending_[kept++] = f;
    }
    sending_.resize(kept);
    now = t;
    removed.clear();
    for (FlowId f : finished) removed.push_back(index_in_problem_[f]);
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

    if (!joined.empty()) {
      std::sort(joined.begin(), joined.end());
      const std::size_t mid = sending_.size();
      sending_.insert(sending_.end(), joined.begin(), joined.end());
      std::inplace_merge(sending_.begin(), sending_.begin() + static_cast<std::ptrdiff_t>(mid), sending_.end());
      stats_.max_sending = std::max(stats_.max_sending, sending_.size());
      if (!sending_.empty()) {
        rebuild_and_solve();
        for (std::size_t i = 0; i < sending_.size(); ++i) index_in_problem_[sending_[i]] = static_cast<std::uint32_t>(i);
      }
    } else if (!removed.empty() && !sending_.empty()) {
      solver_->remove_flows(problem_, removed, rates_);
      ++stats_.incremental_solves;
    }
  }
  for (FlowId f = 0; f < nf; ++f)
    if (flows_[f].finish_s < 0)
      throw SolverInputError(flow_name(f) + " never became ready: a dependency cycle or an unfinished dependency");
}

}  // namespace collemu::models
