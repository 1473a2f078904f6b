#include "analysis/nccl_tests_log.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "collectives/nccl.hpp"
#include "common/error.hpp"

namespace collemu::analysis {

using common::CollKind;
using common::InputError;

namespace {

std::string where(const std::string& path, int line) { return path + ":" + std::to_string(line); }

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

bool integer(const std::string& t, std::int64_t& v) {
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtoll(t.c_str(), &end, 10);
  return *end == '\0' && errno != ERANGE;
}
bool number(const std::string& t, double& v) {
  if (t.empty()) return false;
  char* end = nullptr;
  v = std::strtod(t.c_str(), &end);
  return *end == '\0' && std::isfinite(v);
}

// srun --label's "12: " before a line.
std::string unlabel(const std::string& line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  std::size_t j = i;
  while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j]))) ++j;
  if (j > i && j < line.size() && line[j] == ':') return line.substr(j + 1);
  return line;
}

const char* kColumns = "nccl-tests' columns: size count type redop root time algbw busbw #wrong (out of place), then "
                       "the same four in place";

}  // namespace

std::optional<CollKind> nccl_tests_program_op(const std::string& program) {
  static const std::pair<const char*, CollKind> kPrograms[] = {
      {"all_reduce_perf", CollKind::AllReduce},   {"all_gather_perf", CollKind::AllGather},
      {"reduce_scatter_perf", CollKind::ReduceScatter}, {"alltoall_perf", CollKind::AllToAll},
      {"broadcast_perf", CollKind::Broadcast},    {"reduce_perf", CollKind::Reduce},
      {"sendrecv_perf", CollKind::SendRecv}};
  std::string base = program.substr(program.find_last_of('/') + 1);
  for (const auto& [name, op] : kPrograms)
    if (base == name) return op;
  return std::nullopt;
}

NcclTestsLog read_nccl_tests_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the nccl-tests output");
  NcclTestsLog log;
  log.path = path;
  std::set<std::int64_t> ranks;
  std::string raw;
  for (int n = 1; std::getline(in, raw); ++n) {
    const std::string line = unlabel(raw);
    const auto t = split(line);
    if (t.empty()) continue;
    if (t[0] == "#") {
      if (t.size() >= 5 && t[1] == "Collective" && t[2] == "test" && t[3] == "starting:") {
        log.program = t[4];
        log.op = nccl_tests_program_op(t[4]);
        if (!log.op)
          throw InputError(where(path, n), "nccl-tests program '" + t[4] + "': expected one collemu models "
                           "(all_reduce_perf, all_gather_perf, reduce_scatter_perf, alltoall_perf, broadcast_perf, "
                           "reduce_perf, sendrecv_perf)");
      } else if (t.size() >= 3 && t[1] == "Rank") {
        std::int64_t r = 0;
        if (!integer(t[2], r) || r < 0) continue;
        if (!ranks.insert(r).second)
          throw InputError(where(path, n), "rank " + t[2] + " is listed twice: every process thinks it is alone "
                           "(nccl-tests built without MPI=1, or launched without mpirun); its figures are not the "
                           "job's");
        if (log.gpu.empty()) {
          const auto bracket = line.find(']');
          const auto name = bracket == std::string::npos ? std::string::npos : line.find_first_not_of(' ', bracket + 1);
          if (name != std::string::npos) log.gpu = line.substr(name);
        }
      }
      continue;
    }
    // A result row starts with two integers (size, count); anything else (NCCL INFO, MPI warnings) is not ours.
    std::int64_t size = 0, count = 0;
    if (t.size() < 2 || !integer(t[0], size) || !integer(t[1], count)) continue;
    NcclTestsRow row;
    row.line = n;
    std::int64_t root = 0;
    double time_us = 0;
    if (t.size() < 9 || !integer(t[4], root) || !number(t[5], time_us) || !number(t[6], row.algbw_GBps) ||
        !number(t[7], row.busbw_GBps))
      throw InputError(where(path, n), "a truncated or malformed result row; expected " + std::string(kColumns));
    std::int64_t wrong = 0;
    if (t[8] != "N/A" && !(integer(t[8], wrong) && wrong >= 0))
      throw InputError(where(path, n), "#wrong '" + t[8] + "': expected a count or N/A; " + kColumns);
    if (wrong > 0)
      throw InputError(where(path, n), std::to_string(wrong) + " wrong elements: the run was broken, its time is "
                       "not a measurement to fit");
    if (size < 0 || time_us < 0 || (time_us == 0 && size > 0))
      throw InputError(where(path, n), "size " + t[0] + " B in " + t[5] + " us: expected a size of at least 0 B and "
                       "a time above 0 us (0 only for a 0-byte row)");
    // nccl-tests prints algbw = size / time (GB/s, from the unrounded time) with 2 decimals and the time with 2, 1 or
    // 0 decimals (below 100, 1,000 and above): a row that disagrees by more than that rounding is not its columns.
    const double algbw = size ? static_cast<double>(size) / (time_us * 1e3) : 0.0;
    if (std::abs(algbw - row.algbw_GBps) > 0.0051 + 0.006 * algbw)
      throw InputError(where(path, n), "algbw " + t[6] + " GB/s is not size / time (" + std::to_string(algbw) +
                       " GB/s); expected " + kColumns);
    row.bytes = static_cast<double>(size);
    row.count = count;
    row.type = t[2];
    const auto dtype = common::parse_data_type(row.type);
    if (!dtype)
      throw InputError(where(path, n), "datatype '" + row.type + "': expected one of nccl-tests' (int8, uint8, int32, "
                       "uint32, int64, uint64, half, float, double, bfloat16, f8e4m3, f8e5m2)");
    row.type_bytes = common::size_bytes(*dtype);
    row.redop = t[3];
    row.root = static_cast<int>(root);
    row.time_s = time_us * 1e-6;
    log.rows.push_back(row);
  }
  if (log.rows.empty())
    throw InputError(path, "no nccl-tests result row; expected rows of " + std::string(kColumns));
  log.ranks = static_cast<int>(ranks.size());
  return log;
}

void check_nccl_tests_log(const NcclTestsLog& log, CollKind op, int ranks) {
  if (log.op && *log.op != op)
    throw InputError(log.path, "the log is " + log.program + " (" + common::to_string(*log.op) + "), not " +
                     common::to_string(op));
  if (log.ranks && log.ranks != ranks)
    throw InputError(log.path, "the log lists " + std::to_string(log.ranks) + " ranks, the fabric's job " +
                     std::to_string(ranks));
  const double factor = collectives::busbw_factor(op, ranks);
  for (const NcclTestsRow& r : log.rows) {
    if (r.algbw_GBps < 1) continue;  // 2 decimals: too few digits to tell the factor
    const double ratio = r.busbw_GBps / r.algbw_GBps;
    if (std::abs(ratio - factor) > 0.01 * factor + 0.006 / r.algbw_GBps * (1 + factor))
      throw InputError(where(log.path, r.line),
                       "busbw / algbw = " + std::to_string(ratio) + ", but " + common::to_string(op) + " on " +
                           std::to_string(ranks) + " ranks has nccl-tests' factor " + std::to_string(factor) +
                           ": the log is of another collective or rank count");
  }
}

}  // namespace collemu::analysis
