#include "traces/read_trace.hpp"

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "common/error.hpp"
#include "traces/chakra.hpp"
#include "traces/flight_recorder.hpp"
#include "traces/hdf5_trace.hpp"
#include "traces/kineto.hpp"
#include "traces/nccl_log.hpp"

namespace collemu::traces {

using common::InputError;

namespace {

struct Entry {
  TraceFormat format;
  bool (*looks_like)(const std::string& head, const std::string& path);
  Trace (*read)(const std::vector<std::string>& paths, ReadReport* report);
};

// The formats, in the order their signatures are tried (the most specific first).
const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = {
      {{"collemu", "collemu's HDF5 trace (.h5, every rank in one file)", true},
       [](const std::string& head, const std::string&) { return looks_like_hdf5(head); },
       [](const std::vector<std::string>& paths, ReadReport* report) {
         // Messages about the trace (consistency, bounds) name this file; where it was converted from follows.
         Trace t = read_hdf5_trace(paths.front(), report);
         const std::string& path = paths.front();
         t.source = t.source.empty() || t.source == path ? path : path + " (converted from " + t.source + ")";
         return t;
       }},
      {{"chakra", "Chakra execution traces (.et, one per rank)", false}, looks_like_chakra, read_chakra},
      {{"kineto", "PyTorch profiler (Kineto) JSON (.json, .json.gz, one per rank)", false},
       [](const std::string& head, const std::string&) { return looks_like_kineto(head); }, read_kineto},
      {{"flight-recorder", "PyTorch NCCL Flight Recorder JSON dumps (one per rank)", false},
       [](const std::string& head, const std::string&) { return looks_like_flight_recorder(head); },
       read_flight_recorder},
      {{"nccl-log", "NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL,INIT logs", false},
       [](const std::string& head, const std::string&) { return looks_like_nccl_log(head); }, read_nccl_logs},
  };
  return entries;
}

}  // namespace

const std::vector<TraceFormat>& trace_formats() {
  static const std::vector<TraceFormat> formats = [] {
    std::vector<TraceFormat> out;
    for (const Entry& e : table()) out.push_back(e.format);
    return out;
  }();
  return formats;
}

std::string trace_format_names() {
  std::string out = "auto";
  for (const TraceFormat& f : trace_formats()) out += std::string(", ") + f.name;
  return out;
}

std::string rank_ranges(const std::vector<std::uint32_t>& ranks, std::size_t max_items) {
  std::string out;
  std::size_t items = 0;
  for (std::size_t i = 0; i < ranks.size();) {
    std::size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (items == max_items) {
      out += ", ... (" + std::to_string(ranks.size()) + " in all)";
      break;
    }
    out += (out.empty() ? "" : ", ") + std::to_string(ranks[i]);
    if (j > i) out += "-" + std::to_string(ranks[j]);
    ++items;
    i = j + 1;
  }
  return out;
}

namespace {

// The same file twice, by the same name, another spelling of it or a link to it: its ranks would be read twice.
void refuse_repeated_files(const std::vector<std::string>& files) {
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> seen;  // (device, inode) -> first name
  for (const auto& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) continue;  // the reader says what is wrong with it
    auto [it, fresh] = seen.emplace(std::pair<std::uint64_t, std::uint64_t>{st.st_dev, st.st_ino}, f);
    if (!fresh)
      throw InputError(f, it->second == f ? "given twice; give each rank's file once"
                                          : "the same file as " + it->second + "; give each rank's file once");
  }
}

// Readers name a rank that no file holds "no file" (Trace::reset_ranks) or "no log: ..." (an NCCL communicator's
// member without a log).
bool rank_without_file(const Trace& t, std::uint32_t r) {
  if (r >= t.rank_names.size()) return false;
  const std::string& n = t.rank_names[r];
  return n == "no file" || n.rfind("no log:", 0) == 0;
}

// Bounds every reader shares: an op's size at most kMaxOpBytes, times finite and >= 0 (an "inf" duration would print
// "inf s"; a count past 1e18 B would overflow what the replay adds up). Named by the rank's file, rank and op.
void check_ops(const Trace& t, const std::string& where) {
  std::vector<std::uint8_t> seen(t.programs.size(), 0);
  for (std::uint32_t r = 0; r < t.world_size; ++r) {
    const std::uint32_t p = t.program_of_rank[r];
    if (seen[p]++) continue;
    const auto& ops = t.programs[p].ops;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const Op& o = ops[i];
      const std::string what = t.rank_name(r) + " op " + std::to_string(i) + " (" + to_string(o.kind) + ")";
      if (o.kind != OpKind::Compute && !(o.bytes() <= kMaxOpBytes))
        throw InputError(where, what + ": " + std::to_string(o.count) + " elements of " +
                                    std::to_string(common::size_bytes(o.dtype)) + " B; expected at most 1e18 B");
      if (!std::isfinite(o.duration_s) || o.duration_s < 0)
        throw InputError(where, what + ": duration " + std::to_string(o.duration_s) + " s; expected a finite time >= 0");
      if (!std::isfinite(o.start_s))
        throw InputError(where, what + ": start " + std::to_string(o.start_s) + " s; expected a finite time");
    }
  }
}

void check_whole_job(const Trace& t, const std::string& where, ReadReport& report, bool allow_partial) {
  std::vector<std::uint32_t> missing;
  for (std::uint32_t r = 0; r < t.world_size; ++r)
    if (rank_without_file(t, r)) missing.push_back(r);
    else if (t.program(r).ops.empty())
      report.warnings.push_back((r < t.rank_names.size() && !t.rank_names[r].empty() ? t.rank_names[r] : where) +
                                ": rank " + std::to_string(r) + " has no op (an empty dump?)");
  if (missing.empty()) return;
  const std::string what = std::to_string(missing.size()) + " of the job's " + std::to_string(t.world_size) +
                           (missing.size() == 1 ? " ranks is" : " ranks are") + " in no file: " + rank_ranges(missing);
  if (!allow_partial)
    throw PartialTraceError(where, what + "; give every rank's file (a partial job is read only when asked for)");
  report.warnings.push_back(where + ": a partial job: " + what);
}

}  // namespace

Trace read_trace(const std::vector<std::string>& files, std::string_view format, ReadReport* report,
                 bool allow_partial) {
  if (files.empty()) throw InputError("", "no trace file given");
  refuse_repeated_files(files);
  std::string name(format);
  if (name == "auto") {
    // From the contents of each file; every file must then be of the first one's format.
    name.clear();
    for (const auto& f : files) {
      const std::string head = read_maybe_gzip(f, 4096);
      std::string mine;
      for (const Entry& e : table())
        if (e.looks_like(head, f)) {
          mine = e.format.name;
          break;
        }
      if (mine.empty() && (head.find("\"workload_graph\"") != std::string::npos ||
                           head.find("\"schema\"") != std::string::npos))
        throw InputError(f, "a Chakra or PyTorch execution trace in JSON: collemu reads Chakra's protobuf files (.et, "
                            "one per rank, as chakra_converter writes them), not their JSON form");
      if (mine.empty())
        throw InputError(f, "cannot tell the trace format from the contents; give the format (" +
                                trace_format_names().substr(6) + ")");
      if (!name.empty() && mine != name)
        throw InputError(f, "a " + mine + " file among " + name + " files; read one format at a time");
      name = mine;
    }
  }
  for (const Entry& e : table()) {
    if (name != e.format.name) continue;
    if (e.format.one_file && files.size() != 1)
      throw InputError(files[1], std::string("one ") + e.format.name + " trace at a time (it holds every rank)");
    ReadReport local;
    ReadReport& rep = report ? *report : local;
    Trace t = e.read(files, &rep);
    // Named by the files read (a .h5 trace's `source` is where it was converted from).
    const std::string where = join_paths(files);
    check_ops(t, where);
    check_whole_job(t, where, rep, allow_partial);
    return t;
  }
  throw InputError("format '" + name + "'", "unknown trace format; expected " + trace_format_names());
}

}  // namespace collemu::traces
