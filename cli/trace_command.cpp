#include "cli/trace_command.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "traces/hdf5_trace.hpp"
#include "traces/info.hpp"
#include "traces/kineto.hpp"
#include "traces/nccl_log.hpp"

namespace collemu::cli {

namespace {

struct InfoOptions {
  std::vector<std::string> files;
  std::string format = "auto";
  bool json = false;
  bool no_check = false;
};

traces::Trace load(const InfoOptions& o, std::vector<std::string>& warnings) {
  std::string format = o.format;
  if (format == "auto") {
    // From the contents of the first file; every file must then be of that format.
    for (const auto& f : o.files) {
      const std::string head = traces::read_maybe_gzip(f, 4096);
      const std::string mine = traces::looks_like_hdf5(head)       ? "collemu"
                               : traces::looks_like_kineto(head)   ? "kineto"
                               : traces::looks_like_nccl_log(head) ? "nccl-log"
                                                                   : "";
      if (mine.empty())
        throw common::InputError(f, "cannot tell the trace format from the contents; give --format (collemu, kineto, nccl-log)");
      if (format != "auto" && mine != format)
        throw common::InputError(f, "a " + mine + " file among " + format + " files; read one format at a time");
      format = mine;
    }
  }
  if (format == "collemu") {
    if (o.files.size() != 1)
      throw common::InputError(o.files[1], "one collemu HDF5 trace at a time (it holds every rank)");
    return traces::read_hdf5_trace(o.files[0]);
  }
  if (format == "nccl-log") {
    traces::NcclLogReport rep;
    auto t = traces::read_nccl_logs(o.files, &rep);
    warnings = rep.warnings;
    return t;
  }
  if (format == "kineto") {
    traces::KinetoReport rep;
    auto t = traces::read_kineto(o.files, &rep);
    warnings = rep.warnings;
    return t;
  }
  throw common::InputError("--format " + format, "unknown trace format; expected auto, collemu, kineto or nccl-log");
}

void info(const InfoOptions& o) {
  std::vector<std::string> warnings;
  const traces::Trace t = load(o, warnings);
  if (!o.no_check) traces::check_consistency(t);
  const auto s = traces::summarize(t);
  if (o.json) {
    nlohmann::json j;
    j["source"] = t.source;
    j["ranks"] = s.ranks;
    j["programs"] = s.programs;
    j["ops"] = s.ops;
    nlohmann::json comms = nlohmann::json::array();
    for (const auto& c : t.comms)
      comms.push_back({{"name", c.name}, {"size", c.declared_size}, {"ranks", c.ranks}});
    j["communicators"] = comms;
    nlohmann::json kinds = nlohmann::json::object();
    for (int k = 0; k < common::kNumCollKinds; ++k)
      if (s.by_coll[k].ops)
        kinds[common::to_string(static_cast<common::CollKind>(k))] = {{"ops", s.by_coll[k].ops},
                                                                       {"bytes", s.by_coll[k].bytes}};
    if (s.compute.ops) kinds["compute"] = {{"ops", s.compute.ops}, {"seconds", s.compute_s}};
    j["by_kind"] = kinds;
    nlohmann::json ranks = nlohmann::json::array();
    for (std::uint32_t r = 0; r < s.ranks; ++r)
      ranks.push_back({{"rank", r},
                       {"name", r < t.rank_names.size() ? t.rank_names[r] : ""},
                       {"ops", s.per_rank[r].ops},
                       {"comm_bytes", s.per_rank[r].comm_bytes},
                       {"compute_s", s.per_rank[r].compute_s}});
    j["per_rank"] = ranks;
    j["warnings"] = warnings;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("trace %s: %u ranks, %zu distinct programs, %zu ops\n", t.source.c_str(), s.ranks, s.programs, s.ops);
  std::printf("\ncommunicators %zu:\n", t.comms.size());
  for (const auto& c : t.comms) {
    std::string members;
    for (std::size_t i = 0; i < c.ranks.size() && i < 16; ++i) members += (i ? "," : "") + std::to_string(c.ranks[i]);
    if (c.ranks.size() > 16) members += ",...";
    std::printf("  %-28s size %u, ranks in the trace %zu: %s\n", c.name.c_str(), c.declared_size, c.ranks.size(),
                members.c_str());
  }
  std::printf("\n%-14s %12s %18s\n", "kind", "ops", "bytes");
  for (int k = 0; k < common::kNumCollKinds; ++k)
    if (s.by_coll[k].ops)
      std::printf("%-14s %12llu %18.0f\n", common::to_string(static_cast<common::CollKind>(k)),
                  static_cast<unsigned long long>(s.by_coll[k].ops), s.by_coll[k].bytes);
  if (s.compute.ops)
    std::printf("%-14s %12llu %15.6f s\n", "compute", static_cast<unsigned long long>(s.compute.ops), s.compute_s);
  std::printf("\n%-6s %-28s %10s %18s %12s\n", "rank", "from", "ops", "comm bytes", "compute s");
  for (std::uint32_t r = 0; r < s.ranks && r < 64; ++r)
    std::printf("%-6u %-28s %10llu %18.0f %12.6f\n", r, r < t.rank_names.size() ? t.rank_names[r].c_str() : "",
                static_cast<unsigned long long>(s.per_rank[r].ops), s.per_rank[r].comm_bytes, s.per_rank[r].compute_s);
  if (s.ranks > 64) std::printf("... (%u ranks; --json lists them all)\n", s.ranks);
  for (const auto& w : warnings) std::fprintf(stderr, "collemu: warning: %s\n", w.c_str());
}

struct ConvertOptions {
  InfoOptions in;
  std::string out;
};

void convert(const ConvertOptions& o) {
  std::vector<std::string> warnings;
  traces::Trace t = load(o.in, warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "collemu: warning: %s\n", w.c_str());
  if (!o.in.no_check) traces::check_consistency(t);
  traces::share_identical_programs(t);
  traces::write_hdf5_trace(t, o.out);
  std::printf("wrote %s: %u ranks, %zu programs, %zu communicators\n", o.out.c_str(), t.world_size, t.programs.size(),
              t.comms.size());
}

}  // namespace

void add_trace_command(CLI::App& app) {
  CLI::App* trace = app.add_subcommand("trace", "Read traces of what each rank did (NCCL COLL logs, ...)");
  trace->require_subcommand(1);
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = trace->add_subcommand(
      "info", "Ranks, communicators, op counts and bytes by kind, per-rank totals; checks that the ranks of every "
              "communicator agree (a mismatch would hang the real job)");
  cmd->add_option("files", o->files, "trace files: PyTorch profiler (Kineto) JSON, one per rank, or NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL,INIT logs")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", o->format, "auto (from the contents), kineto (PyTorch profiler JSON, .json or .json.gz, one file per rank) or nccl-log");
  cmd->add_flag("--no-check", o->no_check, "do not check that the ranks of each communicator agree");
  cmd->add_flag("--json", o->json, "one JSON object");
  cmd->callback([o] { info(*o); });

  auto c = std::make_shared<ConvertOptions>();
  CLI::App* conv = trace->add_subcommand(
      "convert", "Read traces (any format `trace info` reads) and write collemu's HDF5 trace (docs/trace-format.md)");
  conv->add_option("files", c->in.files, "input trace files")->required()->check(CLI::ExistingFile);
  conv->add_option("-o,--output", c->out, "the .h5 file to write (atomically)")->required();
  conv->add_option("--format", c->in.format, "input format: auto, collemu, kineto or nccl-log");
  conv->add_flag("--no-check", c->in.no_check, "convert even when the ranks of a communicator disagree");
  conv->callback([c] { convert(*c); });
}

}  // namespace collemu::cli
