// CPU backends of RateSolver.
//
// CpuRateSolver ("cpu", the reference): exact progressive filling, event by event. Every link has a fair share
// (remaining capacity / weight of its unfrozen variables); the link with the smallest saturates, its unfrozen
// variables freeze at its share, and the links they cross lose their load and weight. Freezing only raises other
// links' shares, so the heap's keys are lower bounds: a link is re-keyed only when it reaches the top stale. Flow
// caps are a pre-sorted list merged with the heap. Each variable is frozen once: O(entries + re-keys x log links).
// Equal keys break by link index, a cap before a link at the same level: deterministic.
//
// RoundsRateSolver ("cpu-rounds"): the same fixed point by the exact local-minimum rule, round by round: every link
// whose share is no larger than the smallest share along every flow crossing it saturates in the same round
// (shares only grow as other flows freeze, so a local minimum is reached by nothing before it; DESIGN.md §4).
// Fewer rounds than levels, each a data-parallel pass: the algorithm of the GPU backend, kept on the CPU as its
// readable twin and cross-checked against "cpu" in the tests.
//
// Both are incremental: removing flows frozen at level >= L changes no event below L (their links were unsaturated
// and only gain share), so after remove_flows() the filling resumes from the state at L, rebuilt in one pass over
// the connected components of the removed flows only (the others are independent problems and keep their rates).
#pragma once

#include "models/solver/rate_solver.hpp"
#include "models/solver/variables.hpp"

namespace collemu::models::solver {

class CpuRateSolver final : public RateSolver {
 public:
  std::string name() const override { return "cpu"; }
  std::size_t memory_bytes() const override;

 private:
  void do_solve(const RateProblem& problem, std::span<double> rates_Bps) override;
  // Incremental: removing flows frozen at level >= L changes no event below L (their links were unsaturated and
  // only gain share), so the filling resumes from the state at L, rebuilt in one pass from the saved levels.
  void do_remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows,
                       std::span<double> rates_Bps) override;
  // Freezes the live variables whose saved level is below `from_level` (nothing when -inf), then runs the
  // event loop for the rest and writes every flow's rate.
  void fill(const RateProblem& problem, double from_level, std::span<double> rates_Bps);

  // Binary min-heap of links keyed by (key_, link), key_ a lower bound of the link's current share.
  bool before(std::uint32_t a, std::uint32_t b) const { return key_[a] != key_[b] ? key_[a] < key_[b] : a < b; }
  void sift_down(std::size_t i);

  Variables vars_;
  std::vector<double> rem_, wsum_, key_, level_;
  std::vector<std::uint32_t> nvars_, heap_;
  std::vector<std::uint32_t> caps_;  // capped variables by (cap share, variable)
  std::vector<std::uint8_t> frozen_;
  std::vector<std::uint32_t> scope_;  // components the next filling rebuilds (empty: all)
};

class RoundsRateSolver final : public RateSolver {
 public:
  std::string name() const override { return "cpu-rounds"; }
  std::size_t memory_bytes() const override;

 private:
  void do_solve(const RateProblem& problem, std::span<double> rates_Bps) override;
  // Incremental, as for "cpu": rounds resume from the state at the lowest removed level.
  void do_remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows,
                       std::span<double> rates_Bps) override;
  void rounds(const RateProblem& problem, double from_level, std::span<double> rates_Bps);

  Variables vars_;
  std::vector<std::uint8_t> frozen_;
  std::vector<std::uint32_t> scope_;  // components the next rounds rebuild (empty: all)
  std::vector<double> var_level_, var_min_;
  std::vector<double> rem_, wsum_, share_, link_min_;
  std::vector<std::uint32_t> nvars_;
  std::vector<std::uint32_t> active_vars_, active_links_;
  std::vector<std::uint8_t> link_bottleneck_;
};

}  // namespace collemu::models::solver
