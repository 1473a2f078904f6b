// CpuRateSolver: the reference backend. Progressive filling on flat arrays with the exact local-minimum rule:
// in each round every link computes its fair share (remaining capacity / weight of its unfrozen flows); a link
// whose share is no larger than the smallest share along every flow crossing it saturates in this round, and all
// such links saturate together. This is exact: shares only grow as other flows freeze, so a local minimum is
// reached by nothing before it (DESIGN.md §4). Flow caps act as private links. Identical flows (same links,
// coefficients and cap per weight) are merged into one variable whose weight is their sum.
#pragma once

#include "models/solver/rate_solver.hpp"

namespace collemu::models::solver {

class CpuRateSolver final : public RateSolver {
 public:
  std::string name() const override { return "cpu"; }

 private:
  void do_solve(const RateProblem& problem, std::span<double> rates_Bps) override;

  // Scratch reused across solves (flat arrays, no per-solve allocation once warm).
  std::vector<std::uint32_t> var_of_flow_;
  std::vector<double> var_weight_, var_cap_share_, var_level_, var_min_;
  std::vector<FlowIndex> var_rep_;  // a representative flow of each variable (its links and coefficients)
  std::vector<double> rem_, wsum_, share_, link_min_;
  std::vector<std::uint32_t> nvars_;  // unfrozen variables per link
  std::vector<std::uint32_t> active_vars_, active_links_;
  std::vector<std::uint8_t> link_active_, link_bottleneck_;
};

}  // namespace collemu::models::solver
