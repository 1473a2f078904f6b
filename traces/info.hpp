// What `collemu trace info` reports about a trace: ranks, programs, communicators, op counts and bytes by kind, per-rank
// totals.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "traces/trace.hpp"

namespace collemu::traces {

struct KindTotals {
  std::uint64_t ops = 0;
  double bytes = 0;  // count x element size, summed over ranks
};

struct RankTotals {
  std::uint64_t ops = 0;
  double comm_bytes = 0;  // collectives, sends and receives
  double compute_s = 0;
};

struct TraceInfo {
  std::uint32_t ranks = 0;
  std::size_t programs = 0;
  std::size_t ops = 0;  // over all ranks
  std::array<KindTotals, common::kNumCollKinds> by_coll{};  // collectives, sends (Send) and receives (Recv)
  KindTotals compute;
  double compute_s = 0;
  std::vector<RankTotals> per_rank;
};

TraceInfo summarize(const Trace& t);

}  // namespace collemu::traces
