// Deterministic hashing shared by the router (ECMP/UCMP choices) and the solver (merging identical flows).
// Header-only and standard-library-only, so the solver target stays free of other dependencies.
#pragma once

#include <cstdint>
#include <cstring>

namespace collemu::common {

// splitmix64's finaliser (Steele, Lea, Flood, OOPSLA'14): a bijection with full avalanche, so nearby inputs give
// unrelated outputs.
inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

// The bits of a double, for hashing it exactly.
inline std::uint64_t bits_of(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

}  // namespace collemu::common
