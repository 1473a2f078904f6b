// The PyTorch profiler (Kineto) reader on the real files of shared/data/hta (measured facts in shared/data/README.md)
// and on small files written here.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <numeric>

#include "common/error.hpp"
#include "traces/info.hpp"
#include "traces/kineto.hpp"
#include "tests/traces/trace_test_util.hpp"

namespace collemu::traces {
namespace {

using common::CollKind;
using testing_util::kShared;
using testing_util::TempFile;



std::string error_of(const std::vector<std::string>& files, bool check = true) {
  try {
    auto t = read_kineto(files);
    if (check) check_consistency(t);
  } catch (const common::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Kineto, RealDdpTraceWithCollectiveMetadata) {
  REQUIRE_SHARED_DATA();
  // hta/nccl_parser_config/nccl_data.json.gz: rank 0 of 2; 15 AllReduce kernels (sizes 2049000, 2431040, 6563840,
  // 6637568, 7875584 floats, 3 each) and 6 Broadcast (53120 floats, 53 longs, 3 each) (shared/data/README.md §2a).
  ReadReport rep;
  const auto t = read_kineto({kShared + "/hta/nccl_parser_config/nccl_data.json.gz"}, &rep);
  check_consistency(t);
  EXPECT_EQ(t.world_size, 2u);
  ASSERT_EQ(t.comms.size(), 1u);
  EXPECT_EQ(t.comms[0].ranks, (std::vector<std::uint32_t>{0, 1}));
  const auto info = summarize(t);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::AllReduce)].ops, 15u);
  EXPECT_DOUBLE_EQ(info.by_coll[static_cast<int>(CollKind::AllReduce)].bytes,
                   3.0 * 4 * (2049000 + 2431040 + 6563840 + 6637568 + 7875584));
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::Broadcast)].ops, 6u);
  EXPECT_DOUBLE_EQ(info.by_coll[static_cast<int>(CollKind::Broadcast)].bytes, 3.0 * (53120 * 4 + 53 * 8));
  // Compute ops come from the other kernels: present, and no longer than the time between the first and last op.
  EXPECT_GT(info.compute.ops, 0u);
  const auto& ops = t.program(0).ops;
  double first = 1e300, last = 0;
  for (const auto& o : ops)
    if (o.kind != OpKind::Compute) first = std::min(first, o.start_s), last = std::max(last, o.start_s + o.duration_s);
  EXPECT_LT(info.compute_s, last - first + 1.0);  // + the compute before the first op (bounded by the trace)
  ASSERT_EQ(rep.warnings.size(), 1u);  // 1 of 2 ranks has a file
}

TEST(Kineto, OlderFormatFromAnnotationsAndSampledWindowsThatDisagree) {
  REQUIRE_SHARED_DATA();
  // hta/trace_filter: ranks 0 and 1 of 128, "nccl:*" annotations with Input Dims (no kernel metadata). The files
  // are sampled windows: their 4th collective differs (rank 0 all_reduce of 26955536 floats, rank 1 of 26258430).
  const std::vector<std::string> files = {kShared + "/hta/trace_filter/sampled_rank-0.json",
                                          kShared + "/hta/trace_filter/sampled_rank-1.json.gz"};
  const std::string e = error_of(files);
  EXPECT_NE(e.find("collective #3"), std::string::npos) << e;
  EXPECT_NE(e.find("allreduce count 26955536"), std::string::npos) << e;
  EXPECT_NE(e.find("allreduce count 26258430"), std::string::npos) << e;
  const auto t = read_kineto(files);
  EXPECT_EQ(t.world_size, 128u);
  const auto info = summarize(t);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::AllToAll)].ops, 8u);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::AllReduce)].ops, 8u);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::AllGather)].ops, 4u);
  // _all_gather_base's first tensor is the output (16777216 int8 over 128 ranks): 131072 sent per rank.
  for (const auto& o : t.program(0).ops)
    if (o.kind == OpKind::Collective && o.coll == CollKind::AllGather) {
      EXPECT_EQ(o.count, 16777216u / 128);
    }
}

std::string event(const std::string& cat, const std::string& name, double ts, double dur, const std::string& args = "{}") {
  return R"({"ph":"X","cat":")" + cat + R"(","name":")" + name + R"(","pid":0,"tid":7,"ts":)" + std::to_string(ts) +
         R"(,"dur":)" + std::to_string(dur) + R"(,"args":)" + args + "}";
}

std::string nccl_args(const std::string& coll, long long n, const std::string& extra = "") {
  return R"({"Collective name":")" + coll + R"(","In msg nelems":)" + std::to_string(n) + R"(,"Out msg nelems":)" +
         std::to_string(n) + R"(,"dtype":"Float","Process Group Name":"0","Process Group Ranks":"[0, 1]")" + extra + "}";
}

std::string file(int rank, const std::vector<std::string>& events) {
  std::string s = R"({"schemaVersion":1,"distributedInfo":{"backend":"nccl","rank":)" + std::to_string(rank) +
                  R"(,"world_size":2},"traceEvents":[)";
  for (std::size_t i = 0; i < events.size(); ++i) s += (i ? "," : "") + events[i];
  return s + "]}";
}

TEST(Kineto, ComputeIsTheUnionOfOtherKernelsBetweenCommunication) {
  // Kernels [0,10) and [5,15) overlap: 15 us before the AllReduce at [20,30). Then [25,35) (starts during the
  // AllReduce: only [30,35) counts) and [40,45): 10 us before the Send at [50,60).
  const std::string k = "kernel";
  TempFile f0(file(0, {event(k, "gemm", 0, 10), event(k, "gemm", 5, 10),
                       event(k, "ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)", 20, 10, nccl_args("allreduce", 1024)),
                       event(k, "gemm", 25, 10), event(k, "gemm", 40, 5),
                       event(k, "ncclDevKernel_SendRecv(x)", 50, 10, nccl_args("send", 256, R"(,"Dst Rank":1)"))}), "t.json");
  TempFile f1(file(1, {event(k, "ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)", 20, 10, nccl_args("allreduce", 1024)),
                       event(k, "ncclDevKernel_SendRecv(x)", 50, 10, nccl_args("recv", 256, R"(,"Src Rank":0)"))}), "t.json");
  const auto t = read_kineto({f0.path, f1.path});
  check_consistency(t);
  const auto& ops = t.program(0).ops;
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[0].kind, OpKind::Compute);
  EXPECT_NEAR(ops[0].duration_s, 15e-6, 1e-12);
  EXPECT_EQ(ops[1].coll, CollKind::AllReduce);
  EXPECT_DOUBLE_EQ(ops[1].bytes(), 4096);
  EXPECT_NEAR(ops[2].duration_s, 10e-6, 1e-12);
  EXPECT_EQ(ops[3].kind, OpKind::Send);
  EXPECT_EQ(ops[3].root, 1);
  EXPECT_EQ(t.program(1).ops[1].kind, OpKind::Recv);
}

TEST(Kineto, ShortenedGroupRanksComeFromPgConfig) {
  // PyTorch writes "[0, 1, ..., 29, ...]" for groups over 30 ranks; the full list is in distributedInfo.pg_config.
  std::string ranks = "[";
  for (int r = 0; r < 40; ++r) {
    if (r) ranks += ',';
    ranks += std::to_string(r);
  }
  ranks += "]";
  const std::string args = R"({"Collective name":"allreduce","In msg nelems":8,"Out msg nelems":8,"dtype":"Float",)"
                           R"("Process Group Name":"7","Process Group Ranks":"[0, 1, 2, ..., 29, ...]"})";
  const std::string text = R"({"distributedInfo":{"rank":0,"world_size":40,"pg_config":[{"pg_name":"7","ranks":)" +
                           ranks + R"(}]},"traceEvents":[)" + event("kernel", "ncclDevKernel_X(x)", 1, 1, args) + "]}";
  TempFile f(text, "t.json");
  const auto t = read_kineto({f.path});
  ASSERT_EQ(t.comms.size(), 1u);
  EXPECT_EQ(t.comms[0].ranks.size(), 40u);
  TempFile g(file(0, {event("kernel", "ncclDevKernel_X(x)", 1, 1, args)}), "t.json");  // no pg_config: a clear error
  EXPECT_NE(error_of({g.path}).find("shortened"), std::string::npos);
}

TEST(Kineto, BadFilesNameFileAndEvent) {
  const std::string k = "kernel";
  const std::string good = file(0, {event(k, "ncclDevKernel_X(x)", 20, 10, nccl_args("allreduce", 8))});
  TempFile truncated(good.substr(0, good.size() / 2), "t.json");
  EXPECT_NE(error_of({truncated.path}).find("not valid JSON at byte"), std::string::npos);
  TempFile not_trace(R"({"hello": 1})", "t.json");
  EXPECT_NE(error_of({not_trace.path}).find("\"traceEvents\" array"), std::string::npos);
  TempFile ts_text(file(0, {R"({"ph":"X","cat":"kernel","name":"gemm","ts":"12","dur":3})"}), "t.json");
  EXPECT_NE(error_of({ts_text.path}).find("traceEvents[0]: \"ts\" is string; expected a number"), std::string::npos)
      << error_of({ts_text.path});
  TempFile negative(file(0, {event(k, "ncclDevKernel_X(x)", 20, 10, nccl_args("allreduce", -8))}), "t.json");
  EXPECT_NE(error_of({negative.path}).find("negative message size"), std::string::npos);
  TempFile unknown(file(0, {event(k, "ncclDevKernel_X(x)", 20, 10, nccl_args("allshuffle", 8))}), "t.json");
  EXPECT_NE(error_of({unknown.path}).find("unknown collective 'allshuffle'"), std::string::npos);
  // Metadata that contradicts itself: a group size other than its ranks', a rank listed twice.
  TempFile size3(file(0, {event(k, "ncclDevKernel_X(x)", 20, 10, nccl_args("allreduce", 8, R"(,"Group size":3)"))}),
                 "t.json");
  EXPECT_NE(error_of({size3.path}).find("traceEvents[0]: \"Group size\" 3 but process group '0' has 2 ranks"),
            std::string::npos) << error_of({size3.path});
  TempFile size2(file(0, {event(k, "ncclDevKernel_X(x)", 20, 10, nccl_args("allreduce", 8, R"(,"Group size":2)"))}),
                 "t.json");
  EXPECT_EQ(error_of({size2.path}, false), "");
  std::string dup = file(0, {event(k, "ncclDevKernel_X(x)", 20, 10, nccl_args("allreduce", 8))});
  dup.replace(dup.find("[0, 1]"), 6, "[1, 1]");
  TempFile dup_rank(dup, "t.json");
  EXPECT_NE(error_of({dup_rank.path}).find("\"Process Group Ranks\": rank 1 is listed twice"), std::string::npos)
      << error_of({dup_rank.path});
  TempFile twice_a(good, "a.json"), twice_b(good, "b.json");
  EXPECT_NE(error_of({twice_a.path, twice_b.path}).find("rank 0 again"), std::string::npos);
  // A gzip file cut in the middle.
  REQUIRE_SHARED_DATA();
  std::ifstream gz(kShared + "/hta/trace_filter/sampled_rank-1.json.gz", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(gz)), std::istreambuf_iterator<char>());
  TempFile cut(bytes.substr(0, bytes.size() / 3), "cut.json.gz");
  const std::string e = error_of({cut.path});
  EXPECT_TRUE(e.find("gzip") != std::string::npos || e.find("not valid JSON") != std::string::npos) << e;
}

}  // namespace
}  // namespace collemu::traces
