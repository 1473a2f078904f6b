// `collemu calibrate`: fits fabric keys (achieved shares, extra latencies) to measured collective times, from the
// tables nccl-tests prints (--nccl-tests) or from a CSV of cases on several machines (--cases), and writes them as an
// overlay that run, coll and sweep read with --set-file. analysis/calibrate.hpp has the method.
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_calibrate_command(CLI::App& app);

}  // namespace collemu::cli
