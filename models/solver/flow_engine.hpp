// FlowEngine: the flow-level network in motion, as an event source (DESIGN.md §4). The caller owns the clock: it adds
// flows at the current time or later, asks when the next event is, and advances the engine to a time of its choosing;
// the engine reports which flows finished and when. The replay interleaves its own events (compute ends, rendezvous)
// with these; `run()` and `run_to_completion()` are short loops on top.
//
// A flow's life: it is *ready* once every flow it waits for (`after`) has finished and the clock has reached its
// earliest start; it then waits its latency (per-hop link latency plus whatever fixed cost its caller adds) and
// *sends*: it joins the rate problem until its bytes are through; then it has *finished*. Alone on a path of
// bandwidth B: latency + bytes / B, the alpha-beta form. A flow of 0 bytes finishes when its latency is over: a timer,
// or a barrier when it waits for others.
//
// Order of events at one time t (deterministic: the same flows give the same bits):
//   1. sending flows whose bytes are through by t finish, by flow id (within a relative 1e-12 of their end: they tie
//      with the flow that set t, up to rounding; with a finish tolerance, also those it ties: FlowEngineOptions);
//   2. the flows they release become ready at t (at their earliest start, if later), in the order they are released;
//   3. latency timers due at t fire, by (time, flow id): a flow of 0 bytes finishes (and may release others, whose
//      timers, when due at t, fire in the same pass), the others start sending;
//   4. rates are re-solved where something changed.
// advance_to(t) processes every event at or before t in this order, one time after another, then sets the clock to t.
//
// Re-solving, by connected component (flows that share a link, directly or through other flows): each component has
// its own rate problem and solver (made by the SolverFactory); max-min rates of disjoint components are independent.
// Flows that start merge the components they touch into one, whose problem alone is rebuilt and solved; flows that
// finish leave their component's solver incrementally (RateSolver::remove_flows), the other components keep their
// rates. Identical disjoint components (the same collective in every host's NVLink domain: the same links' capacities
// and the same flows, in the same order) share one solved problem: it is solved once, and stays shared while they
// lose the same flows at the same events; one that diverges gets its own copy, rebuilt by replaying the same solver
// calls, so that sharing changes no bit of any rate. A flow's bytes advance lazily: only flows whose rate changes are
// touched at an event, and completions come from a heap of projected finish times.
//
// Guards: a link whose constraint the others imply stays out of the rate problems and of the components (exact: the
// max-min allocation is unique, and leaving out a constraint that it satisfies anyway cannot change it). The caller
// proposes guard(l, by, share); the engine takes it when share x (the capacities of `by`) <= l's capacity, and keeps
// it while every flow on l also crosses a link of `by` with at least its share on l / share: then l's load is at most
// share x the load of `by` <= l's capacity, whatever the rates. A flow or a capacity change that breaks this puts l
// back into the problems, from then on (the components of the flows on it are solved again). A NIC's ports, over
// which its flows are sprayed evenly, are guarded by its host link: flows then share a component only where they
// share a link that can bind.
//
// The engine knows links by index and capacity only: no fabric, no NCCL, no traces. Standard library only.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/solver/rate_solver.hpp"

namespace collemu::models::solver {

using FlowId = std::uint32_t;

// FlowSpec::start_s meaning "at the engine's clock when the flow is added".
inline constexpr double kNow = -std::numeric_limits<double>::infinity();

struct FlowSpec {
  double bytes = 0;                      // to move, B (0: a timer or a barrier)
  std::span<const LinkIndex> links{};    // the links it loads, each once (none when bytes == 0 is allowed)
  std::span<const double> coefficients{};  // its share on each link, in (0, 1]; empty: 1 on every link
  double latency_s = 0;                  // waited once ready, before sending, s
  double start_s = kNow;                 // earliest time it may become ready, s (absolute; not before the clock)
  std::span<const FlowId> after{};       // flows (added before) that must finish first
  double weight = 1;                     // max-min weight, > 0
  double cap_Bps = kNoCap;               // rate cap, B/s
};

// A change of the network under flows that have not finished (a failure at a time): a flow's new links and shares.
struct Reroute {
  FlowId flow;
  std::span<const LinkIndex> links;
  std::span<const double> coefficients{};  // empty: 1 on every link
};
struct CapacityChange {
  LinkIndex link;
  double capacity_Bps;
};

struct FinishedFlow {
  FlowId flow;
  double time_s;
};

struct FlowEngineStats {
  std::size_t events = 0;              // distinct times at which something happened
  std::size_t full_solves = 0;         // component problems built and solved because flows started
  std::size_t shared_solves = 0;       // of those, components that took the solution of an identical one
  std::size_t incremental_solves = 0;  // re-solves after completions only (shared ones counted once)
  std::size_t max_sending = 0;         // largest number of flows sending at once
  std::size_t max_component = 0;       // largest component solved (flows)
  std::size_t guards = 0;              // links guard() left out of the rate problems
  std::size_t guards_broken = 0;       // of those, links put back since (a flow or a capacity broke the guard)
};

// The largest FlowEngineOptions::finish_tolerance accepted.
inline constexpr double kMaxFinishTolerance = 0.01;

struct FlowEngineOptions {
  // Identical disjoint components share one solved problem (exact: no rate changes by a bit). Off only to check that.
  bool share_identical_components = true;
  // An approximation, off unless set (0: exact, up to rounding). A sending flow that no other flow waits for, whose
  // projected end at its current rate is within this fraction of its sending time (from its send start to that end)
  // after an event, finishes at that event, with the event's other completions: its transfer ends up to that fraction
  // of itself early (its bytes still count in full on its links), and completions that are close together cost one
  // re-solve instead of one each. Flows that others wait for finish exactly (early ends would add up along chains of
  // them). Other flows' rates change when the tolerated ones leave, so their times move too, by what the instance makes
  // of it (docs/flow-engine.md has the measured effect). In [0, kMaxFinishTolerance].
  double finish_tolerance = 0;
};

class FlowEngine {
 public:
  // `capacity_Bps`: one capacity per link (the links' indices are the ones flows name). `solver` makes the solver of
  // each component. Throws SolverInputError naming the link for a capacity that is negative or not finite, and for a
  // finish_tolerance outside [0, 0.01].
  explicit FlowEngine(std::vector<double> capacity_Bps, SolverFactory solver = rate_solver_factory("cpu"),
                      FlowEngineOptions options = {});
  FlowEngine(const FlowEngine&) = delete;
  FlowEngine& operator=(const FlowEngine&) = delete;
  ~FlowEngine();

  // Proposes that link `l` cannot bind because the links `by` (other links, none of them guarded, l a guard of no other
  // link) bound it: see Guards above; `share` in (0, 1]. Returns whether the engine took it (false when the capacities
  // do not allow it or the proposal overlaps another guard). Throws SolverInputError once a flow has been added, for
  // an unknown link, and for a share outside (0, 1].
  bool guard(LinkIndex l, std::span<const LinkIndex> by, double share);
  // Whether link l is in the rate problems (false while a guard leaves it out).
  bool constrains(LinkIndex l) const { return guard_of_.empty() || guard_of_[l] == kNone; }

  // Adds a flow; returns its id (ids are dense, in order of addition). Throws SolverInputError naming the flow for a
  // negative or non-finite size or latency, an earliest start before the clock, a weight <= 0, a cap <= 0, a flow with
  // bytes that crosses no link, an unknown link, a coefficient outside (0, 1] or a count that differs from the links',
  // or a flow to wait for that does not exist yet.
  FlowId add_flow(const FlowSpec& flow);

  double now_s() const { return now_s_; }
  // When the next event is, s: a latency timer or a completion at the current rates; +infinity when nothing will
  // happen unless flows are added (everything finished, or what is left cannot move: a rate of 0).
  double next_event_s() const;
  // Processes every event at or before `t_s` (>= now_s(), finite), then sets the clock to `t_s`. Returns the flows
  // that finished, in the order above (valid until the next call).
  std::span<const FinishedFlow> advance_to(double t_s);
  // At the clock, between advances: flows that have not finished move to new links (their bytes sent so far stay
  // sent; a flow still waiting or in its latency keeps its latency), and links change capacity. Every component a
  // moved flow or a changed link is in is solved again from scratch with them (the other components keep their
  // rates). Bytes a moved flow sent before count on its old links in link_bytes(). Checked first, nothing changes on
  // error: SolverInputError for an unknown or finished flow, a flow listed twice, links and shares as add_flow checks
  // them, an unknown link or a capacity that is negative or not finite.
  void update(std::span<const Reroute> reroutes, std::span<const CapacityChange> capacities = {});
  // Every flow added so far has finished.
  bool done() const { return finished_ == num_flows_; }
  // Advances from event to event until done(). Throws SolverInputError naming a flow when flows can never finish (a
  // rate of 0 with nothing else pending).
  void run();

  // The caller will not ask about flows [first, first + count) again: they have finished, and their records (times,
  // links, size) may be freed. A released flow counts as finished (finished() is true, rate_Bps() 0); the accessors
  // below throw for it once its storage is gone, and a flow added later may not wait for it. Its bytes stay in
  // link_bytes(). Throws SolverInputError, before anything changes, for a flow that does not exist, has not finished or
  // was released already. The replay releases a collective's flows once it has recorded them: the step's memory is
  // then the flows in flight, not every flow of the step.
  void release(FlowId first, std::size_t count);
  // Flows released so far.
  std::size_t num_released() const { return released_; }

  std::size_t num_flows() const { return num_flows_; }
  std::size_t num_links() const { return capacity_Bps_.size(); }
  // When the flow became ready, started sending and finished, in seconds; -1 until then.
  double ready_s(FlowId f) const { return kept(f).ready_s; }
  double send_start_s(FlowId f) const { return kept(f).send_s; }
  double finish_s(FlowId f) const { return kept(f).finish_s; }
  bool finished(FlowId f) const {
    const Flow* fl = find(f);
    return !fl || fl->finish_s >= 0;
  }
  // The links a flow loads (as given), and its size, B.
  std::span<const LinkIndex> links(FlowId f) const { return {kept(f).links, kept(f).entries}; }
  double bytes(FlowId f) const { return kept(f).bytes; }
  // Its share on its i-th link (as given; 1 when none was given).
  double coefficient(FlowId f, std::uint32_t i) const { return coefficient(kept(f), i); }
  // While it sends: its current rate, B/s (0 otherwise).
  double rate_Bps(FlowId f) const {
    const Flow* fl = find(f);
    return !fl || fl->comp == kNone ? 0.0 : fl->rate_Bps;
  }
  // The time the last flow finished so far.
  double makespan_s() const { return makespan_s_; }
  double capacity_Bps(LinkIndex l) const { return capacity_Bps_[l]; }
  // Bytes each link carried: the sum over finished flows of coefficient x bytes.
  const std::vector<double>& link_bytes() const { return link_bytes_; }
  const FlowEngineStats& stats() const { return stats_; }

 private:
  static constexpr std::uint32_t kNone = ~0u;
  static constexpr std::uint32_t kReleased = kNone - 1;  // Flow::dependents of a released flow
  struct Flow {
    double bytes, latency_s, start_s, weight, cap_Bps;
    const LinkIndex* links;     // its entries, in its page's arena
    const double* coeffs;       // its coefficients there; nullptr when every coefficient is 1
    std::uint32_t entries;
    std::uint32_t pending = 0;          // flows it waits for that have not finished
    std::uint32_t dependents = kNone;   // head of its list in dep_flow_/dep_next_ (kReleased once released)
    std::uint32_t comp = kNone;         // component while sending
    std::uint32_t index = kNone;        // its index in the component's problem
    std::uint32_t version = 0;          // completion heap entries of another version are stale
    double ready_s = -1, send_s = -1, finish_s = -1;
    double remaining_B = 0, updated_s = 0, rate_Bps = 0;  // remaining bytes at updated_s, sent at rate_Bps since
  };
  // Flows live in pages of kPageFlows, each with an arena for its flows' links and coefficients: a page never moves
  // (the table grows without copying it), and a full page whose flows have all been released is freed.
  static constexpr unsigned kPageBits = 16;
  static constexpr std::uint32_t kPageFlows = 1u << kPageBits;
  struct Page;
  // A flow's record (the page must not have been freed).
  Flow& flow(FlowId f) { return page_flows_[f >> kPageBits][f & (kPageFlows - 1)]; }
  const Flow& flow(FlowId f) const { return page_flows_[f >> kPageBits][f & (kPageFlows - 1)]; }
  // A flow's record, or nullptr once its page was freed.
  const Flow* find(FlowId f) const {
    const Flow* page = page_flows_[f >> kPageBits];
    return page ? page + (f & (kPageFlows - 1)) : nullptr;
  }
  // A flow's record for the public accessors: throws SolverInputError for a flow that does not exist or was freed.
  const Flow& kept(FlowId f) const;
  // Whether flow f is in component c (false once its page was freed: it finished, and left every component).
  bool in_component(FlowId f, std::uint32_t c) const {
    const Flow* fl = find(f);
    return fl && fl->comp == c;
  }
  // Copies links (and coefficients, unless all are 1) into the arena of flow f's page; sets fl's pointers.
  void store_entries(FlowId f, Flow& fl, std::span<const LinkIndex> links, std::span<const double> coefficients,
                     bool unit);
  struct Shape;
  struct Component {
    std::vector<FlowId> flow_of;  // per problem index (finished flows stay, as in the problem)
    std::vector<LinkIndex> links;
    std::uint32_t live = 0;
    std::uint32_t shape = kNone;
  };
  struct Completion {
    double time_s;
    FlowId flow;
    std::uint32_t version;
  };

  static double coefficient(const Flow& fl, std::uint32_t i) { return fl.coeffs ? fl.coeffs[i] : 1.0; }
  void make_ready(FlowId f, double now);
  void finish(FlowId f, double now);
  void process_event(double t);
  // Flows that start sending now (remaining bytes and clock set, rate 0) join the components their links touch:
  // one rebuild per group of joining flows that share links or components.
  void join(std::vector<FlowId>& joined);
  void collect_completions(double t, std::vector<FlowId>& out);
  void set_rate(FlowId f, double rate_Bps);
  void push_completion(FlowId f);
  void settle_heap();
  bool stale(const Completion& c) const;  // the flow finished, or its rate changed since c was pushed
  // Merges the components in `touched` with the flows in `joined` into one and solves it (or shares an identical
  // component's solution).
  void rebuild(std::vector<std::uint32_t>& touched, std::span<const FlowId> joined);
  void remove_finished(std::vector<FlowId>& finished, const std::vector<std::uint32_t>& touched);
  void free_component(std::uint32_t c);
  void release_shape(std::uint32_t s);
  void unfresh(std::uint32_t s);  // no new component may share shape s any more
  std::uint32_t new_shape();
  // A copy of shape `s` in its current state: its problem, solved and re-solved by the same calls.
  std::uint32_t clone_shape(std::uint32_t s);
  // Copies the rates the shape's solver last wrote into the flows of component c.
  void apply_rates(std::uint32_t c, bool every);
  // Guarded links among a flow's entries that it does not keep guarded (appended to `broken`).
  void check_guards(std::span<const LinkIndex> links, std::span<const double> coefficients,
                    std::vector<LinkIndex>& broken) const;
  bool guard_capacity_holds(std::uint32_t g) const;
  // Puts the links back into the rate problems; appends the components of sending flows on them to `comps`.
  void release_guards(std::vector<LinkIndex>& links, std::vector<std::uint32_t>& comps);
  void count_guard_flows(const Flow& fl, int delta);
  // Every flow of `comps` leaves its component (its bytes brought to the clock) and joins again; the flows of
  // `reroutes` (listed[f] set) move to their new links first, their bytes so far counted on the old ones.
  void solve_again(std::vector<std::uint32_t>& comps, std::span<const Reroute> reroutes,
                   const std::vector<std::uint8_t>& listed);
  // The first of a sending flow's links that constrains (a flow always has one: guards are never guarded).
  LinkIndex first_constraining(const Flow& fl) const;

  std::vector<double> capacity_Bps_;
  struct Guard {
    LinkIndex link;
    std::uint32_t by_begin, by_end;  // its `by` links in guard_by_, sorted
    double share;
  };
  std::vector<Guard> guards_;
  std::vector<LinkIndex> guard_by_;
  std::vector<std::uint32_t> guard_of_;  // per link (empty until the first guard): its guard while taken, else kNone
  std::vector<std::uint8_t> is_guard_;   // per link (likewise): in the `by` of a guard taken
  std::vector<std::uint32_t> guard_flows_;  // per guard: flows added on its link that have not finished
  SolverFactory make_solver_;
  FlowEngineOptions options_;
  std::vector<std::unique_ptr<Page>> pages_;
  std::vector<Flow*> page_flows_;  // pages_[p]'s flows (nullptr once freed): one load to reach a flow
  std::size_t num_flows_ = 0, released_ = 0;
  std::vector<FlowId> dep_flow_;        // dependents lists: flow, next (kNone ends)
  std::vector<std::uint32_t> dep_next_;

  double now_s_ = 0;
  std::size_t finished_ = 0;
  std::size_t sending_ = 0;
  std::vector<std::pair<double, FlowId>> timers_;  // min-heap of (send start, flow): flows waiting their latency
  std::vector<Completion> completions_;             // min-heap of projected finish times (lazy: stale entries stay)
  std::size_t compact_at_ = 1024;                   // heap size at which stale entries are dropped
  // With a finish tolerance: a min-heap of the times from which flows that nothing waits for tie (their end e minus
  // tol (e - send_s)), beside completions_, which alone sets the events (lazy like it).
  std::vector<Completion> ties_;
  std::size_t compact_ties_at_ = 1024;
  std::vector<Component> comps_;
  std::vector<std::uint32_t> free_comps_;
  std::vector<std::unique_ptr<Shape>> shapes_;
  std::vector<std::uint32_t> free_shapes_;
  std::unordered_multimap<std::uint64_t, std::uint32_t> fresh_;  // signature -> shape, for shapes no flow has left yet
  std::vector<std::uint32_t> comp_of_link_, local_link_;
  std::vector<double> link_bytes_;
  std::unordered_map<FlowId, double> credited_B_;  // moved flows: bytes already counted on their earlier links
  std::vector<FinishedFlow> reported_;
  double makespan_s_ = 0;
  FlowEngineStats stats_;
  // Scratch: the joining flows' union-find (links, then components), stamped per event.
  std::vector<std::uint32_t> uf_parent_, uf_stamp_, uf_group_;
  std::uint32_t uf_epoch_ = 0;
  std::vector<FlowId> finished_scratch_, joined_scratch_;
  std::vector<Completion> keep_scratch_;  // candidates collect_completions puts back
  std::vector<std::uint32_t> touched_scratch_;
};

}  // namespace collemu::models::solver
