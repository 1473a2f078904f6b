// A sweep's table: one row per (point, seed), the parameters as text and the results as numbers, written as HDF5
// (docs/sweep-format.md) and CSV. Both written atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace collemu::analysis {

inline constexpr std::uint64_t kSweepFormatVersion = 1;

struct SweepRow {
  std::uint64_t point = 0, seed = 0;
  std::vector<std::string> params;  // one per SweepTable::param_keys
  std::vector<double> values;       // one per SweepTable::value_names
  std::string binding_tier;         // the tier whose links were the most utilised over the step
};

struct SweepTable {
  std::string identity;  // what made the sweep (a JSON text): its fabric, trace, options and parameters
  std::vector<std::string> param_keys;
  std::vector<std::string> value_names;
  std::vector<SweepRow> rows;  // sorted by (point, seed)
};

void write_sweep_h5(const std::string& path, const SweepTable& table);
void write_sweep_csv(const std::string& path, const SweepTable& table);

}  // namespace collemu::analysis
