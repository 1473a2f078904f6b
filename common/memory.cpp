#include "common/memory.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.hpp"
#include "common/units.hpp"

namespace collemu::common {

namespace {

std::uint64_t read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  return end && *end == '\0' ? v : 0;
}

std::uint64_t physical_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  while (in >> key) {
    if (key == "MemTotal:") {
      in >> kb;
      return kb * 1024;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

// The process's cgroup limit: v2 "0::/path" -> /sys/fs/cgroup/path/memory.max; v1 "N:memory:/path".
std::uint64_t cgroup_bytes() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  std::uint64_t best = 0;
  auto take = [&](std::uint64_t v) {
    // A limit at or above 2^60 means "none" (v1 writes 9223372036854771712).
    if (v > 0 && v < (std::uint64_t{1} << 60) && (best == 0 || v < best)) best = v;
  };
  while (std::getline(in, line)) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) {
      take(read_number("/sys/fs/cgroup" + path + "/memory.max"));
      take(read_number("/sys/fs/cgroup/memory.max"));
    } else if (controllers.find("memory") != std::string::npos) {
      take(read_number("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes"));
      take(read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    }
  }
  return best;
}

}  // namespace

std::uint64_t available_memory_bytes() {
  std::uint64_t v = physical_bytes();
  const std::uint64_t cg = cgroup_bytes();
  if (cg > 0 && (v == 0 || cg < v)) v = cg;
  if (const char* env = std::getenv("COLLEMU_MEMORY_LIMIT"); env && *env) {
    double limit = 0;
    try {
      limit = parse_size_B(env, /*allow_bare=*/true);
    } catch (const UnitError& e) {
      throw InputError(std::string("COLLEMU_MEMORY_LIMIT=") + env, e.what());
    }
    if (limit > 0 && (v == 0 || limit < static_cast<double>(v))) v = static_cast<std::uint64_t>(limit);
  }
  return v;
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1e9) std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else std::snprintf(buf, sizeof buf, "%.0f MB", std::ceil(bytes / 1e6));
  return buf;
}

void check_memory(double need_bytes, const std::string& where, const std::string& what) {
  const std::uint64_t avail = available_memory_bytes();
  if (avail == 0 || need_bytes <= static_cast<double>(avail)) return;
  throw InputError(where, what + " needs about " + format_bytes(need_bytes) + "; this process may use " +
                              format_bytes(static_cast<double>(avail)) +
                              " (the smallest of physical memory, its cgroup limit as a Slurm --mem sets, and COLLEMU_MEMORY_LIMIT)");
}

}  // namespace collemu::common
