// Variables: the flows of a RateProblem with identical flows merged (same links, same coefficients, same cap per
// unit of weight); a variable's weight is the sum of its flows' weights, and each flow gets its weight times the
// variable's level. Also the link -> variable transpose (CSR both ways). Shared by the solver backends.
//
// Layout, for the filling's random accesses: a frozen variable's weight, links and coefficients are one packed
// record (one or two cache lines), not four arrays; a record whose coefficients are all 1 (single paths) stores none.
// Record of variable v, 32-bit words from word 2 * record_at[v] (8-byte aligned):
//   [0]        number of links n; bit 31 set when every coefficient is 1
//   [1]        0 (padding)
//   [2, 4)     weight, a double
//   [4, 4+n)   links
//   then, unless every coefficient is 1, from the next even word: n coefficients, doubles
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "models/solver/huge_pages.hpp"
#include "models/solver/rate_problem.hpp"

namespace collemu::models::solver {

// A read-only view of one packed variable record.
class VarView {
 public:
  explicit VarView(const std::uint32_t* rec) : rec_(rec) {}
  std::uint32_t size() const { return rec_[0] & 0x7FFFFFFFu; }
  bool unit() const { return (rec_[0] >> 31) != 0; }  // every coefficient is 1
  double weight() const { return load(rec_ + 2); }
  std::span<const LinkIndex> links() const { return {rec_ + 4, size()}; }
  double coefficient(std::uint32_t i) const { return unit() ? 1.0 : load(rec_ + coeff_word(size()) + 2 * i); }
  static std::uint32_t coeff_word(std::uint32_t n) { return (4 + n + 1) & ~1u; }
  static std::uint32_t words(std::uint32_t n, bool unit) { return unit ? (4 + n + 1) & ~1u : coeff_word(n) + 2 * n; }

 private:
  static double load(const std::uint32_t* p) {
    double d;
    std::memcpy(&d, p, sizeof d);
    return d;
  }
  const std::uint32_t* rec_;
};

struct Variables {
  std::vector<std::uint32_t> of_flow;  // flow -> variable
  std::vector<double> cap_share;       // per variable: cap / weight (the level at which the cap binds), +inf when none
  std::vector<std::uint32_t> record_at;  // per variable: its record's offset in units of 8 bytes (2 words)
  HugeVector<std::uint32_t> records;    // the packed records, in variable order, then kRecordSlack zero words
  // Words after the last record, so that prefetching a record's second cache line stays inside the buffer.
  static constexpr std::size_t kRecordSlack = 16;
  // Transpose: the variables on link l, by variable id, are link_var[link_begin[l], link_begin[l] + link_vars[l]).
  std::vector<std::uint64_t> link_begin;
  HugeVector<std::uint32_t> link_var;
  // Per link, from the build: the weighted load a * w of every variable and how many variables cross it.
  std::vector<double> link_weight;
  std::vector<std::uint32_t> link_vars;

  std::vector<std::uint32_t> live_flows;  // flows of each variable not removed yet
  // Filled by index() (the incremental re-solves need them, a full solve does not).
  // Connected components of the flow-link graph (links joined by a variable crossing both): independent problems.
  std::vector<std::uint32_t> link_component;          // per link
  std::vector<std::uint32_t> var_component;           // per variable
  std::vector<std::uint64_t> component_var_begin;     // component -> its variables (CSR)
  std::vector<std::uint32_t> component_var;
  std::vector<std::uint64_t> component_link_begin;    // component -> its links (CSR)
  std::vector<std::uint32_t> component_link;
  std::vector<std::uint32_t> var_flow_begin;  // variable -> its flows (CSR)
  std::vector<FlowIndex> var_flow;

  std::size_t size() const { return record_at.size(); }
  std::size_t num_components() const { return component_var_begin.size() - 1; }
  VarView view(std::uint32_t v) const { return VarView(record_address(record_at[v])); }
  const std::uint32_t* record_address(std::uint32_t record8) const { return records.data() + 2 * std::size_t{record8}; }
  std::uint32_t component_of_variable(std::uint32_t v) const { return var_component[v]; }  // after index()
  void set_weight(std::uint32_t v, double w) { std::memcpy(records.data() + 2 * std::size_t{record_at[v]} + 2, &w, 8); }

  void build(const RateProblem& p);  // O(entries)
  // The components and the variable -> flows lists, once per build: O(entries).
  void index(std::size_t num_flows);
  // Flows finished: their weight leaves their variables. Returns the lowest saved level among those variables
  // (`level` per variable, from the last solve): the level from which the filling must be redone.
  // After index(); `alive`: per flow, not removed (those of `flows` already marked).
  double remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<const double> level,
                      std::span<const std::uint8_t> alive);
  std::size_t memory_bytes() const;

 private:
  // Open addressing, linear probing. The slot keeps the hash's upper half, compared before the flows' entries.
  struct Slot {
    std::uint32_t tag;
    std::uint32_t var;  // ~0 when empty
  };
  HugeVector<Slot> table_;  // build()'s table of distinct flows, kept for the next build
  bool indexed_ = false;
};

}  // namespace collemu::models::solver
