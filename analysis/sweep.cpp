#include "analysis/sweep.hpp"

#include <cstdio>
#include <string_view>

#include "common/atomic_file.hpp"
#include "traces/hdf5_io.hpp"

namespace collemu::analysis {

void write_sweep_h5(const std::string& path, const SweepTable& t) {
  traces::h5::write_atomically(path, [&](traces::h5::Writer& w) {
    w.attr_str("format", "collemu-sweep");
    w.attr_u64("version", kSweepFormatVersion);
    w.attr_str("identity", t.identity);
    w.attr_u64("rows", t.rows.size());
    std::vector<std::uint64_t> point, seed;
    std::vector<std::string> tier;
    for (const SweepRow& r : t.rows) {
      point.push_back(r.point);
      seed.push_back(r.seed);
      tier.push_back(r.binding_tier);
    }
    w.column("point", point);
    w.column("seed", seed);
    w.strings("binding_tier", tier);
    w.group("params");
    for (std::size_t k = 0; k < t.param_keys.size(); ++k) {
      std::vector<std::string> v;
      for (const SweepRow& r : t.rows) v.push_back(r.params[k]);
      w.strings(("params/" + t.param_keys[k]).c_str(), v);
    }
    for (std::size_t k = 0; k < t.value_names.size(); ++k) {
      std::vector<double> v;
      for (const SweepRow& r : t.rows) v.push_back(r.values[k]);
      w.column(t.value_names[k].c_str(), v);
    }
  });
}

namespace {
// A CSV field: quoted when it holds a separator, a quote or a line break (RFC 4180).
std::string field(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}
}  // namespace

void write_sweep_csv(const std::string& path, const SweepTable& t) {
  std::string out = "point,seed";
  for (const auto& k : t.param_keys) out += "," + field(k);
  for (const auto& n : t.value_names) out += "," + field(n);
  out += ",binding_tier\n";
  char buf[40];
  for (const SweepRow& r : t.rows) {
    out += std::to_string(r.point) + "," + std::to_string(r.seed);
    for (const auto& p : r.params) out += "," + field(p);
    for (double v : r.values) {
      std::snprintf(buf, sizeof buf, "%.17g", v);  // round-trips every double
      out += ",";
      out += buf;
    }
    out += "," + field(r.binding_tier) + "\n";
  }
  common::write_file_atomically(path, out);
}

}  // namespace collemu::analysis
