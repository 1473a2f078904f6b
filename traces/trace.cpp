#include "traces/trace.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <tuple>

#include "common/error.hpp"

namespace collemu::traces {

using common::InputError;

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::Compute: return "compute";
    case OpKind::Collective: return "collective";
    case OpKind::Send: return "send";
    case OpKind::Recv: return "recv";
  }
  return "?";
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

void Trace::reset_ranks(std::uint32_t world, const std::string& name) {
  world_size = world;
  programs.assign(world, Program{});
  program_of_rank.resize(world);
  for (std::uint32_t r = 0; r < world; ++r) program_of_rank[r] = r;
  comm_of_slot.assign(world, {});
  rank_names.assign(world, name);
}

std::uint32_t Trace::slot_for(std::uint32_t rank, std::uint32_t comm) {
  auto& slots = comm_of_slot[rank];  // a handful per rank: a linear search
  for (std::uint32_t s = 0; s < slots.size(); ++s)
    if (slots[s] == comm) return s;
  slots.push_back(comm);
  return static_cast<std::uint32_t>(slots.size() - 1);
}

OpKind op_kind_of(common::CollKind k) {
  return k == common::CollKind::Send ? OpKind::Send : k == common::CollKind::Recv ? OpKind::Recv : OpKind::Collective;
}

std::string join_paths(const std::vector<std::string>& paths) {
  // Up to three names in full; a longer set as its first and last name and the count, so that a message about a
  // 1,024-file job does not open with 1,024 paths.
  if (paths.size() > 3) return paths.front() + " ... " + paths.back() + " (" + std::to_string(paths.size()) + " files)";
  std::string s;
  for (const auto& p : paths) s += (s.empty() ? "" : ", ") + p;
  return s;
}

std::string Trace::rank_name(std::uint32_t rank) const {
  std::string s = "rank " + std::to_string(rank);
  if (rank < rank_names.size() && !rank_names[rank].empty()) s += " (" + rank_names[rank] + ")";
  return s;
}

namespace {

auto op_key(const Op& o) {
  return std::tuple(o.kind, o.coll, o.dtype, o.comm_slot, o.count, o.root, o.seq, o.duration_s, o.start_s, o.deps);
}

std::string describe(const Op& o) {
  std::string s = o.kind == OpKind::Collective ? common::to_string(o.coll) : to_string(o.kind);
  s += " count " + std::to_string(o.count) + " " + common::to_string(o.dtype);
  if (o.kind == OpKind::Collective && (o.coll == common::CollKind::Broadcast || o.coll == common::CollKind::Reduce))
    s += " root " + std::to_string(o.root);
  if (o.kind == OpKind::Send || o.kind == OpKind::Recv) s += " peer " + std::to_string(o.root);
  return s;
}

}  // namespace

bool Trace::has_measured() const {
  for (const auto& m : measured)
    if (!m.empty()) return true;
  return false;
}

void separate_measurements(Trace& t) {
  bool any = false;
  for (const Program& p : t.programs)
    for (const Op& o : p.ops)
      any = any || o.start_s >= 0 || (o.kind != OpKind::Compute && o.duration_s > 0);
  if (!any) return;
  if (t.measured.size() != t.world_size) t.measured.resize(t.world_size);
  for (std::uint32_t r = 0; r < t.world_size && r < t.program_of_rank.size(); ++r) {
    if (t.program_of_rank[r] >= t.programs.size()) continue;  // check_consistency names it
    const auto& ops = t.program(r).ops;
    bool observed = false;
    std::vector<OpTime> times(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      // What readers observed must be times (the .h5 reader's rule for /measured): a start of -1 (none) or >= 0, a
      // finite duration >= 0. Checked here: read_trace's check of the ops runs after they have moved.
      const double st = ops[i].start_s, du = ops[i].duration_s;
      if (!std::isfinite(st) || (st < 0 && st != -1) || !std::isfinite(du) || du < 0)
        throw InputError(t.source, t.rank_name(r) + " op " + std::to_string(i) + " (" + to_string(ops[i].kind) +
                                       "): observed start " + std::to_string(st) + " s, duration " +
                                       std::to_string(du) + " s; expected finite times, a start >= 0 and a duration >= 0");
      times[i].start_s = ops[i].start_s;
      if (ops[i].kind != OpKind::Compute) times[i].duration_s = ops[i].duration_s;
      else if (ops[i].start_s >= 0) times[i].duration_s = ops[i].duration_s;
      observed = observed || times[i].observed();
    }
    if (observed) t.measured[r] = std::move(times);
  }
  for (Program& p : t.programs)
    for (Op& o : p.ops) {
      o.start_s = -1;
      if (o.kind != OpKind::Compute) o.duration_s = 0;
    }
}

std::vector<std::uint32_t> fill_missing_ranks(Trace& t) {
  std::vector<std::uint32_t> filled;
  for (std::uint32_t r = 0; r < t.world_size; ++r) {
    if (!t.program(r).ops.empty()) continue;
    bool done = false;
    for (std::uint32_t c = 0; c < t.world_size && !done; ++c) {
      if (t.program(c).ops.empty()) continue;
      bool member = true;
      for (std::uint32_t comm : t.comm_of_slot[c]) {
        const auto& ranks = t.comms[comm].ranks;
        member = member && std::find(ranks.begin(), ranks.end(), r) != ranks.end();
      }
      if (!member) continue;
      t.program_of_rank[r] = t.program_of_rank[c];
      t.comm_of_slot[r] = t.comm_of_slot[c];
      filled.push_back(r);
      done = true;
    }
    if (!done)
      throw InputError(t.source, t.rank_name(r) + " has no op and no rank with ops can stand for it: every candidate "
                       "is in a communicator that " + t.rank_name(r) + " is not a member of");
  }
  return filled;
}

void share_identical_programs(Trace& t) {
  separate_measurements(t);
  using Key = std::pair<bool, std::vector<decltype(op_key(Op{}))>>;
  std::map<Key, std::uint32_t> seen;
  std::vector<Program> programs;
  std::vector<std::uint32_t> remap(t.programs.size());
  for (std::size_t p = 0; p < t.programs.size(); ++p) {
    Key key{t.programs[p].dag, {}};
    key.second.reserve(t.programs[p].ops.size());
    for (const Op& o : t.programs[p].ops) key.second.push_back(op_key(o));
    auto [it, fresh] = seen.emplace(std::move(key), static_cast<std::uint32_t>(programs.size()));
    if (fresh) programs.push_back(std::move(t.programs[p]));
    remap[p] = it->second;
  }
  t.programs = std::move(programs);
  for (auto& p : t.program_of_rank) p = remap[p];
}

void check_consistency(const Trace& t) {
  const std::string& src = t.source;
  if (t.program_of_rank.size() != t.world_size || t.comm_of_slot.size() != t.world_size)
    throw InputError(src, "trace structure: " + std::to_string(t.world_size) + " ranks but " +
                              std::to_string(t.program_of_rank.size()) + " program entries");
  // Per communicator: each member's list of (rank, op index) of its collectives, in program order.
  std::vector<std::vector<std::vector<std::uint32_t>>> colls(t.comms.size());
  for (std::size_t c = 0; c < t.comms.size(); ++c) colls[c].resize(t.comms[c].ranks.size());
  // (comm, from, to) -> op indices of sends at `from`, and of receives at `to`.
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::vector<std::uint32_t>> sends, recvs;
  std::vector<std::map<std::uint32_t, std::uint32_t>> position(t.comms.size());  // global rank -> comm rank
  for (std::size_t c = 0; c < t.comms.size(); ++c)
    for (std::uint32_t i = 0; i < t.comms[c].ranks.size(); ++i) position[c][t.comms[c].ranks[i]] = i;

  for (std::uint32_t r = 0; r < t.world_size; ++r)
    if (t.program_of_rank[r] >= t.programs.size())
      throw InputError(src, t.rank_name(r) + ": program " + std::to_string(t.program_of_rank[r]) + " does not exist");
  if (!t.measured.empty()) {
    if (t.measured.size() != t.world_size)
      throw InputError(src, "trace structure: measured times for " + std::to_string(t.measured.size()) + " ranks of " +
                                std::to_string(t.world_size));
    for (std::uint32_t r = 0; r < t.world_size; ++r)
      if (!t.measured[r].empty() && t.measured[r].size() != t.program(r).ops.size())
        throw InputError(src, t.rank_name(r) + ": " + std::to_string(t.measured[r].size()) + " measured times for " +
                                  std::to_string(t.program(r).ops.size()) + " ops");
  }
  auto absent = [&](std::uint32_t r) { return t.program(r).ops.empty(); };
  for (std::uint32_t r = 0; r < t.world_size; ++r) {
    if (t.program_of_rank[r] >= t.programs.size())
      throw InputError(src, t.rank_name(r) + ": program " + std::to_string(t.program_of_rank[r]) + " does not exist");
    const auto& ops = t.program(r).ops;
    for (std::uint32_t i = 0; i < ops.size(); ++i) {
      const Op& o = ops[i];
      const std::string where = t.rank_name(r) + ", op " + std::to_string(i);
      for (std::uint32_t d : o.deps)
        if (d >= i) throw InputError(src, where + ": depends on op " + std::to_string(d) + ", which is not earlier");
      if (o.kind == OpKind::Compute) {
        if (!(o.duration_s >= 0)) throw InputError(src, where + ": compute duration must be >= 0 s");
        continue;
      }
      if (o.comm_slot >= t.comm_of_slot[r].size() || t.comm_of_slot[r][o.comm_slot] >= t.comms.size())
        throw InputError(src, where + ": communicator slot " + std::to_string(o.comm_slot) + " does not exist");
      const std::uint32_t c = t.comm_of_slot[r][o.comm_slot];
      auto me = position[c].find(r);
      if (me == position[c].end())
        throw InputError(src, where + ": not a member of communicator " + t.comms[c].name);
      const std::uint32_t n = static_cast<std::uint32_t>(t.comms[c].ranks.size());
      if (o.kind == OpKind::Collective) {
        colls[c][me->second].push_back(i);
        continue;
      }
      if (o.root < 0 || static_cast<std::uint32_t>(o.root) >= std::max(n, t.comms[c].declared_size))
        throw InputError(src, where + ": " + to_string(o.kind) + " peer " + std::to_string(o.root) +
                                  " is not a rank of communicator " + t.comms[c].name);
      if (static_cast<std::uint32_t>(o.root) >= n || absent(t.comms[c].ranks[o.root]))
        continue;  // the peer is not in this (partial) trace
      if (o.kind == OpKind::Send) sends[{c, me->second, static_cast<std::uint32_t>(o.root)}].push_back(i);
      else recvs[{c, static_cast<std::uint32_t>(o.root), me->second}].push_back(i);
    }
  }
  // Collectives: the k-th on a communicator must agree across its ranks (ranks without ops in the trace, such as the
  // ranks of a partial trace that have no file, are left out).
  for (std::size_t c = 0; c < t.comms.size(); ++c) {
    const auto& per = colls[c];
    const auto& members = t.comms[c].ranks;
    std::size_t first = 0;
    while (first < per.size() && absent(members[first])) ++first;
    for (std::size_t m = first + 1; m < per.size(); ++m) {
      if (absent(members[m])) continue;
      const auto &a = per[first], &b = per[m];
      const std::uint32_t ra = members[first], rb = members[m];
      for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
        const Op &x = t.program(ra).ops[a[k]], &y = t.program(rb).ops[b[k]];
        const bool rooted = x.coll == common::CollKind::Broadcast || x.coll == common::CollKind::Reduce;
        // All-to-all may send different amounts from each rank (all_to_all_single with splits): kind only.
        const bool sized = x.coll != common::CollKind::AllToAll;
        if (x.coll != y.coll || (sized && (x.count != y.count || x.dtype != y.dtype)) || (rooted && x.root != y.root))
          throw InputError(src, "communicator " + t.comms[c].name + ", collective #" + std::to_string(k) + ": " +
                                    t.rank_name(ra) + " op " + std::to_string(a[k]) + " is " + describe(x) + " but " +
                                    t.rank_name(rb) + " op " + std::to_string(b[k]) + " is " + describe(y) +
                                    " (the real job would hang or fail)");
      }
      if (a.size() != b.size()) {
        const bool a_more = a.size() > b.size();
        const std::uint32_t more = a_more ? ra : rb, fewer = a_more ? rb : ra;
        const auto& longer = a_more ? a : b;
        throw InputError(src, "communicator " + t.comms[c].name + ": " + t.rank_name(more) + " has " +
                                  std::to_string(longer.size()) + " collectives on it but " + t.rank_name(fewer) +
                                  " has " + std::to_string(std::min(a.size(), b.size())) + "; the first unmatched is " +
                                  t.rank_name(more) + " op " + std::to_string(longer[std::min(a.size(), b.size())]) +
                                  " (the real job would hang)");
      }
    }
  }
  // Point to point: the k-th send from a to b matches the k-th receive at b from a, in bytes.
  auto check_pairs = [&](const auto& mine, const auto& theirs, bool is_send) {
    for (const auto& [key, ops] : mine) {
      const auto [c, from, to] = key;
      auto it = theirs.find(key);
      const std::size_t matched = it == theirs.end() ? 0 : it->second.size();
      const std::uint32_t ga = t.comms[c].ranks[is_send ? from : to], gb = t.comms[c].ranks[is_send ? to : from];
      if (ops.size() > matched)
        throw InputError(src, "communicator " + t.comms[c].name + ": " + t.rank_name(ga) + " op " +
                                  std::to_string(ops[matched]) + " " + (is_send ? "sends to " : "receives from ") +
                                  t.rank_name(gb) + ", which has no matching " + (is_send ? "receive" : "send") +
                                  " (the real job would hang)");
      if (!is_send) continue;
      for (std::size_t k = 0; k < ops.size(); ++k) {
        const Op &s = t.program(ga).ops[ops[k]], &r = t.program(gb).ops[it->second[k]];
        if (s.bytes() != r.bytes())
          throw InputError(src, "communicator " + t.comms[c].name + ": " + t.rank_name(ga) + " op " +
                                    std::to_string(ops[k]) + " sends " + std::to_string(s.bytes()) + " B but " +
                                    t.rank_name(gb) + " op " + std::to_string(it->second[k]) + " receives " +
                                    std::to_string(r.bytes()) + " B");
      }
    }
  };
  check_pairs(sends, recvs, true);
  check_pairs(recvs, sends, false);
}

}  // namespace collemu::traces
