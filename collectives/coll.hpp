// One NCCL collective on a fabric, as nccl-tests would run it: the choice (plan.hpp), the flows (emit.hpp) in a flow
// engine of its own, run to the end, and nccl-tests' figures with the tier that binds. What `collemu coll` runs for
// each size; the replay instead emits many collectives into one shared engine.
#pragma once

#include <cstdint>

#include "collectives/communicator.hpp"
#include "collectives/emit.hpp"
#include "collectives/nccl.hpp"
#include "collectives/plan.hpp"
#include "models/network.hpp"
#include "models/solver/flow_engine.hpp"

namespace collemu::collectives {

struct CollResult {
  CollKind op;
  std::int64_t count = 0;  // nccl-tests' element count (float)
  double bytes = 0;        // size moved: count x 4 (x ranks where nccl-tests splits it)
  double time_s = 0;
  double algbw_Bps = 0, busbw_Bps = 0;
  Algo algo;
  Proto proto;
  int channels = 0;
  // The tier whose busiest link was busiest (bytes carried over capacity x time) and that link's utilisation.
  models::LinkTier binding_tier = models::LinkTier::NvLink;
  double binding_utilisation = 0;
  std::size_t flows = 0;
  models::solver::FlowEngineStats engine;
};

// The payload share of each tier's line rate that collectives see: NVLink at NCCL's model of the GPU generation's
// link (Hopper 20.6 of 25 GB/s; nvlink_payload_efficiency), every network tier at its transport's share (RoCEv2's
// 4096 of 4178 bytes, InfiniBand's 94%: network_payload_efficiency, nccl.hpp); each times the share of it the fabric
// achieves (nic.efficiency, scaleup.efficiency: 1 unless set, a measured or fitted value).
std::array<double, models::kNumLinkTiers> payload_efficiency(models::GpuType gpu, double nic_efficiency = 1,
                                                            double scaleup_efficiency = 1,
                                                            models::Transport transport = models::Transport::Roce);
inline std::array<double, models::kNumLinkTiers> payload_efficiency(const models::Fabric& fabric) {
  return payload_efficiency(fabric.layout.gpu, fabric.layout.nic_efficiency, fabric.layout.scaleup_efficiency,
                            fabric.layout.transport);
}

// About how many engine flows one collective emits (before identical ones merge), for a memory check before any is
// made: AllToAll n x (GPUs per domain) NVLink flows plus, per node, one connection per rank of the others x QPs;
// SendRecv n x QPs; the others n x channels x QPs, up and down. Without PXN an AllToAll has one connection per pair
// of ranks of different nodes.
double estimated_flows(const Communicator& comm, CollKind op, int channels, int qps, bool pxn = true);
// Bytes per engine flow, a lower bound (measured about 1 KB with its links and the solver's share; docs/errors.md).
inline constexpr double kBytesPerFlow = 400;

// Plans, emits and runs one collective alone on the network. Throws common::InputError for an impossible request
// (plan_collective) and models::RouteError when failures cut a pair. `engine`: the options of its flow engine (the
// finish tolerance, an approximation: models/solver/flow_engine.hpp).
CollResult run_collective(const Communicator& comm, const CollSpec& spec, const models::solver::SolverFactory& solver,
                          const models::solver::FlowEngineOptions& engine = {});

}  // namespace collemu::collectives
