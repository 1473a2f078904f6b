#include "traces/nccl_log.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>

#include "common/error.hpp"

namespace collemu::traces {

using common::InputError;

namespace {

constexpr std::string_view kMarker = "NCCL INFO ";

struct Prefix {
  std::string host_pid;  // "host:pid"
  int dev = -1;
  std::size_t begin = 0;  // where the prefix starts in the line
};

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The `host:pid:tid [dev] ` that ends right before position p (where "NCCL INFO " starts), or nullopt.
std::optional<Prefix> prefix_before(std::string_view line, std::size_t p) {
  if (p < 2 || line[p - 1] != ' ' || line[p - 2] != ']') return std::nullopt;
  const std::size_t open = line.rfind('[', p - 2);
  if (open == std::string_view::npos || open < 2 || line[open - 1] != ' ') return std::nullopt;
  const std::string_view dev = line.substr(open + 1, p - 2 - open - 1);
  if (!is_digits(dev)) return std::nullopt;
  const std::size_t end = open - 1;  // token is [start, end)
  std::size_t start = end;
  while (start > 0 && line[start - 1] != ' ' && line[start - 1] != ')' && line[start - 1] != ']') --start;
  std::string_view tok = line.substr(start, end - start);
  // Two processes' output on one line: the record before ends with "stream 0x<hex>" and this one's host follows
  // without a space ("...stream 0x5603a0node1:2346:2402 [1] NCCL INFO ..."): the host starts after the hex digits.
  if (tok.starts_with("0x")) {
    std::size_t k = 2;
    while (k < tok.size() && std::isxdigit(static_cast<unsigned char>(tok[k]))) ++k;
    tok.remove_prefix(k);
    start += k;
  } else if (tok.starts_with("(nil)")) {
    tok.remove_prefix(5);
    start += 5;
  } else if (tok.starts_with("COMPLETE") && start >= 5 && line.substr(start - 5, 5) == "Init ") {
    // The same after an Init line, which ends "- Init COMPLETE" ("...Init COMPLETEnode1:100:111 [1] NCCL INFO comm ...").
    tok.remove_prefix(8);
    start += 8;
  }
  // host:pid:tid, the host itself may hold no ':' (IPv6 hosts are not seen in these logs).
  const std::size_t c2 = tok.rfind(':');
  if (c2 == std::string_view::npos || c2 == 0) return std::nullopt;
  const std::size_t c1 = tok.rfind(':', c2 - 1);
  if (c1 == std::string_view::npos || c1 == 0) return std::nullopt;
  if (!is_digits(tok.substr(c1 + 1, c2 - c1 - 1)) || !is_digits(tok.substr(c2 + 1))) return std::nullopt;
  Prefix pr;
  pr.host_pid = std::string(tok.substr(0, c2));
  const auto d = parse_decimal(dev);
  if (!d || *d > 1'000'000) return std::nullopt;  // not a device number
  pr.dev = static_cast<int>(*d);
  pr.begin = start;
  return pr;
}

struct Record {
  std::string coll_name;
  std::uint64_t op_count = 0;
  std::uint64_t count = 0;
  long long datatype = -1;
  long long root = -1;
  std::string comm;
  long long nranks = -1;
  long long globalrank = -1;
  double t_s = -1;  // collemu's capture writes collemu_t_ns=<wall clock ns> before each record
};

struct InitLine {
  std::string comm;
  long long rank = -1, nranks = -1;
  std::string comm_id;  // "" when the line has none
};

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\r') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

template <class T>
bool parse_int(std::string_view s, T& v, int base = 10) {
  if (base == 16 && (s.starts_with("0x") || s.starts_with("0X"))) s.remove_prefix(2);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  return ec == std::errc() && p == s.data() + s.size();
}

struct Process {
  std::string name;
  std::size_t first_seen = 0;
  long long globalrank = -1;
  bool all_have_globalrank = true;
  std::vector<std::string> comm_order;  // comm pointers in order of first use
  std::map<std::string, long long> comm_nranks;
  std::map<std::string, InitLine> init;  // comm pointer -> its Init line
  struct Entry {
    Record rec;
    std::string where;
  };
  std::vector<Entry> ops;
};

}  // namespace

bool looks_like_nccl_log(const std::string& head) {
  return head.find("NCCL INFO") != std::string::npos || head.find("NCCL WARN") != std::string::npos;
}

Trace read_nccl_logs(const std::vector<std::string>& paths, ReadReport* report) {
  ReadReport local;
  ReadReport& rep = report ? *report : local;
  std::size_t records = 0;  // COLL records read here (Init lines alone make no trace)
  std::map<std::pair<std::string, int>, std::size_t> process_index;
  std::vector<Process> procs;
  std::size_t order = 0;

  for (const std::string& path : paths) {
    std::ifstream in(path);
    if (!in) throw InputError(path, "cannot open the file");
    std::string line;
    std::size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      ++rep.lines;
      const std::string where = path + ":" + std::to_string(lineno);
      std::string_view lv(line);
      // Every "NCCL INFO " on the line starts a record; a record's body runs to the next record's prefix.
      std::vector<std::size_t> marks;
      for (std::size_t p = lv.find(kMarker); p != std::string_view::npos; p = lv.find(kMarker, p + 1)) marks.push_back(p);
      for (std::size_t m = 0; m < marks.size(); ++m) {
        const std::size_t body_begin = marks[m] + kMarker.size();
        std::size_t body_end = lv.size();
        std::optional<Prefix> next;
        if (m + 1 < marks.size()) {
          next = prefix_before(lv, marks[m + 1]);
          body_end = next ? next->begin : marks[m + 1];
        }
        const std::string_view body = lv.substr(body_begin, body_end - body_begin);
        const auto toks = split_ws(body);
        const bool coll = toks.size() >= 3 && toks[0].ends_with(":") && toks[1] == "opCount";
        // "comm 0x.. rank R nranks N ... - Init COMPLETE"; NCCL >= 2.19 starts it with the function's name
        // ("ncclCommInitRank comm 0x..", "ncclCommSplit comm 0x..").
        const std::size_t comm_tok = toks.size() > 1 && toks[0] == "comm" ? 0 : toks.size() > 2 && toks[1] == "comm" ? 1 : toks.size();
        const bool init = comm_tok < toks.size() && body.find("Init COMPLETE") != std::string_view::npos;
        if (!coll && !init) continue;  // another INFO line
        const auto prefix = prefix_before(lv, marks[m]);
        if (!prefix) {
          rep.warnings.push_back(where + ": an NCCL record without its 'host:pid:tid [dev]' prefix (output of two "
                                         "processes mixed?); skipped");
          continue;
        }
        auto [it, fresh] = process_index.emplace(std::pair{prefix->host_pid, prefix->dev}, procs.size());
        if (fresh) {
          procs.emplace_back();
          procs.back().name = prefix->host_pid + " [" + std::to_string(prefix->dev) + "]";
          procs.back().first_seen = order++;
        }
        Process& pr = procs[it->second];
        if (init) {
          // comm 0x... rank R nranks N cudaDev D ... [commId 0x...] - Init COMPLETE
          InitLine il;
          il.comm = std::string(toks[comm_tok + 1]);
          for (std::size_t i = comm_tok + 2; i + 1 < toks.size(); ++i) {
            if (toks[i] == "rank" && !parse_int(toks[i + 1], il.rank))
              throw InputError(where, "Init line: rank '" + std::string(toks[i + 1]) + "' is not a number");
            if (toks[i] == "nranks" && !parse_int(toks[i + 1], il.nranks))
              throw InputError(where, "Init line: nranks '" + std::string(toks[i + 1]) + "' is not a number");
            if (toks[i] == "commId") il.comm_id = std::string(toks[i + 1]);
          }
          if (il.rank < 0 || il.nranks < 1 || il.rank >= il.nranks || il.nranks > kMaxRanks)
            throw InputError(where, "Init line: expected 'rank R nranks N' with 0 <= R < N");
          pr.init[il.comm] = il;
          continue;
        }
        Record r;
        r.coll_name = std::string(toks[0].substr(0, toks[0].size() - 1));
        {
          const std::size_t from = m == 0 ? 0 : marks[m - 1];
          const std::size_t at = lv.rfind("collemu_t_ns=", prefix->begin);
          std::uint64_t ns = 0;
          if (at != std::string_view::npos && at >= from) {
            const std::size_t v = at + 13, e = lv.find(' ', v);
            if (parse_int(lv.substr(v, (e == std::string_view::npos ? lv.size() : e) - v), ns)) r.t_s = ns * 1e-9;
          }
        }
        bool have_count = false, have_dtype = false, have_root = false, have_comm = false;
        for (std::size_t i = 1; i < toks.size(); ++i) {
          const std::string_view k = toks[i];
          if (k.starts_with("[nranks=") && k.ends_with("]")) {
            if (!parse_int(k.substr(8, k.size() - 9), r.nranks) || r.nranks < 1 || r.nranks > kMaxRanks)
              throw InputError(where, "nranks in '" + std::string(k) + "': expected 1.." + std::to_string(kMaxRanks));
            continue;
          }
          if (i + 1 >= toks.size()) break;
          const std::string_view v = toks[i + 1];
          auto bad = [&](const char* what) {
            return InputError(where, std::string(k) + " '" + std::string(v) + "': expected " + what);
          };
          if (k == "opCount") {
            if (!parse_int(v, r.op_count, 16)) throw bad("a hexadecimal number");
          } else if (k == "count") {
            if (!parse_int(v, r.count)) throw bad("a count of elements (a whole number >= 0)");
            have_count = true;
          } else if (k == "datatype") {
            if (!parse_int(v, r.datatype) || !common::data_type_from_nccl(r.datatype))
              throw bad("an NCCL datatype number 0..11");
            have_dtype = true;
          } else if (k == "root") {
            if (!parse_int(v, r.root)) throw bad("a rank number");
            have_root = true;
          } else if (k == "comm") {
            r.comm = std::string(v);
            have_comm = true;
          } else if (k == "globalrank") {
            if (!parse_int(v, r.globalrank)) throw bad("a rank number");
          } else {
            continue;  // sendbuff, recvbuff, op, stream, task: not needed
          }
          ++i;
        }
        if (!have_count || !have_dtype || !have_root || !have_comm || r.nranks < 1)
          throw InputError(where, "an NCCL COLL record needs count, datatype, root, comm and [nranks=N]; got '" +
                                      std::string(body) + "'");
        if (!common::parse_coll_kind(r.coll_name))
          throw InputError(where, "unknown collective '" + r.coll_name +
                                      "'; expected AllReduce, AllGather, ReduceScatter, Broadcast, Reduce, Send, Recv");
        {
          const auto kind = *common::parse_coll_kind(r.coll_name);
          const bool peer = kind == common::CollKind::Send || kind == common::CollKind::Recv;
          const bool rooted = kind == common::CollKind::Broadcast || kind == common::CollKind::Reduce;
          if ((peer || rooted) && (r.root < 0 || r.root >= r.nranks))
            throw InputError(where, std::string(peer ? "peer" : "root") + " " + std::to_string(r.root) +
                                        ": expected a rank of the communicator, 0.." + std::to_string(r.nranks - 1));
        }
        if (!pr.comm_nranks.count(r.comm)) {
          pr.comm_order.push_back(r.comm);
          pr.comm_nranks[r.comm] = r.nranks;
        } else if (pr.comm_nranks[r.comm] != r.nranks) {
          throw InputError(where, "comm " + r.comm + " had nranks=" + std::to_string(pr.comm_nranks[r.comm]) +
                                      " before and nranks=" + std::to_string(r.nranks) + " here");
        }
        if (r.globalrank >= 0) pr.globalrank = r.globalrank;
        else pr.all_have_globalrank = false;
        pr.ops.push_back({std::move(r), where});
        ++rep.records;
        ++records;
      }
    }
  }
  if (records == 0) {
    std::string names;
    for (const auto& p : paths) names += (names.empty() ? "" : ", ") + p;
    throw InputError(names, "no NCCL COLL records (expected lines such as 'host:pid:tid [0] NCCL INFO AllReduce: "
                            "opCount 0 sendbuff ... count N datatype D op O root R comm 0x... [nranks=N] stream ...'; "
                            "run the job with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL,INIT)");
  }

  // A communicator a process initialised (its Init line names the commId) but ran nothing on is still its
  // membership: its slot is that process, not a member without a log.
  for (Process& p : procs)
    for (const auto& [cp, il] : p.init)
      if (!il.comm_id.empty() && !p.comm_nranks.count(cp)) {
        p.comm_order.push_back(cp);
        p.comm_nranks[cp] = il.nranks;
      }

  // Ranks.
  std::vector<std::size_t> rank_order(procs.size());
  for (std::size_t i = 0; i < procs.size(); ++i) rank_order[i] = i;
  const bool by_global = std::all_of(procs.begin(), procs.end(),
                                     [](const Process& p) { return p.all_have_globalrank && p.globalrank >= 0; });
  std::stable_sort(rank_order.begin(), rank_order.end(), [&](std::size_t a, std::size_t b) {
    return by_global ? procs[a].globalrank < procs[b].globalrank : procs[a].first_seen < procs[b].first_seen;
  });
  std::vector<std::uint32_t> rank_of_proc(procs.size());
  for (std::uint32_t r = 0; r < rank_order.size(); ++r) rank_of_proc[rank_order[r]] = r;

  Trace t;
  t.source = join_paths(paths);
  t.reset_ranks(static_cast<std::uint32_t>(procs.size()), "");

  // Communicators: (proc, comm pointer) -> communicator index and the member's position.
  std::map<std::pair<std::size_t, std::string>, std::uint32_t> comm_of;
  std::map<std::string, std::uint32_t> by_comm_id;
  std::map<std::pair<long long, std::size_t>, std::vector<std::size_t>> by_shape;  // (nranks, ordinal) -> procs
  for (std::size_t r = 0; r < rank_order.size(); ++r) {
    const std::size_t pi = rank_order[r];
    const Process& p = procs[pi];
    std::map<long long, std::size_t> ordinal;
    for (const std::string& cp : p.comm_order) {
      const long long n = p.comm_nranks.at(cp);
      auto init = p.init.find(cp);
      if (init != p.init.end() && !init->second.comm_id.empty()) {
        auto [it, fresh] = by_comm_id.emplace(init->second.comm_id, static_cast<std::uint32_t>(t.comms.size()));
        if (fresh) {
          t.comms.push_back({"commId " + init->second.comm_id, std::vector<std::uint32_t>(n, ~0u), static_cast<std::uint32_t>(n)});
        }
        Communicator& c = t.comms[it->second];
        if (c.declared_size != n || init->second.nranks != n)
          throw InputError(t.source, "commId " + init->second.comm_id + " has " + std::to_string(c.declared_size) +
                                         " ranks in one place and " + std::to_string(n) + " (records) or " +
                                         std::to_string(init->second.nranks) + " (Init line) in " + p.name);
        auto& slot = c.ranks[static_cast<std::size_t>(init->second.rank)];
        if (slot != ~0u)
          throw InputError(t.source, "commId " + init->second.comm_id + ": rank " + std::to_string(init->second.rank) +
                                         " claimed by " + procs[rank_order[slot]].name + " and by " + p.name);
        slot = static_cast<std::uint32_t>(r);
        comm_of[{pi, cp}] = it->second;
      } else {
        by_shape[{n, ordinal[n]++}].push_back(pi);
      }
    }
  }
  // Communicators with commIds: a member without a log (a partial capture) becomes a rank of its own with no ops, so
  // that communicator ranks (send/receive peers, roots) keep pointing at the right member.
  for (auto& c : t.comms)
    for (std::size_t k = 0; k < c.ranks.size(); ++k) {
      if (c.ranks[k] != ~0u) continue;
      c.ranks[k] = t.world_size++;
      t.programs.emplace_back();
      t.program_of_rank.push_back(static_cast<std::uint32_t>(t.programs.size() - 1));
      t.comm_of_slot.emplace_back();
      t.rank_names.push_back("no log: " + c.name + " rank " + std::to_string(k));
    }
  for (const auto& [key, members] : by_shape) {
    const auto [n, ord] = key;
    const std::size_t size = static_cast<std::size_t>(n);
    // Without Init lines (no commId) the processes that use the ord-th communicator of n ranks are taken as groups of
    // n consecutive ranks; the warning says exactly that, and what a count that is not a multiple of n means.
    const std::size_t groups = (members.size() + size - 1) / size;
    if (members.size() != size) {
      // A rank is a process's device ("host:pid [dev]"): a process driving two GPUs is two ranks.
      std::string w = t.source + ": " + std::to_string(members.size()) + " ranks use a communicator of " +
                      std::to_string(n) + (n == 1 ? " rank" : " ranks") + " (#" + std::to_string(ord) +
                      " of that size in each) and no Init lines tell them apart: ";
      if (members.size() < size)
        w += "taken as one communicator of which only " + std::to_string(members.size()) + " ranks have logs";
      else
        w += "taken as " + std::to_string(groups) + " groups of " + std::to_string(n) + " consecutive ranks" +
             (members.size() % size ? ", the last with only " + std::to_string(members.size() % size) +
                                          " (the logs of its other members are missing)"
                                    : std::string());
      rep.warnings.push_back(w);
    }
    for (std::size_t g = 0; g < groups; ++g) {
      const std::size_t lo = g * size;
      const std::size_t hi = std::min(members.size(), lo + size);
      Communicator c;
      c.declared_size = static_cast<std::uint32_t>(n);
      c.name = std::to_string(n) + "-rank comm #" + std::to_string(ord);
      if (groups > 1) c.name += ", group " + std::to_string(g);
      for (std::size_t i = lo; i < hi; ++i) {
        c.ranks.push_back(rank_of_proc[members[i]]);
        // which comm pointer of this process: the ord-th of size n
        const Process& p = procs[members[i]];
        std::size_t k = 0;
        for (const std::string& cp : p.comm_order)
          if (p.comm_nranks.at(cp) == n && !(p.init.count(cp) && !p.init.at(cp).comm_id.empty()) && k++ == ord) {
            comm_of[{members[i], cp}] = static_cast<std::uint32_t>(t.comms.size());
            break;
          }
      }
      t.comms.push_back(std::move(c));
    }
  }

  // Programs: one per rank (identical ones are shared afterwards).
  for (std::uint32_t r = 0; r < rank_order.size(); ++r) {
    const std::size_t pi = rank_order[r];
    const Process& p = procs[pi];
    t.rank_names[r] = p.name;
    Program& prog = t.programs[r];
    for (const auto& e : p.ops) {
      const std::uint32_t c = comm_of.at({pi, e.rec.comm});
      Op o;
      const common::CollKind kind = *common::parse_coll_kind(e.rec.coll_name);
      o.kind = op_kind_of(kind);
      o.coll = kind;
      o.dtype = *common::data_type_from_nccl(e.rec.datatype);
      o.comm_slot = t.slot_for(r, c);
      o.count = e.rec.count;
      o.root = static_cast<std::int32_t>(e.rec.root);
      o.seq = e.rec.op_count;
      o.start_s = e.rec.t_s;
      prog.ops.push_back(o);
    }
  }
  share_identical_programs(t);
  return t;
}

}  // namespace collemu::traces
