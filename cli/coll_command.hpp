// `collemu coll`: nccl-tests for a network that does not exist yet. One collective over a range of sizes on a
// fabric, printed as nccl-tests prints it (size, count, type, time, algbw, busbw), with the algorithm and protocol
// NCCL's model picks and the tier that binds.
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_coll_command(CLI::App& app);

}  // namespace collemu::cli
