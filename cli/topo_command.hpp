// `collemu topo`: build a fabric from a preset or a file and print what the built graph measures.
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_topo_command(CLI::App& app);

}  // namespace collemu::cli
