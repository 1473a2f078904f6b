#include "common/units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "common/error.hpp"

namespace collemu::common {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

struct NumberAndUnit {
  double number;
  std::string_view unit;
};

// Splits "  4.5 Gbps" into 4.5 and "Gbps". Throws when there is no leading number.
NumberAndUnit split(std::string_view text, const char* expected) {
  std::string_view s = trim(text);
  if (s.empty()) throw UnitError(std::string("empty value; expected ") + expected);
  double value = 0;
  const char* begin = s.data();
  if (*begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), value);
  if (ec != std::errc() || ptr == begin)
    throw UnitError("'" + std::string(s) + "' is not a number with a unit; expected " + expected);
  if (!std::isfinite(value)) throw UnitError("'" + std::string(s) + "' is not finite; expected " + expected);
  return {value, trim(std::string_view(ptr, s.data() + s.size() - ptr))};
}

[[noreturn]] void bad_unit(std::string_view text, std::string_view unit, const char* expected) {
  if (unit.empty())
    throw UnitError("'" + std::string(trim(text)) + "' has no unit; expected " + expected);
  throw UnitError("'" + std::string(trim(text)) + "': unknown unit '" + std::string(unit) + "'; expected " +
                  expected);
}

double decimal_prefix(char c) {
  switch (c) {
    case 'k': case 'K': return 1e3;
    case 'M': return 1e6;
    case 'G': return 1e9;
    case 'T': return 1e12;
    case 'P': return 1e15;
    default: return 0;
  }
}

}  // namespace

double parse_bandwidth_Bps(std::string_view text) {
  constexpr const char* kExpected = "a bandwidth such as 400Gbps, 800G, 3.2Tbps or 25GB/s";
  auto [x, unit] = split(text, kExpected);
  // Accepted: [prefix]bps | [prefix]b/s (bits), [prefix]B/s | [prefix]Bps (bytes), bare prefix "800G" (bits:
  // the way port speeds are written, "800G Ethernet").
  double scale = 1;
  std::string_view u = unit;
  if (!u.empty() && decimal_prefix(u.front()) != 0 && u != "B/s" && u != "Bps" && u != "bps" && u != "b/s") {
    scale = decimal_prefix(u.front());
    u.remove_prefix(1);
  }
  double bytes_per_unit = 0;
  if (u == "bps" || u == "b/s" || (u.empty() && scale != 1)) bytes_per_unit = 1.0 / kBitsPerByte;
  else if (u == "Bps" || u == "B/s") bytes_per_unit = 1.0;
  else bad_unit(text, unit, kExpected);
  double v = x * scale * bytes_per_unit;
  if (!(v > 0)) throw UnitError("'" + std::string(trim(text)) + "': a bandwidth must be greater than zero");
  return v;
}

double parse_duration_s(std::string_view text) {
  constexpr const char* kExpected = "a duration such as 1.5us, 200ns, 2ms or 1s";
  auto [x, unit] = split(text, kExpected);
  double scale = 0;
  if (unit == "s") scale = 1;
  else if (unit == "ms") scale = 1e-3;
  else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e-6;  // us, µs (micro/mu)
  else if (unit == "ns") scale = 1e-9;
  else if (unit == "ps") scale = 1e-12;
  else bad_unit(text, unit, kExpected);
  if (x < 0) throw UnitError("'" + std::string(trim(text)) + "': a duration cannot be negative");
  return x * scale;
}

double parse_distance_m(std::string_view text) {
  constexpr const char* kExpected = "a distance such as 10km or 300m";
  auto [x, unit] = split(text, kExpected);
  double scale = 0;
  if (unit == "m") scale = 1;
  else if (unit == "km") scale = 1e3;
  else bad_unit(text, unit, kExpected);
  if (x < 0) throw UnitError("'" + std::string(trim(text)) + "': a distance cannot be negative");
  return x * scale;
}

double parse_ratio(std::string_view text) {
  constexpr const char* kExpected = "a ratio such as 4.5:1 or 7:1";
  std::string_view s = trim(text);
  auto colon = s.find(':');
  if (colon == std::string_view::npos)
    throw UnitError("'" + std::string(s) + "' is not a ratio; expected " + kExpected);
  auto num = split(s.substr(0, colon), kExpected);
  auto den = split(s.substr(colon + 1), kExpected);
  if (!num.unit.empty() || !den.unit.empty())
    throw UnitError("'" + std::string(s) + "' is not a ratio; expected " + kExpected);
  if (!(num.number > 0) || !(den.number > 0))
    throw UnitError("'" + std::string(s) + "': both sides of a ratio must be greater than zero");
  double r = num.number / den.number;
  if (r < 1.0)
    throw UnitError("'" + std::string(s) + "': an oversubscription ratio below 1:1 is not allowed (a tier " +
                    "cannot carry more than it receives); expected " + kExpected);
  return r;
}

double parse_percent(std::string_view text) {
  constexpr const char* kExpected = "a share such as 90% or 100%";
  auto [x, unit] = split(text, kExpected);
  if (unit != "%") bad_unit(text, unit, kExpected);
  if (!(x > 0)) throw UnitError("'" + std::string(trim(text)) + "': a share must be greater than zero");
  return x / 100;
}

double parse_size_B(std::string_view text, bool allow_bare) {
  constexpr const char* kExpected = "a size such as 8B, 1KB, 4MiB or 8G";
  auto [x, unit] = split(text, kExpected);
  double scale = 0;
  if (unit.empty()) {
    if (!allow_bare) bad_unit(text, unit, kExpected);
    scale = 1;
  } else if (unit == "B") {
    scale = 1;
  } else if (unit.size() == 1) {  // nccl-tests: "8G" = 8 * 1024^3, "1K" = 1024; its options take "1m", "1g" too
    const bool lower_ok = allow_bare;      // (nccl-tests' parsesize); in a config "1m" would read as metres
    switch (unit[0]) {
      case 'K': case 'k': scale = 1024.0; break;
      case 'M': scale = 1024.0 * 1024; break;
      case 'G': scale = 1024.0 * 1024 * 1024; break;
      case 'T': scale = 1024.0 * 1024 * 1024 * 1024; break;
      case 'm': scale = lower_ok ? 1024.0 * 1024 : 0; break;
      case 'g': scale = lower_ok ? 1024.0 * 1024 * 1024 : 0; break;
      case 't': scale = lower_ok ? 1024.0 * 1024 * 1024 * 1024 : 0; break;
      default: break;
    }
    if (scale == 0) bad_unit(text, unit, kExpected);
  } else if (unit.size() == 2 && unit[1] == 'B' && decimal_prefix(unit[0]) != 0) {
    scale = decimal_prefix(unit[0]);
  } else if (unit.size() == 3 && unit.substr(1) == "iB") {
    switch (unit[0]) {
      case 'K': scale = 1024.0; break;
      case 'M': scale = 1024.0 * 1024; break;
      case 'G': scale = 1024.0 * 1024 * 1024; break;
      case 'T': scale = 1024.0 * 1024 * 1024 * 1024; break;
      default: bad_unit(text, unit, kExpected);
    }
  } else {
    bad_unit(text, unit, kExpected);
  }
  if (x < 0) throw UnitError("'" + std::string(trim(text)) + "': a size cannot be negative");
  return x * scale;
}

std::int64_t parse_count(std::string_view text) {
  std::string_view s = trim(text);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
    throw UnitError("'" + std::string(s) + "' is not a whole number; expected a count such as 16");
  if (v <= 0) throw UnitError("'" + std::string(s) + "': a count must be at least 1");
  return v;
}

bool parse_bool(std::string_view text) {
  std::string_view s = trim(text);
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  throw UnitError("'" + std::string(s) + "' is not a boolean; expected true or false");
}

std::string format_bandwidth(double Bps) {
  double bits = Bps * kBitsPerByte;
  const char* units[] = {"bps", "Kbps", "Mbps", "Gbps", "Tbps", "Pbps", "Ebps"};
  int i = 0;
  while (bits >= 1000.0 && i < 6) { bits /= 1000.0; ++i; }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g %s", bits, units[i]);
  return buf;
}

std::string format_duration(double s) {
  char buf[64];
  if (s == 0) std::snprintf(buf, sizeof buf, "0 s");
  else if (s < 1e-6) std::snprintf(buf, sizeof buf, "%.4g ns", s * 1e9);
  else if (s < 1e-3) std::snprintf(buf, sizeof buf, "%.4g us", s * 1e6);
  else if (s < 1) std::snprintf(buf, sizeof buf, "%.4g ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.4g s", s);
  return buf;
}

std::string format_ratio(double ratio) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f:1", ratio);
  return buf;
}

}  // namespace collemu::common
