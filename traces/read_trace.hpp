// One entry point for every trace format: the table of formats (name, how its contents look, its reader), and
// read_trace(files, format), which tells the format from the first bytes of each file when asked to ("auto"). The
// replay and the CLI read traces only through here. In the HDF5 target (collemu_traces_hdf5), as it reads .h5 too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "traces/trace.hpp"

namespace collemu::traces {

struct TraceFormat {
  const char* name;         // "collemu", "chakra", "kineto", "flight-recorder", "nccl-log"
  const char* description;  // for help texts
  bool one_file;            // the format holds every rank in one file (collemu .h5)
};
// Every format read_trace knows, in the order "auto" tries them.
const std::vector<TraceFormat>& trace_formats();
// "auto, collemu, chakra, ..." for messages and help texts.
std::string trace_format_names();

// A job with ranks that no file holds (rank files missing from a set, a member's log missing): refused unless the
// caller reads part of a job on purpose.
class PartialTraceError : public common::InputError {
 public:
  using common::InputError::InputError;
};

// Reads a job's trace from `files` in `format` (a name of trace_formats(), or "auto": from each file's contents; every
// file must then be of the same format). Warnings go to `report` when given. Throws common::InputError naming the file
// for a file whose format cannot be told or that is of another format than the others, an unknown format name,
// several files of a one-file format, or the same file given twice (by another name or link too); and whatever the
// format's reader throws for bad contents. A trace whose ranks are not all in the files (Chakra files 0, 1, 2 and 4:
// rank 3 has none; one Kineto file of a 128-rank job) throws PartialTraceError naming the missing ranks, unless
// `allow_partial`: then a warning names them. A rank whose file holds no op gets a warning.
Trace read_trace(const std::vector<std::string>& files, std::string_view format = "auto", ReadReport* report = nullptr,
                 bool allow_partial = false);
// "3, 5-7, 10": ranks (sorted) as ranges, at most `max_items` items then "... (N in all)".
std::string rank_ranges(const std::vector<std::uint32_t>& ranks, std::size_t max_items = 12);

}  // namespace collemu::traces
