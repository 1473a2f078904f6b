#include "traces/info.hpp"

namespace collemu::traces {

TraceInfo summarize(const Trace& t) {
  TraceInfo info;
  info.ranks = t.world_size;
  info.programs = t.programs.size();
  info.per_rank.resize(t.world_size);
  // Totals per program, then multiplied by the ranks that run it.
  std::vector<std::uint64_t> runs(t.programs.size(), 0);
  for (std::uint32_t r = 0; r < t.world_size; ++r) ++runs[t.program_of_rank[r]];
  std::vector<RankTotals> per_program(t.programs.size());
  for (std::size_t p = 0; p < t.programs.size(); ++p) {
    for (const Op& o : t.programs[p].ops) {
      RankTotals& rt = per_program[p];
      ++rt.ops;
      if (o.kind == OpKind::Compute) {
        rt.compute_s += o.duration_s;
        info.compute.ops += runs[p];
        info.compute_s += o.duration_s * static_cast<double>(runs[p]);
        continue;
      }
      rt.comm_bytes += o.bytes();
      const common::CollKind k = o.kind == OpKind::Send   ? common::CollKind::Send
                                 : o.kind == OpKind::Recv ? common::CollKind::Recv
                                                          : o.coll;
      auto& kt = info.by_coll[static_cast<int>(k)];
      kt.ops += runs[p];
      kt.bytes += o.bytes() * static_cast<double>(runs[p]);
    }
    info.ops += t.programs[p].ops.size() * runs[p];
  }
  for (std::uint32_t r = 0; r < t.world_size; ++r) info.per_rank[r] = per_program[t.program_of_rank[r]];
  return info;
}

}  // namespace collemu::traces
