#include "collectives/coll.hpp"

#include <algorithm>

namespace collemu::collectives {

std::array<double, models::kNumLinkTiers> payload_efficiency(models::GpuType gpu, double nic_efficiency,
                                                            double scaleup_efficiency, models::Transport transport) {
  std::array<double, models::kNumLinkTiers> e;
  e.fill(network_payload_efficiency(transport) * nic_efficiency);
  e[static_cast<int>(models::LinkTier::NvLink)] = nvlink_payload_efficiency(nccl_arch(gpu)) * scaleup_efficiency;
  return e;
}

double estimated_flows(const Communicator& comm, CollKind op, int channels, int qps, bool pxn) {
  const double n = comm.size(), nodes = comm.nodes();
  if (op == CollKind::AllToAll && !pxn) return n * comm.network().gpus_per_domain() + n * n * qps;
  if (op == CollKind::AllToAll) return n * comm.network().gpus_per_domain() + nodes * n * qps;
  if (op == CollKind::SendRecv) return n * qps;
  return 2 * n * std::max(channels, 1) * qps;
}

CollResult run_collective(const Communicator& comm, const CollSpec& spec, const models::solver::SolverFactory& solver,
                          const models::solver::FlowEngineOptions& engine_options) {
  const CollPlan plan = plan_collective(comm, spec);
  const models::Network& net = comm.network();
  models::solver::FlowEngine engine(net.capacities(), solver, engine_options);
  net.propose_guards(engine);
  const CollFlows flows = emit_collective(comm, plan, engine, 0.0);
  engine.run();
  CollResult res;
  res.op = plan.op;
  res.count = plan.count;
  res.bytes = plan.bytes;
  res.algo = plan.algo;
  res.proto = plan.proto;
  res.channels = plan.channels;
  res.time_s = done_s(engine, flows) - flows.start_s;
  res.flows = flows.count;
  res.engine = engine.stats();
  res.algbw_Bps = res.time_s > 0 ? plan.bytes / res.time_s : 0;
  res.busbw_Bps = res.algbw_Bps * busbw_factor(plan.op, comm.size());
  // The binding tier: the tier of the link with the highest utilisation over the collective.
  if (res.time_s > 0) {
    const auto& carried = engine.link_bytes();
    for (models::EngineLink l = 0; l < carried.size(); ++l) {
      if (carried[l] <= 0 || net.capacity_Bps(l) <= 0) continue;
      const double u = carried[l] / (net.capacity_Bps(l) * res.time_s);
      if (u > res.binding_utilisation) {
        res.binding_utilisation = u;
        res.binding_tier = net.tier(l);
      }
    }
  }
  return res;
}

}  // namespace collemu::collectives
