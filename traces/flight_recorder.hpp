// PyTorch NCCL Flight Recorder dumps (TORCH_NCCL_TRACE_BUFFER_SIZE, JSON: TORCH_NCCL_DEBUG_INFO_PICKLE=0), one file per
// rank, as a Trace.
//
// A dump: {"version", "rank"?, "pg_config": {pg: {"name", "desc", "ranks": "[0, 1]"}}, "pg_status", "entries": [...]};
// an entry: "pg_id" or "process_group" [name, desc], "collective_seq_id", "p2p_seq_id", "profiling_name"
// ("nccl:all_reduce"; "nccl:send R->P" and "nccl:recv R<-P" with ranks R, P in the group), "input_sizes", "input_dtypes", "output_sizes", "state",
// "time_created_ns", "time_discovered_started_ns", "time_discovered_completed_ns", "duration_ms", "is_p2p" (FABRIC.md).
// The rank: the dump's "rank", else the number after "rank_" or "rank-" in the file name, else the file's position.
// Elements: the first input tensor's (ReduceScatter: the first output's), as NCCL's count argument.
#pragma once

#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace collemu::traces {

// Throws common::InputError naming the file and entry index for malformed dumps (not JSON, wrong JSON types, negative
// sizes, unknown collectives, an unknown process group, a rank twice).
Trace read_flight_recorder(const std::vector<std::string>& paths, ReadReport* report = nullptr);

bool looks_like_flight_recorder(const std::string& head);

}  // namespace collemu::traces
