// The tables nccl-tests prints (src/common.cu: writeDeviceReport, writeResultHeader, the result rows), read back as
// measurements: what `collemu calibrate --nccl-tests` fits a fabric to.
//
// What a log says: the program ("# Collective test starting: all_reduce_perf", nccl-tests 2.13 and later), the ranks
// ("#  Rank  3 Group  0 Pid ... device  3 [...] NVIDIA H100 80GB HBM3", one line per rank), and one row per size:
// size (B), count (elements), type, redop, root, then out-of-place time (us), algbw and busbw (GB/s) and #wrong (or
// N/A), then the same four in place. srun's "--label" prefix ("0: ") is accepted; other lines (NCCL INFO, MPI
// warnings) are skipped. Out-of-place times are taken, as docs/accuracy.md's points are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/collective.hpp"

namespace collemu::analysis {

struct NcclTestsRow {
  double bytes = 0;         // nccl-tests' size column
  std::int64_t count = 0;   // elements
  std::string type, redop;
  int type_bytes = 4;       // the element size of `type` (nccl-tests' datatype names)
  int root = -1;
  double time_s = 0;        // out-of-place (0 only in a 0-byte row)
  double algbw_GBps = 0, busbw_GBps = 0;
  int line = 0;
};

struct NcclTestsLog {
  std::string path;
  std::string program;                  // "all_reduce_perf"; empty when the log does not say
  std::optional<common::CollKind> op;   // from the program
  int ranks = 0;                        // "# Rank" lines; 0 when the log has none
  std::string gpu;                      // the first rank's device name, as printed
  std::vector<NcclTestsRow> rows;
};

// The collective of a nccl-tests program ("all_reduce_perf" -> AllReduce, ..., "sendrecv_perf"); nullopt for the
// ones collemu does not model (hypercube_perf, gather_perf, scatter_perf).
std::optional<common::CollKind> nccl_tests_program_op(const std::string& program);

// Reads a log. Throws common::InputError naming the file and line: a row that is truncated, of a datatype nccl-tests
// does not have, or whose algbw is not its size over its time (not nccl-tests' columns), a row with wrong elements (#wrong above 0: the run was broken), two
// "# Rank" lines with the same rank (nccl-tests built without MPI, every process rank 0), a program collemu does not
// model, no result row.
NcclTestsLog read_nccl_tests_log(const std::string& path);

// Checks a log against the collective and rank count it is compared with: the program's collective, the "# Rank"
// count, and every row's busbw / algbw (nccl-tests' factor of the collective and rank count, which tells both even
// when the header is missing). Throws common::InputError naming the file and line of the first mismatch.
void check_nccl_tests_log(const NcclTestsLog& log, common::CollKind op, int ranks);

}  // namespace collemu::analysis
