// NCCL COLL logs (NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL, and INIT for communicator identities) as a Trace.
//
// A record: `<host>:<pid>:<tid> [<cudaDev>] NCCL INFO <Coll>: opCount <hex> sendbuff <ptr> recvbuff <ptr> count <n>
// datatype <d> op <o> root <r> comm <ptr> [nranks=<n>] stream <ptr>` (FABRIC.md), with the variants of
// shared/data/README.md §4: prefixes before the host (Ray, timestamps), trailing spaces, records of two processes on
// one line, `(nil)` buffers, RCCL's `task N globalrank N`, other INFO lines in between.
//
// Ranks: one per (host, pid, cudaDev), ordered by RCCL's globalrank where every record has one, otherwise by first
// appearance over the files in the order given. Communicators: a comm pointer is local to its process; the same
// communicator in different processes is recognised by the commId of NCCL's "Init COMPLETE" lines (with each
// member's rank in it). Without Init lines, the k-th communicator of size n that each process uses is taken to be
// the same one when exactly n processes have it; when more do, they are split into groups of n consecutive ranks
// (a warning says so).
#pragma once

#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace collemu::traces {

// Throws common::InputError naming the file and line for a record that cannot be read (a missing or malformed
// field, an unknown collective or data type) and for files that cannot be opened.
Trace read_nccl_logs(const std::vector<std::string>& paths, ReadReport* report = nullptr);

// Whether the text (a file's first kilobytes) looks like an NCCL log.
bool looks_like_nccl_log(const std::string& head);

}  // namespace collemu::traces
