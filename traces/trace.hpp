// Trace: what each rank of a job did, as far as the network is concerned (DESIGN.md §5).
//
// A trace has communicators (their member ranks, in communicator-rank order) and, per rank, a program: an ordered
// list of ops. An op is compute (a duration), a collective on a communicator (kind, element count and type, root,
// its sequence number on the communicator), or a send/receive with a peer. Ops of a rank run in order unless `deps`
// says otherwise (indices of earlier ops of the same rank that must finish first; empty: the op before it). A program
// marked `dag` (from a source with explicit dependencies, such as Chakra) lists every dependency: empty deps mean
// the op may start at once.
//
// Symmetry: ranks that run the same program share it. `program_of_rank` maps a rank to one of `programs`, so a
// 32,768-rank trace of a 3D-parallel step holds a few programs. A program's ops name communicators by *slot*
// (0, 1, ...), and `comm_of_slot` maps (rank, slot) to a communicator, so that the ranks of different TP groups
// share a program while naming different groups.
//
// Depends on common/ only: no fabric, no NCCL algorithm.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/collective.hpp"

namespace collemu::traces {

enum class OpKind : std::uint8_t { Compute, Collective, Send, Recv };
const char* to_string(OpKind k);

struct Op {
  OpKind kind = OpKind::Compute;
  common::CollKind coll = common::CollKind::AllReduce;  // Collective only
  common::DataType dtype = common::DataType::Uint8;
  std::uint32_t comm_slot = 0;  // Collective, Send, Recv: the communicator, by the rank's slot
  std::uint64_t count = 0;      // elements (NCCL's count argument: per rank for AllGather's send buffer, ...)
  std::int32_t root = -1;       // Broadcast, Reduce: root in the communicator; Send/Recv: the peer (communicator rank)
  std::uint64_t seq = 0;        // Collective: sequence number on the communicator, as the source numbers it
  double duration_s = 0;        // Compute: how long; others: observed duration when the source has it (else 0)
  double start_s = -1;          // observed start time when the source has it (else -1)
  std::vector<std::uint32_t> deps;  // earlier ops of the rank that must finish first; empty: the previous op (or none
                                    // in a `dag` program)
  double bytes() const { return static_cast<double>(count) * common::size_bytes(dtype); }
};

struct Communicator {
  std::string name;                 // the source's name for it (process group, comm pointer), for messages
  std::vector<std::uint32_t> ranks; // global ranks, in communicator-rank order
  std::uint32_t declared_size = 0;  // the size the source says it has (may exceed ranks.size() in a partial trace)
};

struct Program {
  std::vector<Op> ops;
  bool dag = false;  // deps are complete (empty: no dependency), not "the previous op"
};

// What the source observed of one op of one rank: when it started and how long it took (a kernel's span, a Flight
// Recorder entry's start and duration, an NCCL capture's timestamp). start_s -1 and duration_s 0: not observed.
struct OpTime {
  double start_s = -1, duration_s = 0;
  bool observed() const { return start_s >= 0 || duration_s > 0; }
};

struct Trace {
  std::string source;  // files it came from, for messages
  std::uint32_t world_size = 0;
  std::vector<Communicator> comms;
  std::vector<Program> programs;
  std::vector<std::uint32_t> program_of_rank;          // size world_size
  std::vector<std::vector<std::uint32_t>> comm_of_slot;  // [rank][slot] -> index into comms
  std::vector<std::string> rank_names;  // where each rank came from ("host:pid [dev]", a file); may be empty
  // Measured times beside the shared programs: measured[rank][i] for op i of the rank's program; empty when the source
  // has none (and measured[rank] empty for a rank without any). Programs hold what the replay needs (compute
  // durations); what was observed of each rank's communication stays here, per rank, so that ranks whose measurements
  // differ still share their program (separate_measurements).
  std::vector<std::vector<OpTime>> measured;
  bool has_measured() const;

  // For readers: one empty program per rank (rank r runs program r), named `name` until a source names it.
  void reset_ranks(std::uint32_t world, const std::string& name = "no file");
  // The rank's slot for communicator `comm`, added when the rank has none yet.
  std::uint32_t slot_for(std::uint32_t rank, std::uint32_t comm);

  const Program& program(std::uint32_t rank) const { return programs[program_of_rank[rank]]; }
  const Communicator& comm(std::uint32_t rank, std::uint32_t slot) const { return comms[comm_of_slot[rank][slot]]; }
  std::string rank_name(std::uint32_t rank) const;
};

// The largest op a trace may hold, B: the same bound for every reader (and `collemu coll`'s sizes): 1e18 B, a million
// times the largest collective of a training step.
inline constexpr double kMaxOpBytes = 1e18;

// The most ranks a trace may have (2,097,152): readers refuse larger world sizes and ranks rather than allocate for
// them (a corrupt number must not exhaust memory).
inline constexpr std::uint32_t kMaxRanks = 1u << 21;

// What a reader reports beside the trace: records read, and warnings ("file:line: ...") for records skipped or
// assumptions made.
struct ReadReport {
  std::size_t lines = 0;    // lines read (text formats)
  std::size_t records = 0;  // records turned into ops (where the reader counts them)
  std::vector<std::string> warnings;
};

// A whole decimal number from text, or nullopt when it is not one or does not fit (readers' guard against overflow).
std::optional<std::uint64_t> parse_decimal(std::string_view text);

// Send and Recv are their own op kinds; every other communication kind is a collective.
OpKind op_kind_of(common::CollKind k);
// "a, b, c": the files a trace came from.
// The files of a trace, for messages: up to three in full, more as "FIRST ... LAST (N files)".
std::string join_paths(const std::vector<std::string>& paths);

// Moves what readers wrote into ops as observations (every op's start_s; a collective's, send's or receive's
// duration_s) into t.measured, per rank, and clears them in the programs (a compute op keeps its duration: the replay
// runs it). Ranks that share a program each get their own copy of its observations. Idempotent.
void separate_measurements(Trace& t);

// Merges ranks whose programs are identical into one program (symmetry), after separate_measurements (so that
// measured times do not keep ranks apart); keeps everything else.
void share_identical_programs(Trace& t);

// Gives each rank that has no op (a partial job: one Kineto file of two) the program of the lowest rank that has ops
// and whose communicators all have it as a member, on the same slots: the symmetry of data-parallel ranks, an
// assumption the caller states. Its measured times stay empty. Returns the ranks filled; throws common::InputError
// naming a rank that no rank with ops can stand for (a communicator of every candidate lacks it).
std::vector<std::uint32_t> fill_missing_ranks(Trace& t);

// Throws common::InputError naming the ranks and op indices when the ranks of a communicator would not agree in the
// real job (it would hang or fail): the n-th collective on a communicator differs in kind, count, data type or root
// between two of its ranks (all-to-all: in kind only, its sizes may differ per rank), or one rank has more collectives on it than another; a send without its receive.
// Also checks structure: slots, ranks and deps in range.
void check_consistency(const Trace& t);

}  // namespace collemu::traces
