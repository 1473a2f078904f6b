// One libFuzzer target per reader: COLLEMU_FUZZ_READER names it at compile time.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  collemu::fuzz::read_bytes(COLLEMU_FUZZ_READER, data, size);
  return 0;
}
