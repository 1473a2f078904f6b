// Replays the kept fuzzing corpus (tests/fuzz/corpus/<reader>/) through the readers on every build: each input is
// accepted or refused with common::InputError, never anything else (fuzz_readers.hpp). scripts/fuzz.sh grows the
// corpus.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/fuzz/fuzz_readers.hpp"

namespace {

TEST(FuzzCorpus, EveryInputIsReadOrRefusedCleanly) {
  const std::filesystem::path root = COLLEMU_FUZZ_CORPUS;
  std::size_t inputs = 0, accepted = 0;
  for (const auto& reader : collemu::fuzz::reader_names()) {
    const auto dir = root / reader;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    std::size_t here = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(e.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_NO_THROW(accepted += collemu::fuzz::read_bytes(
                          reader, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()))
          << e.path();
      ++here;
    }
    EXPECT_GT(here, 0u) << "empty corpus for " << reader;
    inputs += here;
  }
  // A corpus of only refusals would not exercise the readers: some inputs must read.
  EXPECT_GT(accepted, 0u);
  RecordProperty("inputs", static_cast<int>(inputs));
}

}  // namespace
