// The memory check: what this process may use (physical memory, its cgroup limit, COLLEMU_MEMORY_LIMIT) and the
// refusal of a request that needs more, before anything is allocated.
#include "common/memory.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/error.hpp"

namespace collemu::common {
namespace {

std::uint64_t mem_total() {  // /proc/meminfo's MemTotal, read here independently
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  in >> key >> kb;
  return key == "MemTotal:" ? kb * 1024 : 0;
}

TEST(Memory, AtMostPhysicalMemoryAndTheEnvironmentsLimit) {
  unsetenv("COLLEMU_MEMORY_LIMIT");
  const std::uint64_t all = available_memory_bytes();
  ASSERT_GT(mem_total(), 0u);
  EXPECT_GT(all, 0u);
  EXPECT_LE(all, mem_total());  // a cgroup limit can only lower it
  setenv("COLLEMU_MEMORY_LIMIT", "512MiB", 1);
  EXPECT_EQ(available_memory_bytes(), std::min<std::uint64_t>(all, 512ull << 20));
  setenv("COLLEMU_MEMORY_LIMIT", "1e30", 1);  // above what there is: no effect
  EXPECT_EQ(available_memory_bytes(), all);
  setenv("COLLEMU_MEMORY_LIMIT", "lots", 1);
  EXPECT_THROW(available_memory_bytes(), InputError);
  unsetenv("COLLEMU_MEMORY_LIMIT");
}

TEST(Memory, ARequestAboveTheLimitIsRefusedNamingItsPlace) {
  setenv("COLLEMU_MEMORY_LIMIT", "1GB", 1);
  EXPECT_NO_THROW(check_memory(0.9e9, "--ranks 8", "a collective"));
  try {
    check_memory(2.5e9, "--ranks 4096", "alltoall on 4096 ranks");
    FAIL() << "not refused";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "--ranks 4096");
    EXPECT_NE(std::string(e.what()).find("alltoall on 4096 ranks needs about 2.5 GB; this process may use 1.0 GB"),
              std::string::npos)
        << e.what();
  }
  unsetenv("COLLEMU_MEMORY_LIMIT");
  EXPECT_EQ(format_bytes(512e6), "512 MB");
  EXPECT_EQ(format_bytes(53.8e9), "53.8 GB");
}

}  // namespace
}  // namespace collemu::common
