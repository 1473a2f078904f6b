// Feeding arbitrary bytes to the trace readers: the shared body of the libFuzzer targets (scripts/fuzz.sh) and of the
// corpus regression test (ctest: fuzz_corpus_test). A reader may accept the bytes or throw common::InputError; any
// other exception, a crash or a sanitizer report is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace collemu::fuzz {

// The readers by name: "nccl_log", "kineto", "chakra", "flight_recorder", "h5" (collemu's own format), "config" (a
// fabric config file).
const std::vector<std::string>& reader_names();

// Writes the bytes to a temporary file, reads it with the named reader (and checks the trace's consistency when it
// reads). Returns true when the input was accepted, false when it was refused with common::InputError.
bool read_bytes(const std::string& reader, const std::uint8_t* data, std::size_t size);

}  // namespace collemu::fuzz
