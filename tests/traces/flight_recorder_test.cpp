// PyTorch NCCL Flight Recorder dumps (JSON), written here from the format in FABRIC.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/error.hpp"
#include "traces/flight_recorder.hpp"
#include "traces/info.hpp"
#include "tests/traces/trace_test_util.hpp"

namespace collemu::traces {
namespace {

using common::CollKind;
using testing_util::TempFile;


std::string entry(const std::string& name, const std::string& in, const std::string& out, int seq, bool p2p = false,
                  const std::string& dtype = "Float") {
  return R"({"pg_id":0,"collective_seq_id":)" + std::to_string(seq) + R"(,"p2p_seq_id":0,"profiling_name":")" + name +
         R"(","input_sizes":)" + in + R"(,"input_dtypes":[")" + dtype + R"("],"output_sizes":)" + out +
         R"(,"state":"completed","time_created_ns":1000,"time_discovered_started_ns":2000000,)"
         R"("time_discovered_completed_ns":3000000,"duration_ms":1.5,"is_p2p":)" + (p2p ? "true" : "false") + "}";
}

std::string dump(int rank, const std::vector<std::string>& entries, bool with_rank = true) {
  std::string s = R"({"version":"2.2",)" + (with_rank ? R"("rank":)" + std::to_string(rank) + "," : std::string()) +
                  R"("pg_config":{"0":{"name":"0","desc":"default_pg","ranks":"[0, 1]"}},"pg_status":{},"entries":[)";
  for (std::size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + entries[i];
  return s + "]}";
}

TEST(FlightRecorder, TwoRanksWithCollectivesAndP2p) {
  // AllReduce of 4x256 floats; ReduceScatter whose output is 128 floats per rank (its count); a send 0 -> 1.
  TempFile a(dump(0, {entry("nccl:all_reduce", "[[4, 256]]", "[[4, 256]]", 1),
                                        entry("nccl:reduce_scatter", "[[256]]", "[[128]]", 2),
                                        entry("nccl:send 0->1", "[[64]]", "[[64]]", 0, true, "BFloat16")}),
             "fr_rank_0.json");
  TempFile b(dump(1, {entry("nccl:all_reduce", "[[4, 256]]", "[[4, 256]]", 1),
                                        entry("nccl:reduce_scatter", "[[256]]", "[[128]]", 2),
                                        entry("nccl:recv 1<-0", "[[64]]", "[[64]]", 0, true, "BFloat16")}),
             "fr_rank_1.json");
  const auto t = read_flight_recorder({a.path, b.path});
  check_consistency(t);
  ASSERT_EQ(t.world_size, 2u);
  ASSERT_EQ(t.comms.size(), 1u);
  EXPECT_EQ(t.comms[0].name, "process group 0 (default_pg)");
  const auto& ops = t.program(0).ops;
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].coll, CollKind::AllReduce);
  EXPECT_EQ(ops[0].count, 1024u);
  EXPECT_EQ(ops[0].seq, 1u);
  // What was observed is kept per rank beside the program (Trace::measured), not in its ops.
  EXPECT_EQ(ops[0].duration_s, 0);
  EXPECT_EQ(ops[0].start_s, -1);
  ASSERT_EQ(t.measured.size(), 2u);
  ASSERT_EQ(t.measured[0].size(), 3u);
  EXPECT_DOUBLE_EQ(t.measured[0][0].duration_s, 1.5e-3);
  EXPECT_DOUBLE_EQ(t.measured[0][0].start_s, 2e-3);
  EXPECT_EQ(ops[1].coll, CollKind::ReduceScatter);
  EXPECT_EQ(ops[1].count, 128u);
  EXPECT_EQ(ops[2].kind, OpKind::Send);
  EXPECT_EQ(ops[2].root, 1);
  EXPECT_DOUBLE_EQ(ops[2].bytes(), 128);
  EXPECT_EQ(t.program(1).ops[2].kind, OpKind::Recv);
  EXPECT_EQ(t.program(1).ops[2].root, 0);
}

TEST(FlightRecorder, RankFromTheFileNameAndClearErrors) {
  TempFile a(dump(0, {entry("nccl:all_reduce", "[[8]]", "[[8]]", 1)}, /*with_rank=*/false), "dump_rank-1.json");
  const auto t = read_flight_recorder({a.path});
  EXPECT_EQ(t.program(1).ops.size(), 1u);
  EXPECT_TRUE(t.program(0).ops.empty());
  auto error_of = [](const std::string& text) {
    TempFile f(text, "fr_bad_rank_0.json");
    try {
      read_flight_recorder({f.path});
    } catch (const common::InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of(dump(0, {entry("nccl:all_shuffle", "[[8]]", "[[8]]", 1)})).find("entries[0]: unknown collective 'nccl:all_shuffle'"),
            std::string::npos);
  EXPECT_NE(error_of(dump(0, {entry("nccl:all_reduce", "[[-8]]", "[[8]]", 1)})).find("expected sizes >= 0"), std::string::npos);
  EXPECT_NE(error_of(dump(0, {entry("nccl:all_reduce", "[[8]]", "[[8]]", 1, false, "Quaternion")})).find("unknown data type"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"entries": 3})").find("\"entries\" array"), std::string::npos);
  EXPECT_NE(error_of(dump(0, {entry("nccl:all_reduce", "[[8]]", "[[8]]", 1)}).substr(0, 60)).find("not valid JSON"),
            std::string::npos);
  // A very long name is refused before the pattern match (which would recurse once per character).
  EXPECT_NE(error_of(dump(0, {entry("nccl:send 0->" + std::string(100000, '1'), "[[8]]", "[[8]]", 1, true)}))
                .find("longer than 256"),
            std::string::npos);
  std::string other_pg = dump(0, {entry("nccl:all_reduce", "[[8]]", "[[8]]", 1)});
  other_pg.replace(other_pg.find("\"pg_id\":0"), 9, "\"pg_id\":7");
  EXPECT_NE(error_of(other_pg).find("process group '7' is not in pg_config"), std::string::npos);
}

}  // namespace
}  // namespace collemu::traces
