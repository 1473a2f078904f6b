// `collemu sweep`: one scenario of `collemu run` over a grid of parameters (fabric keys, placement, compute scale,
// QPs, failures, the embedded generator's options) and hash seeds; one row per point in HDF5 and CSV; finished
// points kept as they finish so that a rerun resumes (docs/sweep.md).
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_sweep_command(CLI::App& app);

}  // namespace collemu::cli
