// `collemu run`: replay one training step of a job (a trace, or the embedded default) on a fabric and print the step
// time, its breakdown, the slowest collectives, the busiest tiers and links and the bytes over the BAG
// (docs/replay.md).
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_run_command(CLI::App& app);

}  // namespace collemu::cli
