// `collemu validate`: replays a trace that carries measured times (Kineto kernels, Flight Recorder durations, Chakra
// nodes with durations) on a fabric that describes the machine it came from, and compares: per collective kind and
// size bucket, over every op, and over each rank's span. analysis/validate.hpp has the pairing.
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_validate_command(CLI::App& app);

}  // namespace collemu::cli
