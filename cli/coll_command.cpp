#include "cli/coll_command.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "collectives/coll.hpp"
#include "common/collective.hpp"
#include "common/error.hpp"
#include "common/memory.hpp"
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
  double finish_tolerance = kDefaultFinishTolerance;  // models::solver::FlowEngineOptions::finish_tolerance
  int channels = -1, qps = 1, root = 0;  // channels -1: not given (NCCL's choice)
  int net_channels_per_peer = 0;          // 0: NCCL's default
  int min_channels = -1, max_channels = -1;  // NCCL_MIN_NCHANNELS, NCCL_MAX_NCHANNELS; -1: not given
  bool json = false;
  bool pxn_disable = false;  // NCCL_PXN_DISABLE=1
  std::string nccl_version;  // empty: collectives::kNcclMinor
  // nccl-tests' own options, with its meanings (its README): the reduction, the datatype, the ranks as processes x
  // threads x GPUs, an additive step; and those an emulator does not need (accepted, said to be ignored).
  std::string redop = "sum", datatype = "float", stepbytes;
  int gpus_per_thread = 0, threads = 0, processes = 0;  // 0: not given
  std::vector<std::pair<std::string, std::string>> ignored;  // (option, value) given
};

// nccl-tests prints a figure in a column of `width` characters: 2 decimals, fewer when it does not fit, then an
// exponent (src/util.cu getFloatStr).
std::string nccl_float(double v, int width) {
  char buf[64];
  for (const char* fmt : {"%*.2f", "%*.1f", "%*.0f"})
    if (std::snprintf(buf, sizeof buf, fmt, width, v) <= width) return buf;
  std::snprintf(buf, sizeof buf, width >= 7 ? "%*.1e" : "%*.0e", width, v);
  return buf;
}

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
  if (o.stepbytes.empty() && (!(o.stepfactor > 1) || !std::isfinite(o.stepfactor))) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", o.stepfactor);
    throw common::InputError(std::string("--stepfactor ") + text, "expected a factor > 1");
  }
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
  check_channel_options(o.min_channels, o.max_channels, o.net_channels_per_peer);
  if (o.channels != -1 && (o.min_channels != -1 || o.max_channels != -1))
    throw common::InputError("--channels " + std::to_string(o.channels),
                             "sets the channels exactly; give it or --min-nchannels/--max-nchannels, not both");
  spec.qps = o.qps;
  spec.root = o.root;
  spec.net_channels_per_peer = o.net_channels_per_peer;
  spec.pxn = !o.pxn_disable;
  if (!o.nccl_version.empty())
    spec.nccl_minor = from_option("--nccl-version", o.nccl_version,
                                  [&] { return collectives::parse_nccl_minor(o.nccl_version); });
  // nccl-tests' datatype names (src/common.cu test_typenames) are among common::parse_data_type's spellings.
  const auto dtype = common::parse_data_type(o.datatype);
  spec.type_bytes = dtype ? common::size_bytes(*dtype) : 0;
  if (!dtype)
    throw common::InputError("-d " + o.datatype, "unknown datatype; expected one of nccl-tests' int8, uint8, int32, "
                             "uint32, int64, uint64, half, float, double, bfloat16, f8e4m3, f8e5m2 (one at a time)");
  if (!collectives::is_nccl_redop(o.redop))
    throw common::InputError("-o " + o.redop, "unknown reduction; expected one of nccl-tests' sum, prod, max, min, "
                             "avg (one at a time: an emulator's time does not depend on it)");
  double step_bytes = 0;
  if (!o.stepbytes.empty()) {
    step_bytes = size_option("--stepbytes", o.stepbytes);
    if (step_bytes <= 0) throw common::InputError("--stepbytes " + o.stepbytes, "expected a step above 0 B");
  }
  // The ranks: --ranks, or nccl-tests' processes x threads x GPUs per thread (-np of mpirun, -t, -g); both must agree.
  int ranks = o.ranks;
  if (o.gpus_per_thread || o.threads || o.processes) {
    for (const auto& [name, v] : {std::pair{"-g", o.gpus_per_thread}, {"-t", o.threads}, {"--np", o.processes}})
      if (v < 0) throw common::InputError(std::string(name) + " " + std::to_string(v), "expected at least 1");
    const long long n = static_cast<long long>(std::max(o.processes, 1)) * std::max(o.threads, 1) *
                        std::max(o.gpus_per_thread, 1);
    if (n > 100'000'000) throw common::InputError("--np x -t x -g", std::to_string(n) + " ranks; expected at most 1e8");
    if (ranks != 0 && ranks != n)
      throw common::InputError("--ranks " + std::to_string(ranks),
                               "differs from --np x -t x -g = " + std::to_string(n) + " (nccl-tests' rank count)");
    ranks = static_cast<int>(n);
  }
  const auto placement = from_option("--placement", o.placement, [&] { return models::parse_placement(o.placement); });
  const auto solver = from_option("--solver", o.solver, [&] { return models::solver::rate_solver_factory(o.solver); });
  const models::solver::FlowEngineOptions engine_options{
      .finish_tolerance = finish_tolerance_option(o.finish_tolerance)};

  models::Fabric fabric = build_fabric_from_options(o.topo, o.sets, o.fails, o.set_files);
  if (ranks < 1)
    throw common::InputError("--ranks", "expected the number of ranks (GPUs) taking part, at least 2 (or nccl-tests' "
                             "--np, -t and -g)");
  // One rank communicates with no one: NCCL only copies its buffer in GPU memory (out of place), which is not
  // modelled; a time of 0 would read as a result.
  if (ranks == 1)
    throw common::InputError(o.ranks == 1 ? "--ranks 1" : "--np x -t x -g = 1",
                             "a collective of one rank moves nothing between GPUs (NCCL copies the buffer locally); "
                             "expected at least 2 ranks");
  const models::Network net(fabric, collectives::payload_efficiency(fabric));
  const auto gpus = from_option("--ranks", std::to_string(ranks),
                                [&] { return models::place_ranks(fabric.layout, ranks, placement); });
  const collectives::Communicator comm(net, gpus);
  if (o.root < 0 || o.root >= comm.size())
    throw common::InputError("--root " + std::to_string(o.root),
                             "expected a rank in [0, " + std::to_string(comm.size()) + ")");
  const auto& sh = comm.shape();
  // NCCL_MIN_NCHANNELS / NCCL_MAX_NCHANNELS (NCCL_MIN_CTAS / NCCL_MAX_CTAS from 2.17) bound the channels NCCL's
  // topology search found (copied up to the minimum, cut to the maximum).
  if (o.min_channels != -1 || o.max_channels != -1)
    spec.channels = std::clamp(comm.default_channels(), o.min_channels != -1 ? o.min_channels : 1,
                               o.max_channels != -1 ? o.max_channels : 64);
  const int channels = spec.channels > 0 ? spec.channels : comm.default_channels();
  {
    const double flows = collectives::estimated_flows(comm, spec.op, channels, o.qps, spec.pxn);
    char what[160];
    std::snprintf(what, sizeof what, "%s on %d ranks%s (about %.3g flows)", common::to_string(spec.op), sh.ranks,
                  o.qps > 1 ? (" with " + std::to_string(o.qps) + " QPs per connection").c_str() : "", flows);
    common::check_memory(flows * collectives::kBytesPerFlow,
                         o.qps > 1 ? "--qps " + std::to_string(o.qps) : "--ranks " + std::to_string(sh.ranks), what);
  }

  const bool rooted = spec.op == common::CollKind::Broadcast || spec.op == common::CollKind::Reduce;
  const bool reduces = spec.op == common::CollKind::AllReduce || spec.op == common::CollKind::ReduceScatter ||
                       spec.op == common::CollKind::Reduce;
  const std::string redop = reduces ? o.redop : "none";
  std::FILE* notes = o.json ? stderr : stdout;
  for (const auto& [name, value] : o.ignored)
    std::fprintf(notes, "# %s %s: not needed by an emulator (every iteration takes the same time, nothing is computed "
                        "to check); ignored\n", name.c_str(), value.c_str());
  if (!o.json) {
    std::printf("# collemu coll: %s on %d ranks (%d NVLink domain(s), up to %d ranks each), fabric %s, placement %s\n",
                common::to_string(spec.op), sh.ranks, sh.nodes, sh.ranks_per_node, o.topo.c_str(),
                models::to_string(placement));
    std::printf("# %d channels, %d QP(s) per connection, %s flows, solver %s; in-place = out-of-place (an emulator "
                "moves the same bytes); #wrong N/A (nothing is computed)\n",
                channels, o.qps, collectives::to_string(spec.granularity), o.solver.c_str());
    if (o.finish_tolerance > 0)
      std::printf("# finish tolerance %g: flows that close to their end finish together (an approximation)\n",
                  o.finish_tolerance);
    // nccl-tests' header (src/util.cu writeResultHeader), then collemu's own columns.
    std::printf("#\n# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place          \n",
                "", "", "", "", "");
    std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s  %8s %7s  %s\n", "size", "count",
                "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong", "algo",
                "proto", "binding tier (utilisation)");
    std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)", "(elements)", "", "",
                "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  }
  nlohmann::json rows = nlohmann::json::array();
  double busbw_sum = 0;
  int nrows = 0;
  for (double size = lo; size <= hi * (1 + 1e-12);) {
    spec.bytes = size;
    const auto r = collectives::run_collective(comm, spec, solver, engine_options);
    busbw_sum += r.busbw_Bps / 1e9;
    ++nrows;
    // Nothing carried (a zero size: latency only): no link binds.
    const char* tier = r.binding_utilisation > 0 ? models::to_string(r.binding_tier) : "none";
    if (o.json) {
      rows.push_back({{"op", common::to_string(r.op)},
                      {"ranks", sh.ranks},
                      {"fabric", o.topo},
                      {"placement", models::to_string(placement)},
                      {"bytes", static_cast<std::int64_t>(r.bytes)},
                      {"count", r.count},
                      {"type", o.datatype},
                      {"redop", redop},
                      {"root", rooted ? spec.root : -1},
                      {"time_s", r.time_s},
                      {"algbw_GBps", r.algbw_Bps / 1e9},
                      {"busbw_GBps", r.busbw_Bps / 1e9},
                      {"algo", collectives::algo_name(r.op, r.algo)},
                      {"proto", collectives::to_string(r.proto)},
                      {"channels", r.channels},
                      {"binding_tier", tier},
                      {"binding_utilisation", r.binding_utilisation},
                      {"flows", r.flows},
                      {"events", r.engine.events}});
      if (o.finish_tolerance > 0) rows.back()["finish_tolerance"] = o.finish_tolerance;  // an approximation: say so
    } else {
      const std::string cols = "  " + nccl_float(r.time_s * 1e6, 7) + "  " + nccl_float(r.algbw_Bps / 1e9, 6) + "  " +
                               nccl_float(r.busbw_Bps / 1e9, 6) + "     N/A";
      std::printf("%12lld  %12lld  %8s  %6s  %6d%s%s  %8s %7s  %s (%.2f)\n", static_cast<long long>(r.bytes),
                  static_cast<long long>(r.count), o.datatype.c_str(), redop.c_str(), rooted ? spec.root : -1,
                  cols.c_str(), cols.c_str(), collectives::algo_name(r.op, r.algo), collectives::to_string(r.proto),
                  tier, r.binding_utilisation);
      std::fflush(stdout);
    }
    if (lo == 0 && step_bytes == 0) break;  // a zero size does not grow by a factor
    size = step_bytes > 0 ? size + step_bytes : size * o.stepfactor;
  }
  if (o.json) {
    std::cout << rows.dump(2) << "\n";
  } else {
    // nccl-tests' closing lines (writeResultFooter): the mean busbw over the rows (and over in-place, the same here).
    std::printf("# %-20s : %g \n#\n", "Avg bus bandwidth", nrows ? busbw_sum / nrows : 0.0);
  }
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
  cmd->add_option("--ranks", o->ranks, "ranks (GPUs) taking part (or nccl-tests' --np x -t x -g)");
  cmd->add_option("--placement", o->placement,
                  "packed (rank i on GPU i) or spread (the job's NVLink domains dealt over the buildings)");
  cmd->add_option("-b,--minbytes", o->minbytes, "smallest size (nccl-tests: a bare number is bytes; K/M/G binary)");
  cmd->add_option("-e,--maxbytes", o->maxbytes, "largest size");
  cmd->add_option("-f,--stepfactor", o->stepfactor, "size multiplier between rows");
  cmd->add_option("-i,--stepbytes", o->stepbytes, "size increment between rows (nccl-tests' -i; instead of -f)");
  cmd->add_option("-o,--redop", o->redop, "nccl-tests' reduction: sum, prod, max, min, avg (printed; no effect on time)")
      ->capture_default_str();
  cmd->add_option("-d,--datatype", o->datatype,
                  "nccl-tests' datatype: int8, uint8, int32, uint32, int64, uint64, half, float, double, bfloat16, "
                  "f8e4m3, f8e5m2 (sets the element count; sizes round down to whole elements)")
      ->capture_default_str();
  cmd->add_option("-g,--ngpus", o->gpus_per_thread, "nccl-tests' GPUs per thread (ranks = --np x -t x -g)");
  cmd->add_option("-t,--nthreads", o->threads, "nccl-tests' threads per process");
  cmd->add_option("--np", o->processes, "processes, as mpirun -np launches nccl-tests");
  // nccl-tests' options an emulator does not need: accepted with a value, said to be ignored.
  for (const char* name : {"-n,--iters", "-w,--warmup_iters", "-m,--agg_iters", "-a,--average", "-z,--blocking",
                           "-G,--cudagraph", "-c,--check"}) {
    const std::string flag = std::string(name).substr(0, 2);
    cmd->add_option_function<std::string>(
        name, [o, flag](const std::string& v) { o->ignored.emplace_back(flag, v); },
        "nccl-tests' option, accepted and ignored (an emulator runs one exact iteration, checks nothing)");
  }
  cmd->add_option("--algo", o->algo, "force the algorithm, as NCCL_ALGO: Ring, Tree, NVLS, NVLSTree, PAT");
  cmd->add_option("--proto", o->proto, "force the protocol, as NCCL_PROTO: LL, LL128, Simple");
  cmd->add_option("--channels", o->channels, "channels (default: 16 in one node, 2 per NIC across nodes)");
  cmd->add_option("--min-nchannels", o->min_channels,
                  "at least this many channels, as NCCL_MIN_NCHANNELS (NCCL_MIN_CTAS)");
  cmd->add_option("--max-nchannels", o->max_channels, "at most this many channels, as NCCL_MAX_NCHANNELS (NCCL_MAX_CTAS)");
  cmd->add_option("--qps", o->qps, "QPs per connection, as NCCL_IB_QPS_PER_CONNECTION (default 1)");
  cmd->add_option("--nchannels-per-net-peer", o->net_channels_per_peer,
                  "p2p channels per remote peer, as NCCL_NCHANNELS_PER_NET_PEER (default: NCCL 2.28's, 2 or fewer at "
                  "scale); each drives at most 14 GB/s across nodes");
  cmd->add_option("--nccl-version", o->nccl_version,
                  "the NCCL version for what collemu models of its differences: the p2p channels per remote peer "
                  "(changed in 2.20 and 2.29); every other choice is 2.28's (default 2.28)");
  cmd->add_flag("--pxn-disable", o->pxn_disable,
                "as NCCL_PXN_DISABLE=1: a send to another node leaves from the sender's own NIC (across rails through "
                "the spines), not over NVLink to the GPU on the destination's rail (PXN)");
  cmd->add_option("--granularity", o->granularity,
                  "pipelined (one flow per ring edge), step (one flow per ring step, for small rings) or lockstep (one "
                  "flow per ring channel, at its slowest edge); PAT is always in lockstep");
  cmd->add_option("--root", o->root, "root rank of broadcast and reduce");
  cmd->add_option("--solver", o->solver, kSolverHelp);
  cmd->add_option("--finish-tolerance", o->finish_tolerance, kFinishToleranceHelp)->capture_default_str();
  cmd->add_flag("--json", o->json,
                "rows as a JSON array (op, ranks, fabric, placement, bytes, count, type, redop, root, time_s, algbw_GBps, "
                "busbw_GBps, algo, proto, ...)");
  cmd->callback([o] { run(*o); });
}

}  // namespace collemu::cli
