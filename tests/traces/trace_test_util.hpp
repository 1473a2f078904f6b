// Helpers shared by the trace reader tests: temporary input files and the real files beside the repository.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace collemu::traces::testing_util {

// A file in the test's temporary folder holding `bytes`, removed at the end of the scope. `name` ends the file name
// (a reader may read the rank from it: "rank_0.json", "x.0.et").
struct TempFile {
  std::string path;
  TempFile(const std::string& bytes, const std::string& name) {
    static int counter = 0;
    path = ::testing::TempDir() + "collemu_" + std::to_string(counter++) + "_" + name;
    std::ofstream(path, std::ios::binary) << bytes;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { std::remove(path.c_str()); }
};

#ifdef COLLEMU_SHARED_DATA
// The real files live beside the repository (../shared/data); a checkout without them skips those tests.
inline const std::string kShared = COLLEMU_SHARED_DATA;
#define REQUIRE_SHARED_DATA()                                                                              \
  do {                                                                                                     \
    if (!std::ifstream(collemu::traces::testing_util::kShared + "/README.md"))                            \
      GTEST_SKIP() << "no " << collemu::traces::testing_util::kShared << " here";                         \
  } while (0)
#endif

}  // namespace collemu::traces::testing_util
