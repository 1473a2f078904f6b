// A small trace the analysis tests replay on one H100 node: 4 ranks, each computing (rank r: (1 + r) ms, so that they
// arrive apart and an early rank's kernel waits for the late one), then an AllReduce of 16 MiB and an AllGather of
// 4 MiB (float), `repeats` times.
#pragma once

#include "traces/trace.hpp"

namespace collemu::analysis::testing {

inline traces::Trace node_trace(int repeats) {
  traces::Trace t;
  t.source = "test trace";
  t.reset_ranks(4, "test");
  t.comms = {{"world", {0, 1, 2, 3}, 4}};
  for (std::uint32_t r = 0; r < 4; ++r) {
    t.slot_for(r, 0);
    for (int rep = 0; rep < repeats; ++rep) {
      traces::Op comp;
      comp.duration_s = 1e-3 * (1 + r);
      traces::Op ar;
      ar.kind = traces::OpKind::Collective;
      ar.coll = common::CollKind::AllReduce;
      ar.dtype = common::DataType::Float32;
      ar.count = 1 << 22;
      traces::Op ag = ar;
      ag.coll = common::CollKind::AllGather;
      ag.count = 1 << 18;
      t.programs[r].ops.insert(t.programs[r].ops.end(), {comp, ar, ag});
    }
  }
  return t;
}

}  // namespace collemu::analysis::testing
