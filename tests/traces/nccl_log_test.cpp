// The NCCL COLL log reader on the real-world variants of shared/data/README.md §4 (files written here from that
// description), and the consistency check of traces.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/error.hpp"
#include "traces/info.hpp"
#include "traces/nccl_log.hpp"
#include "tests/traces/trace_test_util.hpp"

namespace collemu::traces {
namespace {

using common::CollKind;
using common::DataType;

const std::string kData = COLLEMU_TEST_DATA;

using testing_util::TempFile;

std::string rec(const std::string& prefix, const std::string& coll, int op, long long count, int dtype, int root,
                const std::string& comm, int nranks, const std::string& suffix = "") {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%x", op);
  return prefix + " NCCL INFO " + coll + ": opCount " + hex + " sendbuff 0x7f0000000000 recvbuff 0x7f0000100000 count " +
         std::to_string(count) + " datatype " + std::to_string(dtype) + " op 0 root " + std::to_string(root) + " comm " +
         comm + " [nranks=" + std::to_string(nranks) + "] stream 0x5603a0" + suffix + "\n";
}

std::string error_of(const std::vector<std::string>& files, bool check = true) {
  try {
    auto t = read_nccl_logs(files);
    if (check) check_consistency(t);
  } catch (const common::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(NcclLog, ReadsTheVariantsOfRealLogs) {
  // tests/traces/data/nccl_2ranks.log: Init lines with a commId; a timestamp prefix; a Ray prefix; a trailing space;
  // a Send and a Recv of two processes on one line, (nil) buffers, the peer in root; hex opCounts (a, b); a record
  // without its prefix (skipped with a warning); other INFO lines.
  ReadReport rep;
  const auto t = read_nccl_logs({kData + "/nccl_2ranks.log"}, &rep);
  check_consistency(t);
  ASSERT_EQ(t.world_size, 2u);
  EXPECT_EQ(rep.records, 8u);
  ASSERT_EQ(rep.warnings.size(), 1u);
  EXPECT_NE(rep.warnings[0].find("nccl_2ranks.log:11"), std::string::npos);
  EXPECT_EQ(t.rank_names[0], "node1:2345 [0]");
  EXPECT_EQ(t.rank_names[1], "node1:2346 [1]");
  ASSERT_EQ(t.comms.size(), 1u);
  EXPECT_EQ(t.comms[0].name, "commId 0x8c4fa7e1d3b2a901");
  EXPECT_EQ(t.comms[0].ranks, (std::vector<std::uint32_t>{0, 1}));
  const auto& ops0 = t.program(0).ops;
  ASSERT_EQ(ops0.size(), 4u);
  EXPECT_EQ(ops0[0].coll, CollKind::AllReduce);
  EXPECT_EQ(ops0[0].count, 2049000u);
  EXPECT_EQ(ops0[0].dtype, DataType::Float32);
  EXPECT_DOUBLE_EQ(ops0[0].bytes(), 8196000);  // the Chakra/Kineto cross-check size (shared/data/README.md)
  EXPECT_EQ(ops0[1].coll, CollKind::Broadcast);
  EXPECT_EQ(ops0[1].dtype, DataType::Float16);
  EXPECT_DOUBLE_EQ(ops0[1].bytes(), 106240);
  EXPECT_EQ(ops0[2].kind, OpKind::Send);
  EXPECT_EQ(ops0[2].root, 1);
  EXPECT_EQ(ops0[2].seq, 0xau);
  EXPECT_EQ(t.program(1).ops[2].kind, OpKind::Recv);
  EXPECT_EQ(t.program(1).ops[2].root, 0);
  EXPECT_EQ(ops0[3].dtype, DataType::Bfloat16);
  EXPECT_EQ(ops0[3].seq, 0xbu);
  const auto info = summarize(t);
  EXPECT_DOUBLE_EQ(info.by_coll[static_cast<int>(CollKind::AllReduce)].bytes, 2 * 8196000.0);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::Send)].ops, 1u);
}

TEST(NcclLog, WithoutInitLinesGroupsCommunicatorsByCreationOrderAndSize) {
  // 4 processes; each uses a world communicator (4 ranks) and one of 2 ranks: TP pairs {0,1} and {2,3}, assumed from
  // consecutive ranks (with a warning). Identical programs are shared.
  std::string text;
  for (int p = 0; p < 4; ++p) {
    const std::string pre = "h:" + std::to_string(100 + p) + ":7 [" + std::to_string(p) + "]";
    text += rec(pre, "AllReduce", 0, 1000, 7, 0, "0xa" + std::to_string(p), 2);
    text += rec(pre, "AllReduce", 0, 5000, 7, 0, "0xb" + std::to_string(p), 4);
  }
  TempFile f(text, "t.log");
  ReadReport rep;
  const auto t = read_nccl_logs({f.path}, &rep);
  check_consistency(t);
  ASSERT_EQ(t.comms.size(), 3u);
  std::vector<std::vector<std::uint32_t>> members;
  for (const auto& c : t.comms) members.push_back(c.ranks);
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<std::vector<std::uint32_t>>{{0, 1}, {0, 1, 2, 3}, {2, 3}}));
  EXPECT_EQ(rep.warnings.size(), 1u);
  EXPECT_EQ(t.programs.size(), 1u);  // the four ranks run the same program
  EXPECT_NE(t.comm_of_slot[0][0], t.comm_of_slot[2][0]);  // ... on different TP groups
}

TEST(NcclLog, NewerInitLinesAndPartialLogsKeepCommunicatorRanks) {
  // NCCL >= 2.19 starts Init lines with the function's name. Logs of comm ranks 0, 2 and 3 of a 4-rank communicator
  // (rank 1's log is missing): rank 0's send to peer 2 must meet comm rank 2's receive, not comm rank 3's.
  auto init = [](const std::string& pre, const std::string& comm, int rank) {
    return pre + " NCCL INFO ncclCommInitRank comm " + comm + " rank " + std::to_string(rank) +
           " nranks 4 cudaDev 0 nvmlDev 0 busId 1000 commId 0xabc - Init COMPLETE\n";
  };
  std::string text = init("h:1:1 [0]", "0x1", 0) + init("h:3:1 [0]", "0x3", 2) + init("h:4:1 [0]", "0x4", 3) +
                     rec("h:1:1 [0]", "Send", 0, 16, 0, 2, "0x1", 4) + rec("h:3:1 [0]", "Recv", 0, 16, 0, 0, "0x3", 4);
  TempFile f(text, "t.log");
  const auto t = read_nccl_logs({f.path});
  ASSERT_EQ(t.comms.size(), 1u);
  ASSERT_EQ(t.comms[0].ranks.size(), 4u);
  EXPECT_EQ(t.comms[0].name, "commId 0xabc");
  EXPECT_EQ(t.rank_names[t.comms[0].ranks[2]], "h:3 [0]");
  EXPECT_TRUE(t.program(t.comms[0].ranks[1]).ops.empty());  // the rank without a log
  // Comm rank 3 initialised the communicator and ran nothing: it is that process, not one more rank without a log.
  EXPECT_EQ(t.rank_names[t.comms[0].ranks[3]], "h:4 [0]");
  EXPECT_EQ(t.world_size, 4u);  // 3 processes and the missing comm rank 1
  check_consistency(t);
  // An Init line whose size disagrees with the records is an error, not memory corruption.
  TempFile g(init("h:1:1 [0]", "0x1", 3) + rec("h:1:1 [0]", "AllReduce", 0, 16, 7, 0, "0x1", 2), "t.log");
  EXPECT_THROW(read_nccl_logs({g.path}), common::InputError);
}

TEST(NcclLog, TwoInitLinesOnOneLine) {
  // Two processes' output glued after "- Init COMPLETE": the second line's host follows without a space. It is rank 1
  // of the communicator, not a host named "COMPLETEh" and a rank without a log.
  auto init = [](const std::string& pre, const std::string& comm, int rank) {
    return pre + " NCCL INFO comm " + comm + " rank " + std::to_string(rank) +
           " nranks 2 cudaDev 0 nvmlDev 0 busId 1000 commId 0xabc - Init COMPLETE";
  };
  TempFile f(init("h:1:1 [0]", "0x1", 0) + init("h:2:1 [1]", "0x2", 1) + "\n" +
                 rec("h:1:1 [0]", "AllReduce", 0, 16, 7, 0, "0x1", 2) + rec("h:2:1 [1]", "AllReduce", 0, 16, 7, 0, "0x2", 2),
             "t.log");
  const auto t = read_nccl_logs({f.path});
  EXPECT_EQ(t.world_size, 2u);
  ASSERT_EQ(t.comms.size(), 1u);
  EXPECT_EQ(t.rank_names[t.comms[0].ranks[1]], "h:2 [1]");
  check_consistency(t);
}

TEST(NcclLog, RcclGlobalRanksOrderTheRanks) {
  std::string text = rec("h:2:1 [1]", "AllReduce", 0, 8, 7, 0, "0x1", 2, " task 0 globalrank 1") +
                     rec("h:1:1 [0]", "AllReduce", 0, 8, 7, 0, "0x2", 2, " task 0 globalrank 0");
  TempFile f(text, "t.log");
  const auto t = read_nccl_logs({f.path});
  EXPECT_EQ(t.rank_names[0], "h:1 [0]");
  EXPECT_EQ(t.rank_names[1], "h:2 [1]");
}

TEST(NcclLog, RanksInSeparateFiles) {
  TempFile a(rec("h:1:1 [0]", "ReduceScatter", 0, 64, 9, 0, "0x1", 2), "a.log");
  TempFile b(rec("h:2:1 [0]", "ReduceScatter", 0, 64, 9, 0, "0x1", 2), "b.log");
  const auto t = read_nccl_logs({a.path, b.path});
  check_consistency(t);
  EXPECT_EQ(t.world_size, 2u);
  EXPECT_DOUBLE_EQ(t.program(1).ops[0].bytes(), 128);
}

TEST(NcclLog, MismatchedCollectivesNameRanksAndOps) {
  // Rank 1's second collective has another count: the real job would hang. The error names both ranks and ops.
  std::string text = rec("h:1:1 [0]", "AllReduce", 0, 8, 7, 0, "0x1", 2) + rec("h:2:1 [1]", "AllReduce", 0, 8, 7, 0, "0x2", 2) +
                     rec("h:1:1 [0]", "AllReduce", 1, 16, 7, 0, "0x1", 2) + rec("h:2:1 [1]", "AllReduce", 1, 32, 7, 0, "0x2", 2);
  TempFile f(text, "t.log");
  const std::string e = error_of({f.path});
  EXPECT_NE(e.find("collective #1"), std::string::npos) << e;
  EXPECT_NE(e.find("rank 0 (h:1 [0]) op 1 is allreduce count 16"), std::string::npos) << e;
  EXPECT_NE(e.find("rank 1 (h:2 [1]) op 1 is allreduce count 32"), std::string::npos) << e;

  std::string fewer = rec("h:1:1 [0]", "Broadcast", 0, 8, 7, 0, "0x1", 2) + rec("h:2:1 [1]", "Broadcast", 0, 8, 7, 0, "0x2", 2) +
                      rec("h:1:1 [0]", "Broadcast", 1, 8, 7, 0, "0x1", 2);
  TempFile g(fewer, "t.log");
  const std::string e2 = error_of({g.path});
  EXPECT_NE(e2.find("rank 0 (h:1 [0]) has 2 collectives on it but rank 1 (h:2 [1]) has 1"), std::string::npos) << e2;

  std::string lonely = rec("h:1:1 [0]", "Send", 0, 8, 0, 1, "0x1", 2) + rec("h:2:1 [1]", "AllReduce", 0, 8, 7, 0, "0x2", 2) +
                       rec("h:1:1 [0]", "AllReduce", 1, 8, 7, 0, "0x1", 2);
  TempFile h(lonely, "t.log");
  const std::string e3 = error_of({h.path});
  EXPECT_NE(e3.find("op 0 sends to rank 1 (h:2 [1]), which has no matching receive"), std::string::npos) << e3;
}

TEST(NcclLog, MalformedRecordsNameFileAndLine) {
  const std::string good = rec("h:1:1 [0]", "AllReduce", 0, 8, 7, 0, "0x1", 1);
  auto line2 = [&](const std::string& bad) {
    TempFile f(good + bad, "t.log");
    return std::pair{error_of({f.path}, false), f.path + ":2"};
  };
  for (const auto& [bad, needle] : std::vector<std::pair<std::string, std::string>>{
           {"h:1:1 [0] NCCL INFO AllReduce: opCount 1 sendbuff 0x1 recvbuff 0x2 count 12abc datatype 7 op 0 root 0 comm 0x1 [nranks=1] stream 0x3\n", "count '12abc'"},
           {"h:1:1 [0] NCCL INFO AllReduce: opCount 1 sendbuff 0x1 recvbuff 0x2 count -5 datatype 7 op 0 root 0 comm 0x1 [nranks=1] stream 0x3\n", "count '-5'"},
           {"h:1:1 [0] NCCL INFO AllReduce: opCount 1 sendbuff 0x1 recvbuff 0x2 count 8 datatype 12 op 0 root 0 comm 0x1 [nranks=1] stream 0x3\n", "datatype '12'"},
           {"h:1:1 [0] NCCL INFO Gather: opCount 1 sendbuff 0x1 recvbuff 0x2 count 8 datatype 7 op 0 root 0 comm 0x1 [nranks=1] stream 0x3\n", "unknown collective 'Gather'"},
           {"h:1:1 [0] NCCL INFO AllReduce: opCount 1 sendbuff 0x1 recvbuff 0x2 count 8 datatype 7 op 0 root 0 stream 0x3\n", "needs count, datatype, root, comm"},
           {"h:1:1 [0] NCCL INFO AllReduce: opCount zz sendbuff 0x1 recvbuff 0x2 count 8 datatype 7 op 0 root 0 comm 0x1 [nranks=1] stream 0x3\n", "hexadecimal"},
       }) {
    const auto [e, where] = line2(bad);
    EXPECT_NE(e.find(where), std::string::npos) << e;
    EXPECT_NE(e.find(needle), std::string::npos) << e;
  }
  TempFile empty("just some text\n", "t.log");
  EXPECT_NE(error_of({empty.path}).find("no NCCL COLL records"), std::string::npos);
  EXPECT_NE(error_of({"/nonexistent/x.log"}).find("cannot open"), std::string::npos);
}

TEST(Collective, NamesAndSizes) {
  // NCCL's ncclDataType_t numbering and sizes (FABRIC.md).
  const int sizes[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
  for (int d = 0; d < common::kNumDataTypes; ++d) EXPECT_EQ(common::size_bytes(*common::data_type_from_nccl(d)), sizes[d]);
  EXPECT_FALSE(common::data_type_from_nccl(12));
  EXPECT_EQ(common::parse_coll_kind("_reduce_scatter_base"), CollKind::ReduceScatter);
  EXPECT_EQ(common::parse_coll_kind("all_to_all"), CollKind::AllToAll);
  EXPECT_EQ(common::parse_coll_kind("allgather_into_tensor_coalesced"), CollKind::AllGather);
  EXPECT_FALSE(common::parse_coll_kind("gather"));
  EXPECT_EQ(common::parse_data_type("c10::BFloat16"), DataType::Bfloat16);
  EXPECT_EQ(common::parse_data_type("Float"), DataType::Float32);
}

}  // namespace
}  // namespace collemu::traces
