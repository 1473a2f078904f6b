// Chakra execution traces (the protobuf stream of ASTRA-sim and Meta): one `.et` file per rank, a varint-length-
// prefixed GlobalMetadata then Nodes (FABRIC.md; traces/chakra/et.proto is ours, compatible by field numbers).
//
// Rank: the number before ".et" in the file name (ASTRA-sim's "<name>.<rank>.et"), else the file's position.
// Nodes become ops in dependency order (ctrl_deps and data_deps, kept as the op's deps: a Chakra program is a DAG):
// COMP and other nodes are compute (duration_micros); COMM_COLL with a "comm_type" attribute is a collective of
// "comm_size" bytes (counted as uint8 elements); COMM_COLL without one (a CPU-side op) is compute; COMM_SEND/RECV are
// sends/receives to "comm_dst"/from "comm_src" (their "comm_type" is not trusted: ASTRA-sim's files put the node type
// there). The communicator: "pg_name" where nodes have it, else every rank of the trace.
#pragma once

#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace collemu::traces {

// Throws common::InputError naming the file and the byte offset or node for truncated or corrupt streams, unknown
// comm_type values, negative sizes, dependency cycles and a rank twice.
Trace read_chakra(const std::vector<std::string>& paths, ReadReport* report = nullptr);

// Whether a file's first bytes look like a Chakra stream (a small varint length, then GlobalMetadata).
bool looks_like_chakra(const std::string& head, const std::string& path);

}  // namespace collemu::traces
