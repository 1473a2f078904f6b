// RateProblem: the input of a weighted max-min fair rate solve (DESIGN.md §4).
//
// Links have a capacity in bytes per second. A flow has a weight w > 0, an optional rate cap in bytes per second
// (+infinity when none) and crosses links with coefficients a in (0, 1]: a flow of rate r puts a * r on each of its
// links (1 on a single path; 1/k on each of k sprayed paths). The solver returns rates r_f such that no link carries
// more than its capacity and every flow is either at its cap or crosses a saturated link on which no flow has a larger
// weight-normalised rate r/w (weighted max-min fairness).
//
// Flows are stored as CSR (flow -> links; flow -> coefficients only for flows with a coefficient other than 1: single
// paths, the common case, store none). Each flow is checked when added, so a solve only re-checks the capacities.
// Depends on the standard library (and the header-only common/error.hpp) only.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace collemu::models::solver {

using LinkIndex = std::uint32_t;
using FlowIndex = std::uint32_t;
inline constexpr double kNoCap = std::numeric_limits<double>::infinity();

// Bad solver input (NaN or negative capacity, coefficient outside (0, 1], flow without links, zero cap, ...).
class SolverInputError : public common::UserError {
 public:
  using common::UserError::UserError;
};

class RateProblem {
 public:
  LinkIndex add_link(double capacity_Bps);
  // Adds a flow over `links` (existing, each once) with `coefficients` in (0, 1] (same length), a weight > 0 and a cap
  // > 0 (kNoCap: none). Throws SolverInputError naming the flow and what was expected.
  FlowIndex add_flow(double weight, double cap_Bps, std::span<const LinkIndex> links,
                     std::span<const double> coefficients);
  void reserve(std::size_t links, std::size_t flows, std::size_t entries);
  // The checks add_flow makes of flow `f`, for callers that keep flows of their own (the flow engine): a finite weight
  // > 0, a cap > 0, every link below `num_links` and listed once, every coefficient in (0, 1] (`coefficients` empty:
  // 1 on every link). Throws SolverInputError naming the flow; returns whether every coefficient is 1.
  static bool check_flow(std::size_t f, std::size_t num_links, double weight, double cap_Bps,
                         std::span<const LinkIndex> links, std::span<const double> coefficients);

  // Throws SolverInputError naming the first link whose capacity is not finite and >= 0 (flows were checked by
  // add_flow).
  void validate() const;

  std::size_t num_links() const { return capacity_Bps_.size(); }
  std::size_t num_flows() const { return weight_.size(); }
  std::size_t num_entries() const { return entry_link_.size(); }

  double capacity_Bps(LinkIndex l) const { return capacity_Bps_[l]; }
  double weight(FlowIndex f) const { return weight_[f]; }
  double cap_Bps(FlowIndex f) const { return cap_Bps_[f]; }
  std::span<const LinkIndex> links(FlowIndex f) const {
    return {entry_link_.data() + flow_begin_[f], entry_link_.data() + flow_begin_[f + 1]};
  }
  // True when every coefficient of flow f is 1 (a single path).
  bool unit(FlowIndex f) const { return coeff_begin_[f] == kUnit; }
  // Valid until the next add_flow (a single path's coefficients are a shared run of 1s that a longer one regrows).
  std::span<const double> coefficients(FlowIndex f) const {
    const std::size_t n = flow_begin_[f + 1] - flow_begin_[f];
    return {unit(f) ? ones_.data() : coeff_.data() + coeff_begin_[f], n};
  }
  std::span<const double> capacities() const { return capacity_Bps_; }
  void set_capacity_Bps(LinkIndex l, double c) { capacity_Bps_[l] = c; }
  // The raw CSR of links: the links of flow f are [flow_offsets()[f], flow_offsets()[f + 1]).
  const std::uint64_t* flow_offsets() const { return flow_begin_.data(); }
  const LinkIndex* entry_links() const { return entry_link_.data(); }

  // Bytes held by the problem's arrays.
  std::size_t memory_bytes() const;

 private:
  std::vector<double> capacity_Bps_;
  std::vector<double> weight_;
  std::vector<double> cap_Bps_;
  std::vector<std::uint64_t> flow_begin_{0};
  std::vector<LinkIndex> entry_link_;
  static constexpr std::uint64_t kUnit = ~std::uint64_t{0};
  std::vector<std::uint64_t> coeff_begin_;  // per flow: offset of its coefficients in coeff_, kUnit when all are 1
  std::vector<double> coeff_;
  std::vector<double> ones_;  // as many 1s as the longest unit flow has links: its coefficients()
};

// The max-min certificate, as the tests and benchmarks check it: no link above capacity (relative tolerance
// `tol`), and every flow at its cap or with a saturated link on which its r/w is the largest. Returns "" when the
// rates pass, otherwise a description of the first violation.
std::string check_max_min(const RateProblem& p, std::span<const double> rates_Bps, double tol = 1e-9);

}  // namespace collemu::models::solver
