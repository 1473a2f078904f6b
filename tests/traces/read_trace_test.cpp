// traces::read_trace: the one entry point for every format (the format table, detection from the contents), on the
// real files beside the repository and on the project's NCCL log.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.hpp"
#include "traces/hdf5_trace.hpp"
#include "traces/read_trace.hpp"
#include "trace_test_util.hpp"

namespace collemu::traces {
namespace {

using testing_util::kShared;

std::string error_of(const std::vector<std::string>& files, const std::string& format) {
  try {
    read_trace(files, format);
  } catch (const common::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ReadTrace, TellsTheFormatFromTheContents) {
  REQUIRE_SHARED_DATA();
  // ASTRA-sim's 8-NPU all-reduce microbenchmark: 8 Chakra files, one AllReduce each.
  std::vector<std::string> et;
  for (int r = 0; r < 8; ++r)
    et.push_back(kShared + "/astra-sim/workload/microbenchmarks/all_reduce/8npus_1MB/all_reduce." + std::to_string(r) +
                 ".et");
  const Trace chakra = read_trace(et);
  EXPECT_EQ(chakra.world_size, 8u);
  // The same files named as Chakra give the same trace; the NCCL log is told apart from them.
  EXPECT_EQ(read_trace(et, "chakra").world_size, 8u);
  const Trace log = read_trace({COLLEMU_TEST_DATA "/nccl_2ranks.log"});
  EXPECT_EQ(log.world_size, 2u);
  // A collemu .h5 round trip through the table's first entry.
  const std::string h5 = testing_util::temp_path("t.h5");
  write_hdf5_trace(log, h5);
  EXPECT_EQ(read_trace({h5}).world_size, 2u);
  const std::string h5b = testing_util::temp_path("t2.h5");
  write_hdf5_trace(log, h5b);
  EXPECT_NE(error_of({h5, h5b}, "auto").find("one collemu trace at a time"), std::string::npos);
  // The same file twice is refused before any reading: its ranks would count twice.
  EXPECT_NE(error_of({h5, h5}, "auto").find("given twice"), std::string::npos);
  std::remove(h5.c_str());
  std::remove(h5b.c_str());
}

TEST(ReadTrace, RefusesMixedFormatsUnknownNamesAndUnknownContents) {
  REQUIRE_SHARED_DATA();
  const std::string et = kShared + "/astra-sim/workload/microbenchmarks/all_reduce/8npus_1MB/all_reduce.0.et";
  const std::string log = COLLEMU_TEST_DATA "/nccl_2ranks.log";
  // The second file is another format: named, with both formats.
  const std::string mixed = error_of({et, log}, "auto");
  EXPECT_NE(mixed.find(log + ": a nccl-log file among chakra files"), std::string::npos) << mixed;
  EXPECT_NE(error_of({et}, "pcap").find("unknown trace format; expected auto, collemu, chakra"), std::string::npos);
  testing_util::TempFile junk("hello, not a trace\n", "junk.txt");
  EXPECT_NE(error_of({junk.path}, "auto").find(junk.path + ": cannot tell the trace format"), std::string::npos);
  EXPECT_NE(error_of({}, "auto").find("no trace file"), std::string::npos);
  // The table lists every format once, in detection order.
  std::string names;
  for (const auto& f : trace_formats()) names += std::string(f.name) + " ";
  EXPECT_EQ(names, "collemu chakra kineto flight-recorder nccl-log ");
}

}  // namespace
}  // namespace collemu::traces
