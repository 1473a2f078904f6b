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

// Writes one Chakra ET file per rank, `dir`/`stem`.<rank>.et (the directory is made when missing; each file written
// atomically), so that the same step runs on ASTRA-sim: compute ops as COMP_NODE (duration_micros: whole
// microseconds, rounded), collectives as COMM_COLL_NODE (comm_type, comm_size in bytes as ASTRA-sim reads it: a
// reduce-scatter's the whole buffer, an all-gather's the rank's part; pg_name, numbered from 1, for a communicator
// that is not every rank; involved_dim), sends and receives as COMM_SEND_NODE / COMM_RECV_NODE (comm_src, comm_dst as
// global ranks, comm_size, comm_tag: the n-th transfer between the pair on the communicator), every dependency as a
// data_dep (the op before, for ops of a program that is not a DAG), and `dir`/comm_groups.json: every pg_name's ranks
// (ASTRA-sim's --comm-group-configuration). read_chakra reads them back as the same ops.
// Throws common::InputError naming the file that cannot be written. Returns the files written.
std::vector<std::string> write_chakra(const Trace& t, const std::string& dir, const std::string& stem = "trace");

// Whether a file's first bytes look like a Chakra stream (a small varint length, then GlobalMetadata).
bool looks_like_chakra(const std::string& head, const std::string& path);

}  // namespace collemu::traces
