#include "cli/coll_command.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "collectives/coll.hpp"
#include "common/error.hpp"
#include "common/units.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "models/network.hpp"
#include "models/placement.hpp"
#include "models/solver/flow_engine.hpp"

namespace collemu::cli {

namespace {

struct CollOptions {
  std::string topo = "prometheus";
  std::vector<std::string> sets, fails, set_files;
  std::string op = "allreduce";
  int ranks = 0;
  std::string placement = "packed";
  std::string minbytes = "8", maxbytes = "8G";
  double stepfactor = 2;
  std::string algo, proto, granularity = "pipelined", solver = "cpu";
  int channels = -1, qps = 1, root = 0;  // channels -1: not given (NCCL's choice)
  bool json = false;
};

double size_option(const std::string& name, const std::string& text) {
  double b = 0;
  try {
    b = common::parse_size_B(text, /*allow_bare=*/true);
  } catch (const common::UnitError& e) {
    throw common::InputError(name + " " + text, std::string(e.what()) + " (a bare number is bytes, as in nccl-tests)");
  }
  // The collectives model sizes up to 1e18 B (plan_collective): refused here, before any output, naming the option.
  if (!std::isfinite(b) || b > 1e18) throw common::InputError(name + " " + text, "expected a size from 0 to 1e18 B");
  return b;
}

void run(const CollOptions& o) {
  const double lo = size_option("--minbytes", o.minbytes), hi = size_option("--maxbytes", o.maxbytes);
  if (hi < lo) throw common::InputError("--maxbytes " + o.maxbytes, "smaller than --minbytes " + o.minbytes);
  if (!(o.stepfactor > 1) || !std::isfinite(o.stepfactor))
    throw common::InputError("--stepfactor " + std::to_string(o.stepfactor), "expected a factor > 1");
  // The options as the library's request; a library error about a value names the option it came from.
  collectives::CollSpec spec;
  spec.op = from_option("--op", o.op, [&] { return collectives::parse_collective(o.op); });
  if (!o.algo.empty()) spec.algo = from_option("--algo", o.algo, [&] { return collectives::parse_algo(o.algo); });
  if (!o.proto.empty()) spec.proto = from_option("--proto", o.proto, [&] { return collectives::parse_proto(o.proto); });
  spec.granularity = from_option("--granularity", o.granularity,
                                 [&] { return collectives::parse_granularity(o.granularity); });
  if (o.qps < 1) throw common::InputError("--qps " + std::to_string(o.qps), "expected at least 1 QP per connection");
  // NCCL runs at most MAXCHANNELS = 64 channels per communicator (src/include/device.h).
  if (o.channels != -1 && (o.channels < 1 || o.channels > 64))
    throw common::InputError("--channels " + std::to_string(o.channels),
                             "expected 1 to 64 channels (NCCL's MAXCHANNELS); leave it out for NCCL's choice");
  spec.channels = o.channels == -1 ? 0 : o.channels;
  spec.qps = o.qps;
  spec.root = o.root;
  const auto placement = from_option("--placement", o.placement, [&] { return models::parse_placement(o.placement); });
  const auto solver = from_option("--solver", o.solver, [&] { return models::solver::rate_solver_factory(o.solver); });

  models::Fabric fabric = build_fabric_from_options(o.topo, o.sets, o.fails, o.set_files);
  if (o.ranks < 1) throw common::InputError("--ranks", "expected the number of ranks (GPUs) taking part, at least 1");
  const models::Network net(fabric, collectives::payload_efficiency(fabric));
  const auto gpus = from_option("--ranks", std::to_string(o.ranks),
                                [&] { return models::place_ranks(fabric.layout, o.ranks, placement); });
  const collectives::Communicator comm(net, gpus);
  if (o.root < 0 || o.root >= comm.size())
    throw common::InputError("--root " + std::to_string(o.root),
                             "expected a rank in [0, " + std::to_string(comm.size()) + ")");
  const auto& sh = comm.shape();
  const int channels = o.channels > 0 ? o.channels : comm.default_channels();

  if (!o.json) {
    std::printf("# collemu coll: %s on %d ranks (%d NVLink domain(s), up to %d ranks each), fabric %s, placement %s\n",
                common::to_string(spec.op), sh.ranks, sh.nodes, sh.ranks_per_node, o.topo.c_str(),
                models::to_string(placement));
    std::printf("# %d channels, %d QP(s) per connection, %s flows, solver %s\n#\n", channels, o.qps,
                collectives::to_string(spec.granularity), o.solver.c_str());
    std::printf("#%11s %13s %9s %7s %7s %11s %9s %9s %6s %7s  %s\n", "size", "count", "type", "redop", "root", "time",
                "algbw", "busbw", "algo", "proto", "binding tier (utilisation)");
    std::printf("#%11s %13s %9s %7s %7s %11s %9s %9s\n", "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)");
  }
  nlohmann::json rows = nlohmann::json::array();
  const bool rooted = spec.op == common::CollKind::Broadcast || spec.op == common::CollKind::Reduce;
  const bool reduces = spec.op == common::CollKind::AllReduce || spec.op == common::CollKind::ReduceScatter ||
                       spec.op == common::CollKind::Reduce;
  for (double size = lo; size <= hi * (1 + 1e-12); size *= o.stepfactor) {
    spec.bytes = size;
    const auto r = collectives::run_collective(comm, spec, solver);
    if (o.json) {
      rows.push_back({{"bytes", r.bytes},
                      {"count", r.count},
                      {"type", "float"},
                      {"time_s", r.time_s},
                      {"algbw_GBps", r.algbw_Bps / 1e9},
                      {"busbw_GBps", r.busbw_Bps / 1e9},
                      {"algo", collectives::algo_name(r.op, r.algo)},
                      {"proto", collectives::to_string(r.proto)},
                      {"channels", r.channels},
                      {"binding_tier", models::to_string(r.binding_tier)},
                      {"binding_utilisation", r.binding_utilisation},
                      {"flows", r.flows}});
    } else {
      std::printf("%12.0f %13lld %9s %7s %7d %11.2f %9.2f %9.2f %6s %7s  %s (%.2f)\n", r.bytes,
                  static_cast<long long>(r.count), "float", reduces ? "sum" : "none", rooted ? spec.root : -1,
                  r.time_s * 1e6, r.algbw_Bps / 1e9, r.busbw_Bps / 1e9, collectives::algo_name(r.op, r.algo),
                  collectives::to_string(r.proto), models::to_string(r.binding_tier), r.binding_utilisation);
      std::fflush(stdout);
    }
    if (lo == 0) break;  // a zero size does not grow
  }
  if (o.json) std::cout << rows.dump(2) << "\n";
}

}  // namespace

void add_coll_command(CLI::App& app) {
  auto o = std::make_shared<CollOptions>();
  CLI::App* cmd = app.add_subcommand(
      "coll", "Run one NCCL collective over a range of sizes on a fabric and print nccl-tests' table (size, count, "
              "time, algbw, busbw) with the algorithm, the protocol and the tier that binds.");
  cmd->add_option("--topo", o->topo, "preset (prometheus, llama3-24k, fat-tree) or a YAML/JSON fabric file");
  cmd->add_option("--set", o->sets, "override a fabric key, e.g. --set bag.oversubscription=7:1 (repeatable)");
  cmd->add_option("--set-file", o->set_files,
                  "a YAML/JSON overlay of fabric keys (no preset:), applied before --set (repeatable)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--fail", o->fails, "fail a switch or a cable (A->B) first (repeatable)");
  cmd->add_option("--op", o->op, "allreduce|allgather|reducescatter|broadcast|reduce|alltoall|sendrecv");
  cmd->add_option("--ranks", o->ranks, "ranks (GPUs) taking part")->required();
  cmd->add_option("--placement", o->placement,
                  "packed (rank i on GPU i) or spread (the job's NVLink domains dealt over the buildings)");
  cmd->add_option("-b,--minbytes", o->minbytes, "smallest size (nccl-tests: a bare number is bytes; K/M/G binary)");
  cmd->add_option("-e,--maxbytes", o->maxbytes, "largest size");
  cmd->add_option("-f,--stepfactor", o->stepfactor, "size multiplier between rows");
  cmd->add_option("--algo", o->algo, "force the algorithm, as NCCL_ALGO: Ring, Tree, NVLS, NVLSTree, PAT");
  cmd->add_option("--proto", o->proto, "force the protocol, as NCCL_PROTO: LL, LL128, Simple");
  cmd->add_option("--channels", o->channels, "channels (default: 16 in one node, 2 per NIC across nodes)");
  cmd->add_option("--qps", o->qps, "QPs per connection, as NCCL_IB_QPS_PER_CONNECTION (default 1)");
  cmd->add_option("--granularity", o->granularity,
                  "pipelined (one flow per ring edge), step (one flow per ring step, for small rings) or lockstep (one flow per ring channel, at its slowest edge)");
  cmd->add_option("--root", o->root, "root rank of broadcast and reduce");
  cmd->add_option("--solver", o->solver, "rate solver backend: cpu or cuda");
  cmd->add_flag("--json", o->json, "rows as a JSON array (bytes, time_s, algbw_GBps, busbw_GBps, algo, proto, ...)");
  cmd->callback([o] { run(*o); });
}

}  // namespace collemu::cli
