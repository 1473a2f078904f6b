// FlowEngine: the flow-level network in motion (DESIGN.md §4). Flows with sizes, earliest start times, a fixed
// latency and dependencies run over links of given capacities; rates come from a RateSolver. At each event (a
// flow becomes ready, starts sending, or finishes) the rates are re-solved, and time advances to the next event.
//
// A flow's life: it is *ready* when every flow it depends on has finished and the clock has reached its earliest
// start; it then waits its latency (per-hop link latency plus whatever fixed cost its caller adds) and *sends*:
// it joins the rate problem until its bytes are through; then it has *finished*. Time for a flow alone on a path
// of bandwidth B: latency + bytes / B, the alpha-beta form.
//
// Re-solving, by connected component: the sending flows are kept in components (flows that share a link, directly or
// through other flows), each with its own rate problem and solver; max-min rates of disjoint components are
// independent. When flows start, the components they touch are merged with them and that problem alone is rebuilt and
// solved; when flows finish, their component's solver drops them and re-solves what they touched
// (RateSolver::remove_flows); other components keep their rates. A component lives until its last flow finishes.
//
// The engine knows links by index and capacity only: no NCCL, no traces, no fabric structure.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string>
#include <vector>

#include "models/solver/rate_solver.hpp"

namespace collemu::models {

using FlowId = std::uint32_t;

struct FlowEngineStats {
  std::size_t events = 0;      // distinct times at which something happened
  std::size_t full_solves = 0; // component problems rebuilt because flows started
  std::size_t incremental_solves = 0;  // re-solves after completions only
  std::size_t max_sending = 0;  // largest number of flows sending at once
  std::size_t max_component = 0;  // largest component solved (flows)
};

class FlowEngine {
 public:
  // `capacity_Bps`: one capacity per link (the links' indices are the ones flows name). `solver`: a backend name
  // for solver::make_rate_solver ("cpu", "cuda").
  explicit FlowEngine(std::vector<double> capacity_Bps, const std::string& solver = "cpu");

  // Adds a flow; returns its id (ids are dense, in order of addition). `links` and `coefficients` (in (0, 1]) as in
  // solver::RateProblem; a flow with bytes == 0 may cross no link. `deps` must be flows added earlier. Throws
  // solver::SolverInputError naming the flow for a negative or non-finite size, start, latency or weight, a zero
  // cap, a flow with bytes that crosses no link, an unknown link, a coefficient outside (0, 1] or a dependency
  // that is not an earlier flow.
  FlowId add_flow(double bytes, std::span<const solver::LinkIndex> links, std::span<const double> coefficients,
                  double latency_s = 0, std::span<const FlowId> deps = {}, double earliest_start_s = 0,
                  double weight = 1, double cap_Bps = solver::kNoCap);

  // Runs every flow to completion. Throws solver::SolverInputError when flows can never finish (a rate of 0 with
  // nothing else pending).
  void run();

  std::size_t num_flows() const { return flows_.size(); }
  std::size_t num_links() const { return capacity_Bps_.size(); }
  // After run(): when the flow became ready, started sending and finished, in seconds.
  double ready_s(FlowId f) const { return flows_[f].ready_s; }
  double send_start_s(FlowId f) const { return flows_[f].send_s; }
  double finish_s(FlowId f) const { return flows_[f].finish_s; }
  // The time the last flow finished.
  double makespan_s() const { return makespan_s_; }
  // Bytes each link carried: the sum over finished flows of coefficient x bytes.
  const std::vector<double>& link_bytes() const { return link_bytes_; }
  const FlowEngineStats& stats() const { return stats_; }

 private:
  struct Flow {
    double bytes, latency_s, earliest_s, weight, cap_Bps;
    std::uint64_t entry_begin, entry_end;  // into entry_link_/entry_coeff_
    std::uint32_t pending_deps = 0;
    double ready_s = -1, send_s = -1, finish_s = -1;
    double remaining_B = 0;
  };
  struct Component {
    std::vector<FlowId> flows;  // sending, sorted by id (the problem's flow order)
    std::vector<std::uint32_t> links;
    std::unique_ptr<solver::RateProblem> problem;  // on the heap: the solver keeps its address across moves
    std::unique_ptr<solver::RateSolver> solver;
    std::vector<double> rates;  // per problem index
  };
  static constexpr std::uint32_t kNone = ~0u;
  void make_ready(FlowId f, double now);
  void finish(FlowId f, double now);
  // Merges the components in `touched` with the flows in `joined` into one and solves it.
  void rebuild(std::vector<std::uint32_t>& touched, std::span<const FlowId> joined);
  void free_component(std::uint32_t c);

  std::vector<double> capacity_Bps_;
  std::string solver_name_;
  std::vector<Flow> flows_;
  std::vector<solver::LinkIndex> entry_link_;
  std::vector<double> entry_coeff_;
  // Dependents of each flow (CSR built by run()).
  std::vector<std::pair<FlowId, FlowId>> dep_edges_;  // (dependency, dependent)
  std::vector<std::uint64_t> dependents_begin_;
  std::vector<FlowId> dependents_;

  // Run state.
  std::vector<std::pair<double, FlowId>> timers_;  // min-heap of (time, flow): flows that will start sending
  std::vector<FlowId> sending_;                     // flows in some component
  std::vector<Component> comps_;
  std::vector<std::uint32_t> free_comps_;
  std::vector<std::uint32_t> comp_of_link_, local_link_, comp_of_flow_, index_in_problem_;
  std::vector<double> rate_;  // per flow, while sending
  std::vector<double> link_bytes_;
  double makespan_s_ = 0;
  FlowEngineStats stats_;
};

}  // namespace collemu::models
