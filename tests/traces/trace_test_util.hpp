// Helpers shared by the trace reader tests: temporary input files and the real files beside the repository.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace collemu::traces::testing_util {

// A fresh path in the test's temporary folder ending in `name`. ctest runs every test in its own process, two at a
// time: the process id keeps concurrent tests (each counting from 0) off each other's files.
inline std::string temp_path(const std::string& name) {
  static int counter = 0;
  return ::testing::TempDir() + "collemu_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name;
}

// A file in the test's temporary folder holding `bytes`, removed at the end of the scope. `name` ends the file name
// (a reader may read the rank from it: "rank_0.json", "x.0.et").
struct TempFile {
  std::string path;
  TempFile(const std::string& bytes, const std::string& name) : path(temp_path(name)) {
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
