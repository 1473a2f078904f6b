// CPU backends of RateSolver.
//
// CpuRateSolver ("cpu", the reference): exact progressive filling, event by event. Every link has a fair share
// (remaining capacity / weight of its unfrozen variables); a heap keeps the smallest on top. The link on top
// saturates: its unfrozen variables freeze at its share, the links they cross lose their load and weight and are
// re-queued. Flow caps are private links in the same heap. Each variable is frozen once, so a solve costs
// O(entries + updates x log links). Equal shares break by link index, a cap before a link at the same level:
// deterministic.
//
// RoundsRateSolver ("cpu-rounds"): the same fixed point by the exact local-minimum rule, round by round: every link
// whose share is no larger than the smallest share along every flow crossing it saturates in the same round
// (shares only grow as other flows freeze, so a local minimum is reached by nothing before it; DESIGN.md §4).
// Fewer rounds than levels, each a data-parallel pass: the algorithm of the GPU backend, kept on the CPU as its
// readable twin and cross-checked against "cpu" in the tests.
#pragma once

#include "models/solver/rate_solver.hpp"
#include "models/solver/variables.hpp"

namespace collemu::models::solver {

class CpuRateSolver final : public RateSolver {
 public:
  std::string name() const override { return "cpu"; }

 private:
  void do_solve(const RateProblem& problem, std::span<double> rates_Bps) override;
  // Incremental: removing flows frozen at level >= L changes no event below L (their links were unsaturated and
  // only gain share), so the filling resumes from the state at L, rebuilt in one pass from the saved levels.
  void do_remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows,
                       std::span<double> rates_Bps) override;
  // Freezes the live variables whose saved level is below `from_level` (nothing when -inf), then runs the
  // event loop for the rest and writes every flow's rate.
  void fill(const RateProblem& problem, double from_level, std::span<double> rates_Bps);
  std::vector<std::uint32_t> var_flows_;  // live flows per variable

  // Indexed binary min-heap of the links with unfrozen variables, keyed by (share, link): one slot per link.
  bool before(std::uint32_t a, std::uint32_t b) const {
    return share_[a] != share_[b] ? share_[a] < share_[b] : a < b;
  }
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void heap_remove(std::uint32_t link);
  void heap_update(std::uint32_t link);

  Variables vars_;
  std::vector<double> rem_, wsum_, share_, level_;
  std::vector<std::uint32_t> nvars_, dirty_, heap_, pos_;
  std::vector<std::uint32_t> caps_;  // capped variables by (cap share, variable)
  std::vector<std::uint8_t> frozen_, is_dirty_;
};

class RoundsRateSolver final : public RateSolver {
 public:
  std::string name() const override { return "cpu-rounds"; }

 private:
  void do_solve(const RateProblem& problem, std::span<double> rates_Bps) override;

  Variables vars_;
  std::vector<double> var_level_, var_min_;
  std::vector<double> rem_, wsum_, share_, link_min_;
  std::vector<std::uint32_t> nvars_;
  std::vector<std::uint32_t> active_vars_, active_links_;
  std::vector<std::uint8_t> link_bottleneck_;
};

}  // namespace collemu::models::solver
