// PyTorch profiler (Kineto, Chrome-trace JSON) files as a Trace: one file per rank, `.json` or `.json.gz`.
//
// Where the rank comes from: the file's top-level "distributedInfo" {rank, world_size, pg_config}.
// Communication ops, from the newest metadata the file has:
//  - NCCL kernels (cat "kernel", name "ncclKernel_..." or "ncclDevKernel_...") whose args carry "Collective name",
//    "In msg nelems", "Out msg nelems", "dtype", "Process Group Name", "Process Group Ranks" (PyTorch >= 2.1), with
//    "Src Rank"/"Dst Rank" on sends and receives;
//  - otherwise the CPU annotations "nccl:<op>" (user_annotation) with "Input Dims" and "Input type" (older PyTorch):
//    the op's elements are those of its first tensor (an AllGather's output: divided by the group size), on the
//    default process group.
// NCCL's count argument: AllGather the elements sent by each rank, ReduceScatter those each receives, the others the
// buffer's elements.
// Compute: before each communication op, the time the GPU spent in other kernels since the previous one ended (the
// union of their intervals on that device), as one compute op.
#pragma once

#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace collemu::traces {

// Throws common::InputError naming the file (and the event index where it applies) for unreadable or malformed files:
// not JSON, no "traceEvents" array, wrong JSON types in the fields used, unknown collective names, negative sizes,
// two files for one rank, ranks outside world_size.
Trace read_kineto(const std::vector<std::string>& paths, ReadReport* report = nullptr);

// Whether the text (a file's first kilobytes, decompressed) looks like a Kineto trace.
bool looks_like_kineto(const std::string& head);

// A file's bytes, gunzipped when it starts with the gzip magic. Throws common::InputError naming the file.
std::string read_maybe_gzip(const std::string& path, std::size_t limit = 0);

}  // namespace collemu::traces
