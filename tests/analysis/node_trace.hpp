// What the analysis tests replay: a small trace on one H100 node, and the replay itself.
#pragma once

#include <string>
#include <vector>

#include "collectives/coll.hpp"
#include "emulator/replay.hpp"
#include "models/builder.hpp"
#include "models/placement.hpp"
#include "traces/trace.hpp"

namespace collemu::analysis::testing {

// 4 ranks, each computing (rank r: (1 + r) ms, so that they arrive apart and an early rank's kernel waits for the late
// one), then an AllReduce of 16 MiB and an AllGather of 4 MiB (float), `repeats` times.
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

// `t` replayed on one building of the prometheus preset without a BAG, with `sets` over it: ranks packed from GPU 0,
// compute times gpu.compute_time's share, the ranks in `record` recorded op by op (exact: no finish tolerance).
inline emulator::ReplayReport replay_on_building(const traces::Trace& t, const std::vector<std::string>& sets,
                                                 std::vector<std::uint32_t> record,
                                                 emulator::ReplayOptions o = emulator::ReplayOptions{}) {
  auto c = models::FabricConfig::from_preset("prometheus");
  c.set_assignment("region.buildings=1");
  c.set_assignment("bag.enabled=false");
  for (const auto& s : sets) c.set_assignment(s);
  const models::Fabric f = models::build_fabric(c);
  const models::Network net(f, collectives::payload_efficiency(f));
  emulator::Job job;
  job.name = "job";
  job.trace = &t;
  job.compute_scale = f.layout.compute_time;
  job.gpus = models::place_ranks(f.layout, static_cast<int>(t.world_size), models::Placement::Packed);
  o.record_ranks = std::move(record);
  return emulator::replay(net, {job}, o);
}

}  // namespace collemu::analysis::testing
