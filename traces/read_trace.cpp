#include "traces/read_trace.hpp"

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
       [](const std::vector<std::string>& paths, ReadReport*) { return read_hdf5_trace(paths.front()); }},
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

Trace read_trace(const std::vector<std::string>& files, std::string_view format, ReadReport* report) {
  if (files.empty()) throw InputError("", "no trace file given");
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
    Trace t = e.read(files, report ? report : &local);
    return t;
  }
  throw InputError("format '" + name + "'", "unknown trace format; expected " + trace_format_names());
}

}  // namespace collemu::traces
