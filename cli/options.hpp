// What the subcommands share about options: library errors re-labelled with the option a value came from, and the
// fabric every subcommand builds the same way (--topo, --set, --fail).
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "models/fabric.hpp"
#include "models/solver/flow_engine.hpp"

namespace collemu::cli {

// Runs `parse` (a library call on the value of `option`); an InputError it throws names the option and the value
// instead of the library's own place: "--ranks 65: more ranks than the fabric's 64 GPUs".
template <class F>
auto from_option(const std::string& option, const std::string& value, F&& parse) {
  try {
    return std::forward<F>(parse)();
  } catch (const common::InputError& e) {
    throw common::InputError(option + " " + value, e.detail());
  } catch (const common::UserError& e) {  // the other user errors carry no place of their own
    throw common::InputError(option + " " + value, e.what());
  }
}

// An output file the command will write (atomically, once its work is done): refused before any work when it could not
// be written there, a directory or in a directory that does not exist. An empty path is no output.
inline void check_output_file(const std::string& option, const std::string& path) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw common::InputError(option + " " + path, "is a directory; expected the name of a file to write");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw common::InputError(option + " " + path, "its directory " + parent.string() + " does not exist");
}

inline constexpr const char* kSolverHelp =
    "rate solver backend: cpu, cpu-rounds (the same rates, solved in rounds) or cuda (a build with nvcc, on a GPU)";

// The finish tolerance the commands run with unless told (models::solver::FlowEngineOptions::finish_tolerance; the
// library's own default is 0, exact): on the reference matrix of `coll` (tests/collectives/coll_reference.py, 2 to
// 1,024 ranks, the slow all-to-all included) it changes no result beyond 1e-12 of the exact one (or the row's
// sensitivity), and it takes that all-to-all from about 300 s to 5 s (docs/flow-engine.md). At 3e-4 a step ring moves by
// 1.3e-6: 2e-4 is the largest round value that keeps the matrix at 1e-12.
inline constexpr double kDefaultFinishTolerance = 2e-4;
inline constexpr const char* kFinishToleranceHelp =
    "an approximation: a flow that nothing waits for, within this fraction of its sending time of its end, finishes at "
    "the event before it, with that event's completions (one re-solve for completions close together; "
    "docs/flow-engine.md); 0: exact; at most 0.01";

// --finish-tolerance (coll, run, sweep): a fraction of a flow's sending time, 0 (exact) to
// models::solver::kMaxFinishTolerance (0.01).
inline double finish_tolerance_option(double value) {
  static_assert(models::solver::kMaxFinishTolerance == 0.01, "the message below says 0.01");
  if (!(value >= 0 && value <= models::solver::kMaxFinishTolerance)) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    throw common::InputError(std::string("--finish-tolerance ") + text,
                             "expected a fraction of a flow's sending time from 0 (exact) to 0.01");
  }
  return value;
}

// A relative error as the reports print it: signed, to 0.1% ("+12.3%"; without its first character, its magnitude).
inline std::string signed_percent(double x) {
  char t[32];
  std::snprintf(t, sizeof t, "%+.1f%%", 100 * x);
  return t;
}

// NCCL's channel knobs (coll, run, sweep): --min-nchannels and --max-nchannels (-1: not given) 1 to 64, NCCL's
// MAXCHANNELS per communicator (src/include/device.h), the least at most the most; --nchannels-per-net-peer 1 to 64
// (0: NCCL's default).
inline void check_channel_options(int min_channels, int max_channels, int net_channels_per_peer) {
  for (auto [name, v] : {std::pair{"--min-nchannels", min_channels}, std::pair{"--max-nchannels", max_channels}})
    if (v != -1 && (v < 1 || v > 64))
      throw common::InputError(std::string(name) + " " + std::to_string(v),
                               "expected 1 to 64 channels (NCCL's MAXCHANNELS)");
  if (min_channels != -1 && max_channels != -1 && min_channels > max_channels)
    throw common::InputError("--min-nchannels " + std::to_string(min_channels),
                             "more than --max-nchannels " + std::to_string(max_channels));
  if (net_channels_per_peer < 0 || net_channels_per_peer > 64)
    throw common::InputError("--nchannels-per-net-peer " + std::to_string(net_channels_per_peer),
                             "expected 1 to 64 channels (NCCL_NCHANNELS_PER_NET_PEER); leave it out for NCCL's default");
}

// --topo PRESET|FILE, then every --set-file FILE, then every --set KEY=VALUE, built, then every --fail X.
inline models::Fabric build_fabric_from_options(const std::string& topo, const std::vector<std::string>& sets,
                                                const std::vector<std::string>& fails,
                                                const std::vector<std::string>& set_files = {}) {
  auto config = models::FabricConfig::from_preset_or_file(topo);
  for (const auto& f : set_files) config.set_file(f);
  for (const auto& s : sets) config.set_assignment(s);
  models::Fabric fabric = models::build_fabric(config);
  for (const auto& x : fails) from_option("--fail", x, [&] { fabric.fail(x); });
  return fabric;
}

}  // namespace collemu::cli
