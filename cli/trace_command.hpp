// `collemu trace`: read traces and say what they hold (`trace info`).
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_trace_command(CLI::App& app);

}  // namespace collemu::cli
