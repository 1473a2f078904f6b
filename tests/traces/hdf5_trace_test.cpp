// The native HDF5 trace format: a round trip keeps every field; bad files get clear errors; writes are atomic.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <limits>

#include "common/error.hpp"
#include "traces/hdf5_trace.hpp"
#include "tests/traces/trace_test_util.hpp"

namespace collemu::traces {
namespace {

Trace sample() {
  // 4 ranks, two TP pairs sharing programs (by slot), a world communicator, deps, every op kind.
  Trace t;
  t.source = "hand-made";
  t.world_size = 4;
  t.comms = {{"tp0", {0, 1}, 2}, {"tp1", {2, 3}, 2}, {"world", {0, 1, 2, 3}, 4}};
  Program p;
  Op comp;
  comp.kind = OpKind::Compute;
  comp.duration_s = 1.25e-3;
  Op ar;
  ar.kind = OpKind::Collective;
  ar.coll = common::CollKind::AllReduce;
  ar.dtype = common::DataType::Bfloat16;
  ar.comm_slot = 0;
  ar.count = 123456789012ULL;
  ar.seq = 7;
  ar.start_s = 0.5;
  ar.deps = {0};
  Op a2a = ar;
  a2a.coll = common::CollKind::AllToAll;
  a2a.comm_slot = 1;
  a2a.deps = {0, 1};
  Op send;
  send.kind = OpKind::Send;
  send.comm_slot = 1;
  send.count = 64;
  send.root = 3;
  p.ops = {comp, ar, a2a};
  Program sender = p, receiver = p;
  sender.ops.push_back(send);  // rank 0 sends to world rank 3, which receives from 0
  send.kind = OpKind::Recv;
  send.root = 0;
  receiver.ops.push_back(send);
  t.programs = {p, sender, receiver};
  t.program_of_rank = {1, 0, 0, 2};
  t.comm_of_slot = {{0, 2}, {0, 2}, {1, 2}, {1, 2}};
  t.rank_names = {"a", "b", "c", "d"};
  return t;
}

// `f` throws common::InputError with `text` in its message.
template <class F>
void expect_input_error(F&& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one saying: " << text;
  } catch (const common::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

void expect_equal(const Trace& a, const Trace& b) {
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.world_size, b.world_size);
  ASSERT_EQ(a.comms.size(), b.comms.size());
  for (std::size_t c = 0; c < a.comms.size(); ++c) {
    EXPECT_EQ(a.comms[c].name, b.comms[c].name);
    EXPECT_EQ(a.comms[c].ranks, b.comms[c].ranks);
    EXPECT_EQ(a.comms[c].declared_size, b.comms[c].declared_size);
  }
  ASSERT_EQ(a.programs.size(), b.programs.size());
  for (std::size_t p = 0; p < a.programs.size(); ++p) {
    ASSERT_EQ(a.programs[p].ops.size(), b.programs[p].ops.size());
    for (std::size_t i = 0; i < a.programs[p].ops.size(); ++i) {
      const Op &x = a.programs[p].ops[i], &y = b.programs[p].ops[i];
      EXPECT_EQ(x.kind, y.kind);
      EXPECT_EQ(x.coll, y.coll);
      EXPECT_EQ(x.dtype, y.dtype);
      EXPECT_EQ(x.comm_slot, y.comm_slot);
      EXPECT_EQ(x.count, y.count);
      EXPECT_EQ(x.root, y.root);
      EXPECT_EQ(x.seq, y.seq);
      EXPECT_EQ(x.duration_s, y.duration_s);
      EXPECT_EQ(x.start_s, y.start_s);
      EXPECT_EQ(x.deps, y.deps);
    }
  }
  EXPECT_EQ(a.program_of_rank, b.program_of_rank);
  EXPECT_EQ(a.comm_of_slot, b.comm_of_slot);
  EXPECT_EQ(a.rank_names, b.rank_names);
}

TEST(Hdf5Trace, RoundTripKeepsEveryField) {
  const std::string path = testing_util::temp_path("roundtrip.h5");
  const Trace t = sample();
  check_consistency(t);
  write_hdf5_trace(t, path);
  const Trace back = read_hdf5_trace(path);
  expect_equal(t, back);
  check_consistency(back);
  std::remove(path.c_str());
}

TEST(Hdf5Trace, NamesThatAreNotUtf8RoundTrip) {
  // Other readers take rank names and the source from file paths, which are bytes (a Latin-1 "/data/rés/"): version 2
  // keeps them as they are (its checksums find damage; only version 1's names must be UTF-8 to be believed).
  const std::string path = testing_util::temp_path("latin1.h5");
  Trace t = sample();
  t.source = "/data/r\xE9s/trace.0.et";
  t.rank_names[1] = "h\xF4te-1";
  write_hdf5_trace(t, path);
  expect_equal(t, read_hdf5_trace(path));
  std::remove(path.c_str());
}

// Measured times (version 3) are kept per rank beside the shared programs: ranks 1 and 2 run program 0 and keep their
// own observations; a rank without any has none; the reader refuses measured times that do not fit the program.
TEST(Hdf5Trace, MeasuredTimesRoundTripPerRank) {
  const std::string path = testing_util::temp_path("measured.h5");
  Trace t = sample();
  t.measured.resize(4);
  t.measured[1] = {{0.0, 0}, {1.0e-3, 2.5e-4}, {1.3e-3, 4e-4}};
  t.measured[2] = {{0.0, 0}, {1.1e-3, 2.0e-4}, {1.4e-3, 5e-4}};
  t.measured[3] = {{-1, 0}, {-1, 3e-4}, {-1, 0}, {2e-3, 1e-4}};
  check_consistency(t);
  write_hdf5_trace(t, path);
  const Trace back = read_hdf5_trace(path);
  expect_equal(t, back);
  ASSERT_EQ(back.measured.size(), 4u);
  for (std::uint32_t r = 0; r < 4; ++r) {
    ASSERT_EQ(back.measured[r].size(), t.measured[r].size()) << r;
    for (std::size_t i = 0; i < t.measured[r].size(); ++i) {
      EXPECT_EQ(back.measured[r][i].start_s, t.measured[r][i].start_s);
      EXPECT_EQ(back.measured[r][i].duration_s, t.measured[r][i].duration_s);
    }
  }
  t.measured[2].pop_back();  // 2 times for 3 ops
  write_hdf5_trace(t, path);
  expect_input_error([&] { read_hdf5_trace(path); }, "rank 2 has 2 measured times for 3 ops");
  std::remove(path.c_str());
}

// Readers write observations into ops; separate_measurements moves them out, so that two ranks whose programs differ
// only in what was measured share one program, each keeping its own times. A compute op keeps its duration.
TEST(Trace, MeasurementsDoNotKeepRanksApart) {
  Trace t;
  t.source = "hand-made";
  t.reset_ranks(2);
  const std::uint32_t c = 0;
  t.comms = {{"world", {0, 1}, 2}};
  for (std::uint32_t r = 0; r < 2; ++r) {
    t.slot_for(r, c);
    Op comp;
    comp.duration_s = 1e-3;
    comp.start_s = 0.1 * r;
    Op ar;
    ar.kind = OpKind::Collective;
    ar.count = 1024;
    ar.start_s = 0.2 + r;
    ar.duration_s = 3e-4 * (r + 1);
    t.programs[r].ops = {comp, ar};
  }
  share_identical_programs(t);
  check_consistency(t);
  ASSERT_EQ(t.programs.size(), 1u);
  EXPECT_EQ(t.programs[0].ops[0].duration_s, 1e-3);
  EXPECT_EQ(t.programs[0].ops[1].duration_s, 0);
  EXPECT_EQ(t.programs[0].ops[1].start_s, -1);
  ASSERT_EQ(t.measured.size(), 2u);
  EXPECT_EQ(t.measured[1][1].duration_s, 6e-4);
  EXPECT_EQ(t.measured[1][1].start_s, 1.2);
  EXPECT_EQ(t.measured[0][0].start_s, 0);
}

// What a reader observed must be times: an infinite duration is refused when the observations move out of the ops,
// naming the rank and op.
TEST(Trace, ObservationsThatAreNotTimesAreRefused) {
  Trace t;
  t.source = "hand-made";
  t.reset_ranks(1);
  t.comms = {{"self", {0}, 1}};
  t.slot_for(0, 0);
  Op ar;
  ar.kind = OpKind::Collective;
  ar.count = 8;
  ar.duration_s = std::numeric_limits<double>::infinity();
  t.programs[0].ops = {ar};
  expect_input_error([&] { share_identical_programs(t); }, "hand-made: rank 0");
  t.programs[0].ops[0].duration_s = 1e-3;
  t.programs[0].ops[0].start_s = -5;
  expect_input_error([&] { share_identical_programs(t); }, "observed start -5.000000 s");
}

// A partial job (one rank's file of two): the missing rank takes the program of a rank with ops whose communicators
// it is a member of; none such is an error naming it.
TEST(Trace, MissingRanksTakeASymmetricRanksProgram) {
  Trace t;
  t.source = "hand-made";
  t.reset_ranks(3);
  t.comms = {{"pair", {0, 1}, 2}};
  t.slot_for(0, 0);
  Op ar;
  ar.kind = OpKind::Collective;
  ar.count = 8;
  t.programs[0].ops = {ar};
  Trace two = t;
  two.world_size = 2;
  two.program_of_rank.resize(2);
  two.comm_of_slot.resize(2);
  two.programs.resize(2);
  two.rank_names.clear();
  EXPECT_EQ(fill_missing_ranks(two), std::vector<std::uint32_t>{1});
  EXPECT_EQ(two.program_of_rank[1], two.program_of_rank[0]);
  EXPECT_EQ(two.comm_of_slot[1], two.comm_of_slot[0]);
  check_consistency(two);
  expect_input_error([&] { fill_missing_ranks(t); }, "no rank with ops can stand for it");
}

TEST(Hdf5Trace, WritesAreAtomic) {
  // Writing over an existing trace replaces it whole; a write that cannot happen leaves no file behind.
  const std::string path = testing_util::temp_path("atomic.h5");
  write_hdf5_trace(sample(), path);
  Trace other = sample();
  other.source = "second";
  write_hdf5_trace(other, path);
  EXPECT_EQ(read_hdf5_trace(path).source, "second");
  std::remove(path.c_str());
  EXPECT_THROW(write_hdf5_trace(sample(), "/nonexistent-dir/x.h5"), common::InputError);
  EXPECT_FALSE(std::ifstream("/nonexistent-dir/x.h5"));
}

TEST(Hdf5Trace, BadFilesAreNamed) {
  const std::string path = testing_util::temp_path("bad.h5");
  write_hdf5_trace(sample(), path);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  auto error_of = [](const std::string& p) {
    try {
      read_hdf5_trace(p);
    } catch (const common::InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  {
    std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);  // truncated
    const std::string e = error_of(path);
    EXPECT_NE(e.find(path), std::string::npos) << e;
    EXPECT_FALSE(e.empty());
  }
  {
    std::ofstream(path, std::ios::binary) << "plain text, not HDF5";
    EXPECT_NE(error_of(path).find("not an HDF5 file"), std::string::npos);
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace collemu::traces
