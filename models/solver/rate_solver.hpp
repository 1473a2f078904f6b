// RateSolver: weighted max-min fair rates for a RateProblem (see rate_problem.hpp for the model).
//
// A backend is a small subclass behind the non-virtual solve(), which validates the problem and calls do_solve()
// (the SimGrid solver's pattern). Backends are made by name ("cpu", the reference; "cpu-rounds"; "cuda" where built)
// or handed around as a SolverFactory, which makes one solver per independent problem (the flow engine's components).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/solver/rate_problem.hpp"

namespace collemu::models::solver {

struct SolveStats {
  std::size_t rounds = 0;     // progressive-filling rounds
  std::size_t variables = 0;  // flows after merging identical ones
  double device_s = 0;        // time spent on the device (a GPU backend's rounds, measured with CUDA events)
};

class RateSolver {
 public:
  virtual ~RateSolver() = default;
  // Fills rates_Bps (one per flow). Throws SolverInputError for bad input.
  void solve(const RateProblem& problem, std::vector<double>& rates_Bps);
  // What the rates vector given to remove_flows() holds.
  enum class Rates {
    kAny,       // anything: every flow's rate is written
    kUnchanged  // the rates this solver wrote into this same vector at its last call, unchanged since: only the
                // rates that changed are written (a backend may write more)
  };
  // After solve(problem): `flows` finish (stop sending); rates_Bps gets the new rates (0 for the finished flows).
  // `problem` must be the same object, unchanged, as in solve(): backends keep views of it. Throws SolverInputError
  // (changing nothing) when a flow does not exist, was removed already or is listed twice.
  void remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows, std::vector<double>& rates_Bps,
                    Rates given = Rates::kAny);
  // Which rates the last solve() or remove_flows() wrote: every flow's, or only those of written_flows() (in any
  // order, possibly with repeats or with rates that did not change): every other rate is as it was before the call.
  // What lets a caller that keeps per-flow state (the flow engine) touch only what changed.
  bool wrote_every_rate() const { return wrote_all_; }
  std::span<const FlowIndex> written_flows() const { return written_; }
  virtual std::string name() const = 0;
  // Bytes held by the backend's working state after a solve (host memory; device memory for a GPU backend).
  virtual std::size_t memory_bytes() const = 0;
  const SolveStats& stats() const { return stats_; }

 protected:
  virtual void do_solve(const RateProblem& problem, std::span<double> rates_Bps) = 0;
  // `flows` are already marked dead in alive_. Writes the new rates: of every flow, or, when `rates_current` (the
  // vector holds the rates of the previous call), at least of every flow whose rate changed; a backend that writes
  // only some sets wrote_all_ = false and lists them in written_ (remove_flows() clears both first).
  virtual void do_remove_flows(const RateProblem& problem, std::span<const FlowIndex> flows,
                               std::span<double> rates_Bps, bool rates_current) = 0;
  SolveStats stats_;
  bool wrote_all_ = true;
  std::vector<FlowIndex> written_;
  std::vector<std::uint8_t> alive_;  // flows not removed since the last solve()
  const RateProblem* solved_ = nullptr;  // the problem of the last solve()
  const double* rates_at_ = nullptr;     // the rates vector of the last call (a check on Rates::kUnchanged)
};

// A backend this build or this machine does not have ("cuda" without nvcc at configure time; CudaError, without a
// usable device, is its runtime twin): not a mistake in the input but a missing part, so not a SolverInputError.
class BackendUnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "cpu", "cpu-rounds", or "cuda" where the CUDA backend is built. Throws SolverInputError for an unknown name,
// BackendUnavailableError for "cuda" in a build without it.
std::unique_ptr<RateSolver> make_rate_solver(const std::string& name);
// The names make_rate_solver accepts in this build.
std::vector<std::string> rate_solver_names();

// Makes a new solver each call: how a backend is passed to what needs one solver per problem.
using SolverFactory = std::function<std::unique_ptr<RateSolver>()>;
// The factory of make_rate_solver(name); the name is checked (and one solver made, so that a missing device is an
// error now) when the factory is made.
SolverFactory rate_solver_factory(const std::string& name);

}  // namespace collemu::models::solver
