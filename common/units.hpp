// Units: collemu keeps every quantity in SI base units in a double whose name ends with the unit:
// `_B` bytes, `_s` seconds, `_Bps` bytes per second, `_m` metres. Prefixes are decimal (1 GB = 1e9 B,
// 1 Gbps = 1e9 bit/s = 1.25e8 B/s) except the explicit binary ones (KiB, MiB, GiB, TiB).
//
// Text with units is parsed only at input, by the functions below. A number without a unit is an error
// everywhere except where a format defines it (nccl-tests sizes are bytes: parse_size_B(text, true)).
// Every parser throws UnitError with a message that says what was expected; callers add file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace collemu::common {

inline constexpr double kBitsPerByte = 8.0;

// Speed of light in optical fibre: c / n with n ~ 1.47 gives ~2.04e8 m/s, i.e. ~4.9 us per km;
// FABRIC.md / DESIGN.md use "~5 us/km of fibre". Seconds per metre.
inline constexpr double kFibreDelay_s_per_m = 5e-6 / 1000.0;

// "400Gbps", "800G" (a port speed: bits), "3.2Tbps", "25GB/s", "50 GBps", "1e12bps". Must be > 0.
double parse_bandwidth_Bps(std::string_view text);
// "1.5us", "10 ns", "2ms", "0s", "3µs". Must be >= 0.
double parse_duration_s(std::string_view text);
// "10km", "300m". Must be >= 0.
double parse_distance_m(std::string_view text);
// "4.5:1", "7:1", "1:1". Oversubscription ratio as a number (4.5). Must be >= 1.
double parse_ratio(std::string_view text);
// "90%", "100 %": a share as a fraction (0.9). Must be > 0.
double parse_percent(std::string_view text);
// "8", "8B", "1KB", "4MiB", "8G" (nccl-tests style: K/M/G without B are binary, as nccl-tests' -b/-e).
// A bare number is bytes only when allow_bare is true (nccl-tests options); configs pass false.
double parse_size_B(std::string_view text, bool allow_bare);
// A positive integer count ("16"); rejects fractions, signs, units.
std::int64_t parse_count(std::string_view text);
// true/false/yes/no/on/off/1/0.
bool parse_bool(std::string_view text);

// Human-readable renderings for reports: "400 Gbps", "14.4 Tbps", "1.5 us", "4.50:1".
std::string format_bandwidth(double Bps);
std::string format_duration(double s);
std::string format_ratio(double ratio);

}  // namespace collemu::common
