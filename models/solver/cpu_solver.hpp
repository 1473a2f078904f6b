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
// Both are incremental. Removing flows changes no variable that froze below the lowest level of a removed flow's
// variable (until then those variables were free and their links unsaturated; less weight only raises those links'
// shares). "cpu" keeps its variables in order of level. When the tail from that level is long, it first tries a
// local re-solve: it thaws the variables of the tail reached from a removed one through saturated links, fills them
// with every other variable held at its level, and keeps the result when the bottleneck condition certifies it
// (every variable at its cap or on a saturated link where none is higher: the max-min allocation is the only one
// that meets it), checked where loads changed; the variables that fail it join and the filling is redone, a few times
// at most. Otherwise it thaws the closure: the variables of the tail joined to a removed one through links crossed by
// such variables (the others are independent of them above that level and keep their levels), takes the removed
// weight off, and resumes the filling. An event costs what it re-solves, often a few flows, not a pass over the
// problem; only the flows of thawed variables get new rates (docs/rate-solver.md).
// "cpu-rounds" rebuilds the state at the lowest removed level in one pass over the affected components.
#pragma once

#include <utility>

#include "models/solver/rate_solver.hpp"
#include "models/solver/variables.hpp"

namespace collemu::models::solver {

class CpuRateSolver final : public RateSolver {
 public:
  // A re-solve whose tail (the variables at or above the lowest removed level) is at most this long goes to the
  // closure at once, its walk bounded by the tail; a longer one tries the local re-solve first.
  static constexpr std::size_t kLocalFrom = 256;
  // `local_from`: that length (0: always try the local re-solve first, for the tests).
  explicit CpuRateSolver(std::size_t local_from = kLocalFrom) : local_from_(local_from) {}
  std::string name() const override { return "cpu"; }
  std::size_t memory_bytes() const override;

 private:
  void do_solve(const RateProblem& problem, std::span<double> rates_Bps) override;
  void do_remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows, std::span<double> rates_Bps,
                       bool rates_current) override;
  // The event loop: from the current state (link loads, frozen flags, heap_ holding every link with a free variable,
  // caps from caps_[next_cap]) until every variable is frozen.
  // `threshold`: links whose share is above it wait outside the heap until the filling's level nears it (kNoCap:
  // every link in the heap).
  void fill(std::size_t next_cap, double threshold);
  void admit(double threshold);  // waiting links with a share at most `threshold` enter the heap; empty ones leave
  double smallest_waiting_share() const;
  // After flows left (weights changed, `from` the lowest level of their variables, order_[start, ordered_) the
  // variables at or above it): a local attempt; false when the closure must take over (redo_from). `adjusted`: the
  // removed weights' loads are off the links.
  bool try_local(const RateProblem& p, double from, std::size_t start, bool& adjusted);
  // Whether the allocation after a local re-filling of local_ is the max-min one; the variables it finds wrong are
  // appended to local_ (marked in in_closure_).
  bool check_local(const RateProblem& p, double from);
  void redo_from(const RateProblem& p, std::size_t start, bool adjusted);
  void fill_thawed(std::span<const std::uint32_t> thawed);  // fills from the thawed variables' old levels
  // Merges the runs order_[start, mid) and [mid, ordered_), each by level, into one (positions updated).
  void merge_tail(std::size_t start, std::size_t mid);
  // The variables a removal can change (closure_, marked in in_closure_): those of the tail from `start` that are
  // joined to a removed flow's variable through links, walking only over such variables. Returns true, with closure_
  // empty, when the walk gave up: then all of the affected components' variables of the tail thaw ("whole").
  bool find_closure(std::size_t start);
  // Before a re-filling, with heap_ empty: the variables to thaw become free (their weights on their links, the links
  // in heap_), their loads leave.
  std::size_t thaw_closure(std::size_t start, bool whole, bool adjusted);  // one by one; returns how many
  void rebuild_from(const RateProblem& p, std::size_t start, bool whole);  // one sweep over the affected components
  void thaw(std::uint32_t v);      // v's weight becomes free weight on its links (v joins thawed_)
  void thaw_one(std::uint32_t v);  // v's load leaves its links, then thaw(v)
  void unload_removed();           // the removed flows' loads leave their variables' links (at the levels they had)
  void next_stamp();
  // A link counts as saturated when its unused capacity is at most a rounding residue of its capacity.
  bool saturated(const RateProblem& p, LinkIndex l) const;
  double highest_live_level(LinkIndex l) const;  // of the variables with live flows on link l (0: none)

  // A link's state in the filling: the capacity not yet taken by frozen variables, and the weight and number of its
  // free variables. One 32-byte record, so that freezing a variable touches one cache line per link.
  struct alignas(32) LinkState {
    double rem;
    double wsum;
    std::uint32_t nvars;
  };
  // Binary min-heap of links keyed by (key_, link), key_ a lower bound of the link's current share.
  bool before(std::uint32_t a, std::uint32_t b) const { return key_[a] != key_[b] ? key_[a] < key_[b] : a < b; }
  void sift_down(std::size_t i);

  std::size_t local_from_;
  Variables vars_;
  std::vector<LinkState> links_;
  std::vector<double> key_, level_;
  std::vector<std::uint32_t> heap_;
  std::vector<std::uint32_t> waiting_;  // links out of the heap while their share is above the filling's threshold
  std::vector<std::uint32_t> caps_;  // every capped variable by (cap share, variable), sorted once per build
  std::vector<std::uint8_t> frozen_;
  // The variables by level: the order in which a filling froze them, the re-filled ones merged in by their new levels
  // (complete after every re-solve; a re-filling appends to it while it runs).
  std::vector<std::uint32_t> order_;
  std::vector<std::uint32_t> pos_;  // each variable's position in order_, once positioned_ == ordered_
  std::size_t ordered_ = 0;         // entries of order_ in place
  std::size_t positioned_ = 0;      // pos_ is current for order_[0, positioned_)
  std::vector<std::uint32_t> merge_;  // scratch of merge_tail
  std::vector<LinkIndex> froze_at_;   // per variable: the link whose saturation froze it (~0: its cap)
  std::vector<std::uint32_t> thawed_;  // the variables the last re-solve thawed
  std::vector<std::uint32_t> local_;   // the variables a local re-solve re-fills
  std::vector<std::uint32_t> var_stamp_, link_stamp_;  // per variable / link: stamp_ when seen by the current pass
  std::vector<double> link_max_;       // per link: the highest level on it (valid where link_stamp_ is current)
  std::uint32_t stamp_ = 0;
  // A local re-solve's links whose load may change (each once: link_epoch_ == epoch_), and for each, the level from
  // which a variable on it had it as a bottleneck before (+inf: it was not saturated).
  std::vector<LinkIndex> changed_links_;
  std::vector<double> was_bottleneck_at_;
  std::vector<std::uint32_t> link_epoch_;
  std::uint32_t epoch_ = 0;
  std::size_t thawed_since_sweep_ = 0;  // variables thawed one by one since the last sweep (rebuild_from)
  std::vector<std::uint8_t> in_scope_;  // per component: holds a removed flow
  std::vector<std::uint32_t> closure_;   // the variables the current re-solve thaws
  std::vector<std::uint8_t> in_closure_;  // per variable: in closure_
  std::vector<std::uint8_t> link_seen_;   // per link: visited by find_closure (reset after)
  std::vector<LinkIndex> link_queue_;
  std::vector<std::pair<std::uint32_t, double>> changed_;  // the removed flows' variables, weight before removal
};

class RoundsRateSolver final : public RateSolver {
 public:
  std::string name() const override { return "cpu-rounds"; }
  std::size_t memory_bytes() const override;

 private:
  void do_solve(const RateProblem& problem, std::span<double> rates_Bps) override;
  // Incremental: rounds resume from the state at the lowest removed level.
  void do_remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows, std::span<double> rates_Bps,
                       bool rates_current) override;
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
