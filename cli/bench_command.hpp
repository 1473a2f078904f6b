// `collemu bench solver`: the rate solver on the fat-tree all-to-all reference instance.
#pragma once

#include <CLI/CLI.hpp>

namespace collemu::cli {

void add_bench_command(CLI::App& app);

}  // namespace collemu::cli
