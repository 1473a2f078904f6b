#include "cli/scenario.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "cli/options.hpp"
#include "collectives/coll.hpp"
#include "common/error.hpp"
#include "common/units.hpp"
#include "traces/read_trace.hpp"

namespace collemu::cli {

// The embedded default (docs/replay.md): a Llama-like dense model on the whole prometheus preset, 32,768 GPUs: TP 8
// inside each NVLink domain, DP 4,096 (PP 1), 2 microbatches, gradients all-reduced in buckets overlapping the last
// backward; its NVLink domains spread over the preset's two buildings, so that NCCL's tree for the data-parallel
// all-reduce (NVLSTree, which NCCL's model picks here) crosses the BAG on about half its edges from every domain:
// about 408 TB/s up into the BAG per building at 1:1, against the 234 TB/s the BAG leaves a building at 7:1. A
// smaller job, or one with pipeline stages that reduce at different times, does not load the BAG enough to feel its
// ratio (docs/replay.md). The TP collectives inside NVLink domains do not cross it.
traces::LlmSpec default_spec() {
  traces::LlmSpec s;
  s.gpus = 32768;
  s.tp = 8;
  s.pp = 1;
  s.dp = 4096;
  // Llama 3 8B's shapes ("The Llama 3 Herd of Models", Table 3) with 4 of its 32 layers.
  s.layers = 4;
  s.hidden = 4096;
  s.ffn = 14336;
  s.heads = 32;
  s.kv_heads = 8;
  s.seq = 8192;
  s.microbatches = 2;
  s.dp_mode = traces::LlmSpec::DpMode::AllReduce;
  return s;
}

std::string seconds(double s) {
  char buf[64];
  if (s >= 1) std::snprintf(buf, sizeof buf, "%.3f s", s);
  else if (s >= 1e-3) std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  return buf;
}

std::string bytes_text(double b) {
  char buf[64];
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.2f kB", b / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

// "R=F": a slow rank and its compute factor.
std::pair<std::uint32_t, double> parse_slow_rank(const std::string& text) {
  const auto eq = text.find('=');
  try {
    if (eq == std::string::npos) throw std::invalid_argument("no =");
    std::size_t used = 0;
    const unsigned long long r = std::stoull(text.substr(0, eq), &used);
    // A rank above 2^32 would wrap onto another rank: refuse it (the replay names ranks beyond the job's).
    if (used != eq || text[0] == '-' || r > 0xFFFFFFFFull) throw std::invalid_argument("rank");
    const std::string f = text.substr(eq + 1);
    const double factor = std::stod(f, &used);
    if (used != f.size() || !(factor > 0) || !std::isfinite(factor)) throw std::invalid_argument("factor");
    return {static_cast<std::uint32_t>(r), factor};
  } catch (const std::logic_error&) {
    throw common::InputError("--slow-rank " + text, "expected RANK=FACTOR, e.g. 17=1.2 (rank 17 computes 20% slower)");
  }
}

std::optional<double> parse_number(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

void apply_gen_option(traces::LlmSpec& s, const std::string& key_value) {
  const auto eq = key_value.find('=');
  const std::string where = "gen." + key_value;
  if (eq == std::string::npos || eq + 1 == key_value.size())
    throw common::InputError(where, "expected gen.KEY=VALUE");
  const std::string key = key_value.substr(0, eq), value = key_value.substr(eq + 1);
  auto count = [&] {
    try {
      const auto v = common::parse_count(value);
      if (v > 0xFFFFFFFFll) throw std::out_of_range("count");
      return static_cast<std::uint32_t>(v);
    } catch (const std::exception& e) {
      throw common::InputError(where, std::string("expected a positive whole number: ") + e.what());
    }
  };
  auto number = [&] {
    const auto v = parse_number(value);
    if (!v) throw common::InputError(where, "expected a number");
    return *v;
  };
  if (key == "gpus") s.gpus = count();
  else if (key == "tp") s.tp = count();
  else if (key == "cp") s.cp = count();
  else if (key == "pp") s.pp = count();
  else if (key == "dp") s.dp = count();
  else if (key == "vpp") s.vpp = count();
  else if (key == "layers") s.layers = count();
  else if (key == "hidden") s.hidden = count();
  else if (key == "ffn") s.ffn = count();
  else if (key == "heads") s.heads = count();
  else if (key == "kv_heads") s.kv_heads = count();
  else if (key == "vocab") s.vocab = count();
  else if (key == "seq") s.seq = count();
  else if (key == "microbatches") s.microbatches = count();
  else if (key == "microbatch_size") s.microbatch_size = count();
  else if (key == "gpu_tflops") s.gpu_tflops = number();
  else if (key == "mfu") s.mfu = number();
  else if (key == "dp_mode") {
    if (value == "allreduce") s.dp_mode = traces::LlmSpec::DpMode::AllReduce;
    else if (value == "zero") s.dp_mode = traces::LlmSpec::DpMode::Zero;
    else if (value == "fsdp") s.dp_mode = traces::LlmSpec::DpMode::Fsdp;
    else throw common::InputError(where, "expected allreduce, zero or fsdp");
  } else if (key == "dp_overlap") {
    try {
      s.dp_overlap = common::parse_bool(value);
    } catch (const common::UserError& e) {
      throw common::InputError(where, e.what());
    }
  } else {
    throw common::InputError(where, "unknown generator key; expected one of gpus, tp, cp, pp, dp, vpp, layers, hidden, "
                                    "ffn, heads, kv_heads, vocab, seq, microbatches, microbatch_size, gpu_tflops, "
                                    "mfu, dp_mode, dp_overlap");
  }
}

void add_scenario_options(CLI::App* cmd, RunOptions& o) {
  cmd->add_option("--topo", o.topo, "preset (prometheus, llama3-24k, fat-tree) or a YAML/JSON fabric file")
      ->capture_default_str();
  cmd->add_option("--set", o.sets, "override a fabric key, e.g. --set bag.oversubscription=7:1 (repeatable)");
  cmd->add_option("--set-file", o.set_files,
                  "a YAML/JSON overlay of fabric keys (no preset:), applied before --set (repeatable)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--fail", o.fails, "fail a switch or a cable (A->B) first (repeatable)");
  cmd->add_option("--fail-at", o.fail_at,
                  "TIME:TARGET: fail a switch or cable at that time of the step, e.g. 2ms:r0.bag0; routes are computed "
                  "again and flows in flight go on over their new paths (repeatable)");
  cmd->add_option("--trace", o.traces, "the job's trace: files of one job, in any format `collemu trace` reads")
      ->check(CLI::ExistingFile);
  cmd->add_option("--job", o.jobs,
                  "[NAME=]FILE[,FILE...][@PLACEMENT]: another job on the same fabric, placed on the GPUs the jobs before "
                  "it left free (repeatable); its flows share links with the others' where their paths meet");
  cmd->add_option("--format", o.format, "trace format: " + traces::trace_format_names())->capture_default_str();
  cmd->add_option("--placement", o.placement,
                  "packed (rank i on GPU i; default for a trace), spread (the job's NVLink domains dealt over the "
                  "buildings; default for the embedded job), random[:SEED], or file:PATH (one GPU id or name per line, by rank)");
  cmd->add_option("--compute-scale", o.compute_scale, "every compute time times this (a faster GPU: < 1)")
      ->capture_default_str();
  cmd->add_option("--slow-rank", o.slow_ranks, "RANK=FACTOR: that rank computes FACTOR times slower (repeatable)");
  cmd->add_option("--sm-contention", o.sm_contention,
                  "share of a GPU's compute one NCCL channel moving data takes from the compute it overlaps (one CUDA "
                  "block per channel on H100's 132 SMs: 1/132; 0: none)")->capture_default_str();
  cmd->add_option("--qps", o.qps, "QPs per connection, as NCCL_IB_QPS_PER_CONNECTION")->capture_default_str();
  cmd->add_flag("--pxn-disable", o.pxn_disable,
                "as NCCL_PXN_DISABLE=1: sends to another node leave from the sender's own NIC, not through PXN");
  cmd->add_option("--nccl-version", o.nccl_version,
                  "the NCCL version for what collemu models of its differences: the p2p channels per remote peer "
                  "(changed in 2.20 and 2.29); every other choice is 2.28's (default 2.28)");
  cmd->add_option("--min-nchannels", o.min_channels,
                  "every communicator's channels at least this many, as NCCL_MIN_NCHANNELS (NCCL_MIN_CTAS)");
  cmd->add_option("--max-nchannels", o.max_channels,
                  "every communicator's channels at most this many, as NCCL_MAX_NCHANNELS (NCCL_MAX_CTAS)");
  cmd->add_option("--nchannels-per-net-peer", o.net_channels_per_peer,
                  "p2p channels per remote peer, as NCCL_NCHANNELS_PER_NET_PEER (default: NCCL's, 2 or fewer at "
                  "scale); each drives at most 14 GB/s across nodes, for sends, receives and all-to-alls");
  cmd->add_option("--granularity", o.granularity,
                  "pipelined (a flow per ring edge), step (per ring step) or lockstep (a flow per ring channel, at its "
                  "slowest edge); PAT is always in lockstep")
      ->capture_default_str();
  cmd->add_option("--solver", o.solver, kSolverHelp)->capture_default_str();
  cmd->add_option("--finish-tolerance", o.finish_tolerance, kFinishToleranceHelp)->capture_default_str();
  cmd->add_flag("--no-symmetry", o.no_symmetry,
                "compute every collective on its own: identical NVLink domains solved apart, every collective routed "
                "afresh (slower, the same result bit for bit: a check of the reduction)");
}

traces::Trace read_job_trace(const std::vector<std::string>& files, const std::string& format, bool fill_missing) {
  traces::ReadReport report;
  traces::Trace t;
  try {
    t = traces::read_trace(files, format, &report, fill_missing);
  } catch (const traces::PartialTraceError& e) {
    throw common::InputError(e.where(), e.detail() + "; the replay runs whole jobs only (--fill-missing, where "
                             "offered, replays a data-parallel job's missing ranks as a rank of their communicators)");
  }
  for (const auto& w : report.warnings) std::fprintf(stderr, "collemu: warning: %s\n", common::message_for_user(w).c_str());
  if (fill_missing) {
    const auto filled = traces::fill_missing_ranks(t);
    if (!filled.empty())
      std::fprintf(stderr, "collemu: assumed (--fill-missing): rank(s) %s, in no file, run the program of a rank of "
                   "the same communicators (data-parallel symmetry); they have no measured times\n",
                   traces::rank_ranges(filled).c_str());
  }
  return t;
}

void run_scenario(const RunOptions& o, RunResult& r) {
  const auto wall0 = std::chrono::steady_clock::now();
  const auto solver = from_option("--solver", o.solver, [&] { return models::solver::rate_solver_factory(o.solver); });
  emulator::ReplayOptions ropt;
  ropt.solver = solver;
  ropt.granularity = from_option("--granularity", o.granularity,
                                 [&] { return collectives::parse_granularity(o.granularity); });
  ropt.finish_tolerance = finish_tolerance_option(o.finish_tolerance);
  ropt.symmetry = !o.no_symmetry;
  if (o.qps < 1) throw common::InputError("--qps " + std::to_string(o.qps), "expected at least 1 QP per connection");
  ropt.qps = o.qps;
  ropt.pxn = !o.pxn_disable;
  if (!o.nccl_version.empty())
    ropt.nccl_minor = from_option("--nccl-version", o.nccl_version,
                                  [&] { return collectives::parse_nccl_minor(o.nccl_version); });
  check_channel_options(o.min_channels, o.max_channels, o.net_channels_per_peer);
  ropt.net_channels_per_peer = o.net_channels_per_peer;
  ropt.min_channels = std::max(o.min_channels, 0);
  ropt.max_channels = std::max(o.max_channels, 0);
  if (!(o.sm_contention >= 0 && o.sm_contention <= 1))
    throw common::InputError("--sm-contention " + std::to_string(o.sm_contention),
                             "expected a share of the GPU per NCCL channel in [0, 1] (H100: 1/132 = 0.0076)");
  ropt.sm_share_per_channel = o.sm_contention;
  if (!(o.compute_scale > 0) || !std::isfinite(o.compute_scale))
    throw common::InputError("--compute-scale " + std::to_string(o.compute_scale), "expected a factor > 0");

  if (o.top < 0) throw common::InputError("--top " + std::to_string(o.top), "expected a number of rows, 0 or more");
  if (o.timeline_ranks < 1)
    throw common::InputError("--timeline-ranks " + std::to_string(o.timeline_ranks), "expected at least 1 rank");
  std::vector<std::pair<std::uint32_t, double>> slow_ranks;
  for (const auto& s : o.slow_ranks) slow_ranks.push_back(parse_slow_rank(s));

  bool known = o.format == "auto";
  for (const auto& f : traces::trace_formats()) known = known || o.format == f.name;
  if (!known)
    throw common::InputError("--format " + o.format, "unknown trace format; expected " + traces::trace_format_names());
  auto load = [&](const std::vector<std::string>& files) { return read_job_trace(files, o.format, o.fill_missing); };
  // The jobs: --trace (or the embedded default when there is no --job either), then every --job, placed in order on
  // the GPUs the jobs before them left free.
  struct JobSpec {
    std::string name, placement, option;
    std::vector<std::string> files;
  };
  std::vector<JobSpec> specs;
  if (!o.traces.empty() || o.jobs.empty()) specs.push_back({"job", o.placement, "--placement", o.traces});
  for (const auto& text : o.jobs) {
    // [NAME=]FILE[,FILE...][@PLACEMENT]
    JobSpec j;
    j.option = "--job " + text;
    std::string rest = text;
    if (const auto at = rest.rfind('@'); at != std::string::npos) {
      j.placement = rest.substr(at + 1);
      rest.resize(at);
    }
    if (const auto eq = rest.find('='); eq != std::string::npos) {
      j.name = rest.substr(0, eq);
      rest = rest.substr(eq + 1);
    }
    for (std::size_t pos = 0; pos <= rest.size();) {
      const auto comma = std::min(rest.find(',', pos), rest.size());
      if (comma > pos) j.files.push_back(rest.substr(pos, comma - pos));
      pos = comma + 1;
    }
    if (j.files.empty() || j.name.find_first_of(" \t") != std::string::npos)
      throw common::InputError(j.option, "expected [NAME=]FILE[,FILE...][@PLACEMENT]");
    for (const auto& f : j.files)
      if (::access(f.c_str(), R_OK) != 0) throw common::InputError(j.option, "cannot read " + f);
    specs.push_back(std::move(j));
  }
  // The results name the jobs: two of one name could not be told apart. Unnamed ones are job<k>, k their place, or
  // the next number no job was given.
  std::map<std::string, const JobSpec*> named;
  for (const JobSpec& j : specs) {
    if (j.name.empty()) continue;
    if (auto [it, fresh] = named.emplace(j.name, &j); !fresh)
      throw common::InputError(j.option, "a job named " + j.name + " is already given (" +
                                             (it->second->option == "--placement" ? "--trace" : it->second->option) +
                                             "); name each job once");
  }
  for (std::size_t k = 0; k < specs.size(); ++k)
    for (std::size_t n = k; specs[k].name.empty(); ++n)
      if (named.emplace("job" + std::to_string(n), &specs[k]).second) specs[k].name = "job" + std::to_string(n);
  std::vector<traces::Trace>& traces_store = r.traces;
  traces_store.reserve(specs.size());
  for (auto& j : specs) {
    if (j.files.empty()) {
      traces::LlmSpec spec = default_spec();
      for (const auto& g : o.gen) apply_gen_option(spec, g);
      traces_store.push_back(traces::generate_llm(spec));
      traces_store.back().source = "the embedded default (Llama-like, 4 layers, 32,768 GPUs: TP 8, DP 4,096)";
      if (j.placement.empty()) j.placement = "spread";
    } else {
      traces_store.push_back(load(j.files));
      if (j.placement.empty()) j.placement = "packed";
    }
  }

  r.fabric = std::make_unique<models::Fabric>(build_fabric_from_options(o.topo, o.sets, o.fails, o.set_files));
  models::Fabric& fabric = *r.fabric;
  // --fail-at TIME:TARGET: checked here against a copy of the fabric, so that the error names the option.
  for (const auto& text : o.fail_at) {
    const auto colon = text.find(':');
    emulator::ReplayOptions::TimedFailure f;
    if (colon == std::string::npos || colon + 1 == text.size())
      throw common::InputError("--fail-at " + text, "expected TIME:TARGET, e.g. 2ms:r0.bag0 or 150us:A->B");
    f.at_s = from_option("--fail-at", text, [&] { return common::parse_duration_s(text.substr(0, colon)); });
    f.spec = text.substr(colon + 1);
    from_option("--fail-at", text, [&] {
      models::Fabric probe = fabric;
      probe.fail(f.spec);
    });
    ropt.failures.push_back(std::move(f));
  }
  // With failures at a time, engine links are the fabric's own (no groups), so that the networks before and after a
  // failure number them alike.
  r.net = std::make_unique<models::Network>(fabric, collectives::payload_efficiency(fabric), ropt.failures.empty());
  const models::Network& net = *r.net;
  std::vector<emulator::Job>& jobs = r.jobs;
  std::vector<std::uint8_t> taken(net.num_gpus(), 0);
  std::vector<models::PlacementSpec>& placements = r.placements;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const traces::Trace& t = traces_store[k];
    const JobSpec& j = specs[k];
    const std::string opt = j.option == "--placement" ? "--placement" : "--job";
    const std::string value = j.option == "--placement" ? j.placement : j.option.substr(6);
    placements.push_back(from_option(opt, value, [&] { return models::parse_placement_spec(j.placement); }));
    if (t.world_size > net.num_gpus())
      throw common::InputError(t.source, std::to_string(t.world_size) + " ranks but the fabric (" + o.topo + ") has " +
                                             std::to_string(net.num_gpus()) + " GPUs");
    emulator::Job job;
    job.name = j.name;
    job.trace = &t;
    job.compute_scale = o.compute_scale * fabric.layout.compute_time;  // --compute-scale times gpu.compute_time
    if (k == 0) job.slow_ranks = slow_ranks;
    // A placement file's errors name the file and line; the others the option they came from.
    auto place = [&] { return models::place_job(fabric, static_cast<int>(t.world_size), placements.back(), taken); };
    job.gpus = placements.back().kind == models::Placement::File ? place() : from_option(opt, value, place);
    for (models::NodeId g : job.gpus)
      if (g < taken.size()) taken[g] = 1;
    jobs.push_back(std::move(job));
  }
  const traces::Trace& trace = traces_store.front();

  const bool bar = !o.quiet && isatty(2);
  if (bar)
    ropt.progress = [&](const emulator::ReplayOptions::Progress& p) {
      const double frac = p.colls_total ? static_cast<double>(p.colls_done) / p.colls_total : 0;
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      const double eta = frac > 0 ? el * (1 - frac) / frac : 0;
      std::fprintf(stderr, "\r[%-30s] %5.1f%%  sim %s  collectives %zu/%zu  ETA %.0f s   ",
                   std::string(static_cast<std::size_t>(frac * 30), '#').c_str(), frac * 100,
                   seconds(p.sim_time_s).c_str(), p.colls_done, p.colls_total, eta);
      std::fflush(stderr);
    };
  if (!o.timeline.empty()) {
    // Of every job, --timeline-ranks ranks: one rank per program first (ranks that share a program are equivalent as
    // far as the trace goes), then in order.
    const auto want = static_cast<std::size_t>(o.timeline_ranks);
    auto pick = [&](const traces::Trace& t) {
      std::vector<std::uint32_t> out;
      std::vector<std::uint8_t> seen(t.programs.size(), 0), picked(t.world_size, 0);
      for (std::uint32_t r = 0; r < t.world_size && out.size() < want; ++r)
        if (!seen[t.program_of_rank[r]]++) out.push_back(r), picked[r] = 1;
      for (std::uint32_t r = 0; r < t.world_size && out.size() < want; ++r)
        if (!picked[r]) out.push_back(r);
      return out;
    };
    ropt.record_ranks = pick(trace);
    for (std::uint32_t k = 1; k < traces_store.size(); ++k)
      for (std::uint32_t r : pick(traces_store[k])) ropt.record_job_ranks.push_back({k, r});
  }
  if (o.record_measured) {
    ropt.record_ranks.clear();
    for (std::uint32_t rk = 0; rk < trace.measured.size(); ++rk)
      if (!trace.measured[rk].empty()) ropt.record_ranks.push_back(rk);
  }
  r.failures = ropt.failures;
  r.rep = emulator::replay(net, jobs, ropt);
  if (bar) std::fprintf(stderr, "\r%100s\r", "");
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  r.sum = analysis::summarize_step(r.rep, net, std::max(o.top, 1000));
}

}  // namespace collemu::cli
