// Chakra ET reader: the real files of shared/data (chakra/, astra-sim/; measured facts in shared/data/README.md) and
// streams written here byte by byte from the schema's field numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <tuple>

#include "common/error.hpp"
#include "traces/chakra.hpp"
#include "traces/info.hpp"
#include "traces/nccl_log.hpp"
#include "tests/traces/trace_test_util.hpp"

namespace collemu::traces {
namespace {

using common::CollKind;
using testing_util::kShared;
using testing_util::TempFile;


std::vector<std::string> ranks_of(const std::string& dir, const std::string& stem) {
  std::vector<std::string> out;
  for (int r = 0; r < 8; ++r) out.push_back(kShared + "/" + dir + "/" + stem + "." + std::to_string(r) + ".et");
  return out;
}

TEST(Chakra, AstraSimMicrobenchmarks) {
  // 8 ranks, one COMM_COLL node each: comm_type 0/2/6/7, comm_size 1,048,576 B (shared/data/README.md §3a).
  REQUIRE_SHARED_DATA();
  const std::pair<const char*, CollKind> cases[] = {{"all_reduce", CollKind::AllReduce},
                                                    {"all_gather", CollKind::AllGather},
                                                    {"all_to_all", CollKind::AllToAll},
                                                    {"reduce_scatter", CollKind::ReduceScatter}};
  for (const auto& [name, kind] : cases) {
    const auto t = read_chakra(ranks_of(std::string("astra-sim/workload/microbenchmarks/") + name + "/8npus_1MB", name));
    check_consistency(t);
    EXPECT_EQ(t.world_size, 8u);
    EXPECT_EQ(t.programs.size(), 1u);  // the 8 ranks run the same program
    ASSERT_EQ(t.program(5).ops.size(), 1u);
    EXPECT_EQ(t.program(5).ops[0].coll, kind) << name;
    // ASTRA-sim's reduce-scatter size is the whole buffer (Ring.cc: final size data_size / n): NCCL's count per rank
    // is an eighth of it; the others' sizes are what each rank sends in (all-gather: its part).
    EXPECT_DOUBLE_EQ(t.program(5).ops[0].bytes(), kind == CollKind::ReduceScatter ? 1048576 / 8 : 1048576) << name;
  }
}

TEST(Chakra, AstraSimCustomRingSendsAndReceives) {
  // 35 nodes per rank: 14 sends of 131,072 B to r+1, 14 receives from r-1, 7 compute nodes (7 us each), data_deps
  // chaining the steps (§3b). comm_type on these nodes is the node type (5/6) and must not be read as a collective.
  REQUIRE_SHARED_DATA();
  const auto t = read_chakra(ranks_of("astra-sim/system/custom_collectives/custom_ring_allreduce_8npus_1MB", "custom_allreduce"));
  check_consistency(t);  // every send has its receive
  const auto info = summarize(t);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::Send)].ops, 8u * 14);
  EXPECT_EQ(info.by_coll[static_cast<int>(CollKind::Recv)].ops, 8u * 14);
  EXPECT_DOUBLE_EQ(info.by_coll[static_cast<int>(CollKind::Send)].bytes, 8.0 * 14 * 131072);
  EXPECT_EQ(info.compute.ops, 8u * 7);
  const auto& p3 = t.program(3);
  EXPECT_TRUE(p3.dag);
  for (const auto& o : p3.ops) {
    if (o.kind == OpKind::Send) {
      EXPECT_EQ(o.root, 4);
    }
    if (o.kind == OpKind::Recv) {
      EXPECT_EQ(o.root, 2);
    }
    for (auto d : o.deps) EXPECT_LT(d, p3.ops.size());
  }
}

TEST(Chakra, PyTorchConvertedTraceWithParentLinks) {
  // chakra/chakra.0.et: 3,664 nodes; 5 GPU all-reduces of 8196000, 31502336, 26255360, 26550272 and 9724160 B and 2
  // broadcasts of 212480 and 424 B (§1a); CPU-side collectives (no comm_type) are compute. Its ctrl_deps are parent
  // links that make cycles: ordered by data_deps, with a warning.
  REQUIRE_SHARED_DATA();
  ReadReport rep;
  const auto t = read_chakra({kShared + "/chakra/chakra.0.et"}, &rep);
  const auto& ops = t.program(0).ops;
  EXPECT_EQ(ops.size(), 3664u);
  std::multiset<double> ar, bc;
  for (const auto& o : ops) {
    if (o.kind != OpKind::Collective) continue;
    (o.coll == CollKind::AllReduce ? ar : bc).insert(o.bytes());
  }
  EXPECT_EQ(ar, (std::multiset<double>{8196000, 31502336, 26255360, 26550272, 9724160}));
  EXPECT_EQ(bc, (std::multiset<double>{212480, 424}));
  bool warned = false;
  for (const auto& w : rep.warnings) warned |= w.find("ctrl_deps make cycles") != std::string::npos;
  EXPECT_TRUE(warned);
  // The GPU all-reduces' durations (5572, 9093, 8512, 8178 and 5327 us, §1a) are what was measured of them: kept per
  // rank (Trace::measured), and written back by write_chakra.
  auto measured_ar = [](const Trace& x) {
    std::multiset<double> us;
    for (std::size_t i = 0; i < x.program(0).ops.size(); ++i)
      if (x.program(0).ops[i].kind == OpKind::Collective && x.program(0).ops[i].coll == CollKind::AllReduce)
        us.insert(std::round(x.measured.at(0).at(i).duration_s * 1e6));
    return us;
  };
  EXPECT_EQ(measured_ar(t), (std::multiset<double>{5572, 9093, 8512, 8178, 5327}));
  const std::string dir = testing_util::temp_path("et_out");
  std::vector<std::string> files;
  for (const auto& f : write_chakra(t, dir))
    if (f.ends_with(".et")) files.push_back(f);  // not comm_groups.json
  EXPECT_EQ(measured_ar(read_chakra(files)), measured_ar(t));
}

// Chakra has no root field: collemu writes a "root" attribute, the root's global rank, so that a Broadcast's and a
// Reduce's root come back (they came back as -1). 4 ranks of an NCCL log whose communicator numbers them otherwise
// than their order (comm rank = 3 - global rank): a Broadcast rooted at comm rank 2 (global 1), a Reduce at comm rank
// 3 (global 0). Read back, the roots are the same global ranks. A root the trace does not know (-1, as Kineto's) is
// written without the attribute and comes back unknown.
TEST(Chakra, RootsOfBroadcastAndReduceComeBack) {
  std::string log;
  for (int r = 0; r < 4; ++r) {
    const std::string pre = "h:" + std::to_string(r + 1) + ":1 [0]", comm = "0x" + std::to_string(r + 1);
    log += pre + " NCCL INFO comm " + comm + " rank " + std::to_string(3 - r) +
           " nranks 4 cudaDev 0 busId 1000 commId 0xabc - Init COMPLETE\n";
    for (auto [coll, op, root] : {std::tuple{"Broadcast", 0, 2}, std::tuple{"Reduce", 1, 3}})
      log += pre + " NCCL INFO " + coll + ": opCount " + std::to_string(op) + " sendbuff 0x1 recvbuff 0x2 count 64 " +
             "datatype 7 op 0 root " + std::to_string(root) + " comm " + comm + " [nranks=4] stream 0x3\n";
  }
  TempFile f(log, "t.log");
  Trace t = read_nccl_logs({f.path});
  auto global_roots = [](const Trace& x) {
    std::vector<std::int64_t> roots;
    for (const Op& o : x.program(0).ops)
      if (o.kind == OpKind::Collective)
        roots.push_back(o.root < 0 ? std::int64_t{-1}
                                   : std::int64_t{x.comms[x.comm_of_slot[0][o.comm_slot]].ranks[static_cast<std::uint32_t>(o.root)]});
    return roots;
  };
  ASSERT_EQ(global_roots(t), (std::vector<std::int64_t>{1, 0}));
  auto round_trip = [](const Trace& x, const std::string& name) {
    std::vector<std::string> files;
    for (const auto& path : write_chakra(x, testing_util::temp_path(name)))
      if (path.ends_with(".et")) files.push_back(path);
    Trace back = read_chakra(files);
    check_consistency(back);
    return back;
  };
  EXPECT_EQ(global_roots(round_trip(t, "et_roots")), (std::vector<std::int64_t>{1, 0}));
  for (std::uint32_t p = 0; p < t.programs.size(); ++p)
    for (Op& o : t.programs[p].ops) o.root = -1;
  EXPECT_EQ(global_roots(round_trip(t, "et_no_roots")), (std::vector<std::int64_t>{-1, -1}));
}

// Hand-written streams: protobuf bytes from the schema's field numbers.
std::string varint(std::uint64_t v) {
  std::string s;
  while (v >= 0x80) s.push_back(static_cast<char>((v & 0x7f) | 0x80)), v >>= 7;
  s.push_back(static_cast<char>(v));
  return s;
}
std::string field(int number, const std::string& bytes) { return varint(static_cast<std::uint64_t>(number) << 3 | 2) + varint(bytes.size()) + bytes; }
std::string field_varint(int number, std::uint64_t v) { return varint(static_cast<std::uint64_t>(number) << 3) + varint(v); }
std::string int_attr(const std::string& name, std::uint64_t v) { return field(10, field(1, name) + field_varint(9, v)); }
std::string framed(const std::string& msg) { return varint(msg.size()) + msg; }
std::string node(std::uint64_t id, int type, const std::string& extra) {
  std::string name = std::to_string(id);
  name.insert(name.begin(), 'n');
  return framed(field_varint(1, id) + field(2, name) + field_varint(3, static_cast<std::uint64_t>(type)) + extra);
}


std::string error_of(const std::string& bytes) {
  TempFile f(bytes, "x.0.et");
  try {
    read_chakra({f.path});
  } catch (const common::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Chakra, BadStreamsAreNamed) {
  const std::string meta = framed(field(1, "0.0.4"));
  const std::string good = meta + node(1, 4, field_varint(7, 5)) +
                           node(2, 7, int_attr("comm_type", 0) + int_attr("comm_size", 64) + field_varint(5, 1));
  TempFile ok(good, "x.0.et");
  const auto t = read_chakra({ok.path});
  ASSERT_EQ(t.program(0).ops.size(), 2u);
  EXPECT_EQ(t.program(0).ops[1].deps, (std::vector<std::uint32_t>{0}));
  // Truncated: the last message runs past the end.
  EXPECT_NE(error_of(good.substr(0, good.size() - 3)).find("runs past the end"), std::string::npos);
  // GATHER (3) is not something NCCL runs.
  EXPECT_NE(error_of(meta + node(1, 7, int_attr("comm_type", 3) + int_attr("comm_size", 8))).find("comm_type 3"),
            std::string::npos);
  // A collective without its size.
  EXPECT_NE(error_of(meta + node(1, 7, int_attr("comm_type", 0))).find("comm_size"), std::string::npos);
  // A cycle through data_deps: 1 after 2, 2 after 1.
  EXPECT_NE(error_of(meta + node(1, 4, field_varint(5, 2)) + node(2, 4, field_varint(5, 1))).find("cycle of data dependencies"),
            std::string::npos);
  // Garbage after the metadata.
  EXPECT_FALSE(error_of(meta + framed(std::string("\xff\xff\xff\xff\xff\xff", 6))).empty());
}

}  // namespace
}  // namespace collemu::traces
