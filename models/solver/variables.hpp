// Variables: the flows of a RateProblem with identical flows merged (same links, same coefficients, same cap per
// unit of weight); a variable's weight is the sum of its flows' weights, and each flow gets its weight times the
// variable's level. Also the link -> variable transpose (CSR both ways). Shared by the solver backends.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/solver/rate_problem.hpp"

namespace collemu::models::solver {

struct Variables {
  std::vector<std::uint32_t> of_flow;  // flow -> variable
  std::vector<FlowIndex> rep;          // variable -> a representative flow (its links and coefficients)
  std::vector<double> weight;          // sum of the merged flows' weights
  std::vector<double> cap_share;       // cap / weight (the level at which the cap binds), +inf when none
  // Variable -> (link, coefficient), variable-major. When no flows merged, variable v is flow v and the problem's
  // own CSR serves (no copy); otherwise a compact copy of the representatives' entries.
  std::vector<std::uint64_t> var_begin;
  std::vector<LinkIndex> var_link;
  std::vector<double> var_coeff;
  std::span<const LinkIndex> links(std::uint32_t v) const { return {link_ + offset_[v], link_ + offset_[v + 1]}; }
  std::span<const double> coefficients(std::uint32_t v) const { return {coeff_ + offset_[v], coeff_ + offset_[v + 1]}; }
  // For prefetching: where variable v's offsets and entries are.
  const std::uint64_t* offset_address(std::uint32_t v) const { return offset_ + v; }
  const LinkIndex* links_address(std::uint32_t v) const { return link_ + offset_[v]; }
  const double* coefficients_address(std::uint32_t v) const { return coeff_ + offset_[v]; }
  // Transpose: variables on each link, ordered by variable id (their coefficients are on the variable side).
  std::vector<std::uint64_t> link_begin;
  std::vector<std::uint32_t> link_var;

  std::vector<std::uint32_t> live_flows;  // flows of each variable not removed yet
  // Connected components of the flow-link graph (links joined by a variable crossing both): independent problems.
  std::vector<std::uint32_t> link_component;          // per link
  std::vector<std::uint64_t> component_var_begin;     // component -> its variables (CSR)
  std::vector<std::uint32_t> component_var;
  std::vector<std::uint64_t> component_link_begin;    // component -> its links (CSR)
  std::vector<std::uint32_t> component_link;
  std::size_t num_components() const { return component_var_begin.size() - 1; }
  std::uint32_t component_of_variable(std::uint32_t v) const { return link_component[links(v)[0]]; }

  std::size_t size() const { return rep.size(); }
  void build(const RateProblem& p);  // O(entries)
  // Flows finished: their weight leaves their variables. Returns the lowest saved level among those variables
  // (`level` per variable, from the last solve): the level from which the filling must be redone.
  double remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<const double> level);
  std::size_t memory_bytes() const;

 private:
  struct Slot {
    std::uint64_t hash;
    std::uint32_t var;  // ~0 when empty
  };
  void build_components(std::size_t num_links);
  // The variable CSR in use: this object's copy, or the problem's own arrays (which must then outlive their use).
  const std::uint64_t* offset_ = nullptr;
  const LinkIndex* link_ = nullptr;
  const double* coeff_ = nullptr;
  std::vector<Slot> table_;
  std::vector<std::uint64_t> hashes_;  // open addressing, linear probing; the hash is compared before the flows
};

}  // namespace collemu::models::solver
