#include "traces/kineto.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace collemu::traces {

using common::InputError;
using nlohmann::json;

std::string read_maybe_gzip(const std::string& path, std::size_t limit) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw InputError(path, "cannot open the file");
  unsigned char magic[2] = {0, 0};
  probe.read(reinterpret_cast<char*>(magic), 2);
  const bool gz = probe.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  probe.close();
  std::string out;
  if (!gz) {
    std::ifstream in(path, std::ios::binary);
    if (limit) {
      out.resize(limit);
      in.read(out.data(), static_cast<std::streamsize>(limit));
      out.resize(static_cast<std::size_t>(in.gcount()));
    } else {
      out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return out;
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(path, "cannot open the gzip file");
  char buf[1 << 16];
  while (true) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      gzclose(f);
      throw InputError(path, "corrupt gzip data after " + std::to_string(out.size()) + " bytes: " + msg);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (limit && out.size() >= limit) break;
  }
  // Ended before the gzip stream did (zlib's "unexpected end of file"), also when only the head was asked for: a
  // truncated .json.gz says so rather than "cannot tell the format".
  int err = Z_OK;
  gzerror(f, &err);
  const bool truncated = err == Z_BUF_ERROR || (!limit && !gzeof(f));
  gzclose(f);
  if (truncated) throw InputError(path, "truncated gzip data after " + std::to_string(out.size()) + " bytes");
  return out;
}

bool looks_like_kineto(const std::string& head) {
  return head.find("\"traceEvents\"") != std::string::npos;
}

namespace {

struct CommOp {
  double ts_us = 0, end_us = 0;
  double dur_us = 0;  // as written: end_us - ts_us loses digits at epoch-sized timestamps
  common::CollKind kind = common::CollKind::AllReduce;
  std::uint64_t count = 0;
  common::DataType dtype = common::DataType::Uint8;
  std::string pg_name;
  std::shared_ptr<const std::vector<std::uint32_t>> pg_ranks;  // shared: one list per group, not per op
  std::int64_t peer_global = -1;
  std::int64_t seq = -1;
  std::size_t event = 0;
  // From an NCCL kernel (its span on the GPU: what the rank measured of the collective); an "nccl:" annotation of the
  // older format spans the CPU's enqueue only, which says nothing of how long the collective took.
  bool kernel = false;
};

struct RankFile {
  std::string path;
  std::uint32_t rank = 0;
  std::vector<CommOp> ops;
  std::vector<std::pair<double, double>> kernels;  // other GPU kernels: [ts, end) in us
};

// Field access with the file and event in every error.
struct Ctx {
  const std::string& path;
  std::size_t event;
  std::string where() const { return path + ": traceEvents[" + std::to_string(event) + "]"; }
};

double number(const json& obj, const char* key, const Ctx& c) {
  auto it = obj.find(key);
  if (it == obj.end()) throw InputError(c.where(), std::string("missing \"") + key + "\"; expected a number");
  if (!it->is_number()) throw InputError(c.where(), std::string("\"") + key + "\" is " + it->type_name() + "; expected a number");
  const double v = it->get<double>();
  if (!std::isfinite(v)) throw InputError(c.where(), std::string("\"") + key + "\" is not finite");
  return v;
}

std::int64_t integer(const json& obj, const char* key, const Ctx& c) {
  const double v = number(obj, key, c);
  if (v != std::floor(v)) throw InputError(c.where(), std::string("\"") + key + "\" is " + std::to_string(v) + "; expected a whole number");
  if (std::fabs(v) > 9.0e15) throw InputError(c.where(), std::string("\"") + key + "\" is out of range");
  return static_cast<std::int64_t>(v);
}

std::string text(const json& obj, const char* key, const Ctx& c) {
  auto it = obj.find(key);
  if (it == obj.end()) throw InputError(c.where(), std::string("missing \"") + key + "\"; expected a string");
  if (!it->is_string()) throw InputError(c.where(), std::string("\"") + key + "\" is " + it->type_name() + "; expected a string");
  return it->get<std::string>();
}

// "[0, 1, 2]" (a string, as PyTorch writes it) or a JSON array of integers; nullopt for a list PyTorch shortened
// ("[0, 1, ..., 29, ...]" for groups over 30 ranks), whose ranks must come from distributedInfo.pg_config.
// `where` and `label` name the list in errors: an event's "Process Group Ranks", or a group of distributedInfo.pg_config.
std::optional<std::vector<std::uint32_t>> rank_list(const json& v, const std::string& where, const std::string& label) {
  json parsed;
  const json* arr = &v;
  if (v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    if (text.find("...") != std::string::npos || text.find("\u2026") != std::string::npos ||
        text.find("\xe2\x80\xa6") != std::string::npos)
      return std::nullopt;
    try {
      parsed = json::parse(text);
    } catch (const json::exception&) {
      throw InputError(where, label + " is not a list of ranks");
    }
    arr = &parsed;
  }
  if (!arr->is_array()) throw InputError(where, label + ": expected a list of ranks");
  std::vector<std::uint32_t> out;
  for (const auto& x : *arr) {
    if (!x.is_number_integer() || x.get<std::int64_t>() < 0 || x.get<std::int64_t>() >= kMaxRanks)
      throw InputError(where, label + ": expected ranks in [0, " + std::to_string(kMaxRanks) + "), got a " +
                                  std::string(x.type_name()));
    out.push_back(static_cast<std::uint32_t>(x.get<std::int64_t>()));
  }
  std::vector<std::uint32_t> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  if (auto d = std::adjacent_find(sorted.begin(), sorted.end()); d != sorted.end())
    throw InputError(where, label + ": rank " + std::to_string(*d) + " is listed twice");
  return out;
}

common::DataType dtype_of(const std::string& name, const Ctx& c) {
  auto d = common::parse_data_type(name);
  if (!d) throw InputError(c.where(), "unknown data type '" + name + "'");
  return *d;
}

common::CollKind kind_of(const std::string& name, const Ctx& c) {
  auto k = common::parse_coll_kind(name);
  if (!k) throw InputError(c.where(), "unknown collective '" + name + "'");
  return *k;
}

bool is_nccl_kernel(const std::string& name) {
  return name.starts_with("ncclKernel_") || name.starts_with("ncclDevKernel_");
}

}  // namespace

Trace read_kineto(const std::vector<std::string>& paths, ReadReport* report) {
  ReadReport local;
  ReadReport& rep = report ? *report : local;
  std::vector<RankFile> files;
  std::uint32_t world = 0;
  std::map<std::uint32_t, std::string> file_of_rank;

  for (std::size_t fi = 0; fi < paths.size(); ++fi) {
    const std::string& path = paths[fi];
    const std::string bytes = read_maybe_gzip(path);
    json j;
    try {
      j = json::parse(bytes);
    } catch (const json::parse_error& e) {
      throw InputError(path, "not valid JSON at byte " + std::to_string(e.byte) + " (truncated or corrupt?)");
    } catch (const json::exception& e) {  // a number too large, ...: the library gives no place, so find the number
      const std::string what = e.what();
      const auto q = what.find("parsing '");
      const std::string token = q == std::string::npos ? "" : what.substr(q + 9, what.find('\'', q + 9) - q - 9);
      const auto at = token.empty() ? std::string::npos : bytes.find(token);
      if (at != std::string::npos)
        throw InputError(path + ":" + std::to_string(1 + std::count(bytes.begin(), bytes.begin() + at, '\n')),
                         "the number " + token + " (byte " + std::to_string(at) + ") is outside what a double holds");
      throw InputError(path, std::string("malformed JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("traceEvents") || !j["traceEvents"].is_array())
      throw InputError(path, "not a PyTorch profiler trace: expected an object with a \"traceEvents\" array");
    RankFile rf;
    rf.path = path;
    std::uint32_t file_world = 0;
    using Ranks = std::shared_ptr<const std::vector<std::uint32_t>>;
    Ranks default_pg;
    std::map<std::string, Ranks> pg_by_name, interned;
    if (j.contains("distributedInfo") && j["distributedInfo"].is_object()) {
      const json& di = j["distributedInfo"];
      auto get = [&](const char* k) -> std::int64_t {
        if (!di.contains(k) || !di[k].is_number_integer() || di[k].get<std::int64_t>() < 0 ||
            di[k].get<std::int64_t>() > kMaxRanks)
          throw InputError(path, std::string("distributedInfo.") + k + ": expected an integer in [0, " +
                                     std::to_string(kMaxRanks) + "]");
        return di[k].get<std::int64_t>();
      };
      rf.rank = static_cast<std::uint32_t>(get("rank"));
      file_world = static_cast<std::uint32_t>(get("world_size"));
      if (rf.rank >= file_world)
        throw InputError(path, "distributedInfo.rank " + std::to_string(rf.rank) + " is not below world_size " +
                                   std::to_string(file_world));
      if (di.contains("pg_config") && di["pg_config"].is_array())
        for (const auto& pg : di["pg_config"]) {
          if (!pg.is_object() || !pg.contains("pg_name") || !pg["pg_name"].is_string() || !pg.contains("ranks")) continue;
          const std::string name = pg["pg_name"].get<std::string>();
          const std::string label = "distributedInfo.pg_config group '" + name + "'";
          if (auto ranks = rank_list(pg["ranks"], path, label + " ranks")) {
            for (std::uint32_t r : *ranks)
              if (r >= file_world)
                throw InputError(path, label + ": rank " + std::to_string(r) + " is not below world_size " +
                                           std::to_string(file_world));
            if (pg.contains("pg_size") && pg["pg_size"].is_number_integer() &&
                pg["pg_size"].get<std::int64_t>() != static_cast<std::int64_t>(ranks->size()))
              throw InputError(path, label + ": pg_size " + std::to_string(pg["pg_size"].get<std::int64_t>()) +
                                         " but " + std::to_string(ranks->size()) + " ranks listed");
            pg_by_name[name] = std::make_shared<const std::vector<std::uint32_t>>(std::move(*ranks));
          }
        }
      if (pg_by_name.count("0")) default_pg = pg_by_name["0"];
    } else {
      rf.rank = static_cast<std::uint32_t>(fi);
      file_world = static_cast<std::uint32_t>(paths.size());
      rep.warnings.push_back(path + ": no distributedInfo; taken as rank " + std::to_string(fi) + " of " +
                             std::to_string(paths.size()) + " (the order of the files)");
    }
    if (!default_pg) {
      std::vector<std::uint32_t> all(file_world);
      for (std::uint32_t r = 0; r < file_world; ++r) all[r] = r;
      default_pg = std::make_shared<const std::vector<std::uint32_t>>(std::move(all));
    }
    if (!file_of_rank.emplace(rf.rank, path).second)
      throw InputError(path, "rank " + std::to_string(rf.rank) + " again (also in " + file_of_rank[rf.rank] + ")");
    world = std::max(world, file_world);

    std::vector<CommOp> kernels_ops, annotation_ops;
    std::string annotation_error;
    const json& events = j["traceEvents"];
    for (std::size_t i = 0; i < events.size(); ++i) {
      const json& e = events[i];
      const Ctx c{path, i};
      if (!e.is_object()) throw InputError(c.where(), "expected an event object, got " + std::string(e.type_name()));
      auto cat_it = e.find("cat");
      if (cat_it == e.end() || !cat_it->is_string()) continue;  // metadata and instant events
      const std::string& cat = cat_it->get_ref<const std::string&>();
      if (cat != "kernel" && cat != "user_annotation") continue;
      const std::string name = text(e, "name", c);
      const bool nccl_kernel = cat == "kernel" && is_nccl_kernel(name);
      const bool nccl_note = cat == "user_annotation" && name.starts_with("nccl:");
      if (cat == "kernel" && !nccl_kernel) {
        const double ts = number(e, "ts", c), dur = number(e, "dur", c);
        if (dur < 0) throw InputError(c.where(), "\"dur\" is negative");
        rf.kernels.emplace_back(ts, ts + dur);
        continue;
      }
      if (!nccl_kernel && !nccl_note) continue;
      const double ts = number(e, "ts", c), dur = number(e, "dur", c);
      if (dur < 0) throw InputError(c.where(), "\"dur\" is negative");
      if (!e.contains("args") || !e["args"].is_object()) continue;
      const json& a = e["args"];
      CommOp op;
      op.ts_us = ts;
      op.end_us = ts + dur;
      op.dur_us = dur;
      op.event = i;
      if (nccl_kernel) {
        if (!a.contains("Collective name")) continue;  // a kernel of the older format: metadata on the CPU side
        op.kernel = true;
        op.kind = kind_of(text(a, "Collective name", c), c);
        const std::int64_t in = integer(a, "In msg nelems", c);
        const std::int64_t out = a.contains("Out msg nelems") ? integer(a, "Out msg nelems", c) : in;
        if (in < 0 || out < 0) throw InputError(c.where(), "negative message size (In/Out msg nelems)");
        op.count = static_cast<std::uint64_t>(op.kind == common::CollKind::ReduceScatter || op.kind == common::CollKind::Recv ? out : in);
        op.dtype = dtype_of(text(a, "dtype", c), c);
        op.pg_name = a.contains("Process Group Name") ? text(a, "Process Group Name", c) : "0";
        op.pg_ranks = default_pg;
        if (a.contains("Process Group Ranks")) {
          const json& v = a["Process Group Ranks"];
          const std::string key = v.is_string() ? v.get<std::string>() : std::string();
          auto hit = v.is_string() ? interned.find(key) : interned.end();
          if (hit != interned.end()) {
            op.pg_ranks = hit->second;
          } else if (auto ranks = rank_list(v, c.where(), "\"Process Group Ranks\"")) {
            if (!ranks->empty()) op.pg_ranks = std::make_shared<const std::vector<std::uint32_t>>(std::move(*ranks));
            if (v.is_string()) interned[key] = op.pg_ranks;
          } else if (pg_by_name.count(op.pg_name)) {  // PyTorch shortened the list: the group's ranks from pg_config
            op.pg_ranks = pg_by_name[op.pg_name];
          } else {
            throw InputError(c.where(), "\"Process Group Ranks\" is shortened (\"...\") and distributedInfo.pg_config "
                                        "has no group '" + op.pg_name + "' with the full list");
          }
        }
        // Checked against the ranks the event names (older kernels give a size but no ranks: their group is unknown).
        if (a.contains("Process Group Ranks") && a.contains("Group size") &&
            integer(a, "Group size", c) != static_cast<std::int64_t>(op.pg_ranks->size()))
          throw InputError(c.where(), "\"Group size\" " + std::to_string(integer(a, "Group size", c)) +
                                          " but process group '" + op.pg_name + "' has " +
                                          std::to_string(op.pg_ranks->size()) + " ranks");
        if (op.kind == common::CollKind::Send && a.contains("Dst Rank")) op.peer_global = integer(a, "Dst Rank", c);
        if (op.kind == common::CollKind::Recv && a.contains("Src Rank")) op.peer_global = integer(a, "Src Rank", c);
        if (a.contains("Seq") && a["Seq"].is_number_integer()) op.seq = a["Seq"].get<std::int64_t>();
        kernels_ops.push_back(std::move(op));
      } else {
        // "nccl:all_reduce" with "Input Dims" [[d0, d1, ...], ...] and "Input type" ["float", ...]. Read only when the
        // kernels carry no metadata: the first error is kept and thrown then.
        try {
          op.kind = kind_of(name.substr(5), c);
          if (!a.contains("Input Dims") || !a["Input Dims"].is_array() || a["Input Dims"].empty() ||
              !a["Input Dims"][0].is_array())
            throw InputError(c.where(), "\"Input Dims\": expected a list of tensor shapes");
          std::uint64_t n = 1;
          for (const auto& d : a["Input Dims"][0]) {
            if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
              throw InputError(c.where(), "\"Input Dims\": expected sizes >= 0, got a " + std::string(d.type_name()));
            const auto dim = static_cast<std::uint64_t>(d.get<std::int64_t>());
            if (dim && n > (std::uint64_t{1} << 53) / dim) throw InputError(c.where(), "\"Input Dims\": too many elements");
            n *= dim;
          }
          if (!a.contains("Input type") || !a["Input type"].is_array() || a["Input type"].empty() ||
              !a["Input type"][0].is_string())
            throw InputError(c.where(), "\"Input type\": expected a list of type names");
          op.dtype = dtype_of(a["Input type"][0].get<std::string>(), c);
          op.pg_name = "0";
          op.pg_ranks = default_pg;
          op.count = op.kind == common::CollKind::AllGather ? n / std::max<std::size_t>(1, default_pg->size()) : n;
          annotation_ops.push_back(std::move(op));
        } catch (const InputError& err) {
          if (annotation_error.empty()) annotation_error = err.what();
        }
      }
    }
    if (kernels_ops.empty() && !annotation_error.empty()) throw InputError("", annotation_error);
    rf.ops = !kernels_ops.empty() ? std::move(kernels_ops) : std::move(annotation_ops);
    std::sort(rf.ops.begin(), rf.ops.end(), [](const CommOp& x, const CommOp& y) { return x.ts_us < y.ts_us; });
    std::sort(rf.kernels.begin(), rf.kernels.end());
    if (rf.ops.empty()) rep.warnings.push_back(path + ": no NCCL operations found");
    files.push_back(std::move(rf));
  }

  Trace t;
  t.source = join_paths(paths);
  t.reset_ranks(world);
  if (files.size() < world)
    rep.warnings.push_back(t.source + ": " + std::to_string(files.size()) + " of " + std::to_string(world) +
                           " ranks have a file; the others are empty");
  std::map<std::pair<std::string, std::vector<std::uint32_t>>, std::uint32_t> comm_index;
  for (const RankFile& rf : files) {
    t.rank_names[rf.rank] = rf.path;
    Program& prog = t.programs[rf.rank];
    std::map<std::uint32_t, std::uint64_t> next_seq;
    double prev_end = -std::numeric_limits<double>::infinity();
    std::size_t k = 0;  // kernels before prev_end are consumed
    for (const CommOp& op : rf.ops) {
      const Ctx c{rf.path, op.event};
      // Compute since the previous communication op: the union of other kernels' intervals in [prev_end, ts).
      double busy = 0, covered_to = prev_end;
      while (k < rf.kernels.size() && rf.kernels[k].first < op.ts_us) {
        const double lo = std::max(rf.kernels[k].first, covered_to), hi = std::min(rf.kernels[k].second, op.ts_us);
        if (hi > lo) {
          busy += hi - lo;
          covered_to = hi;
        }
        ++k;
      }
      if (busy > 0) {
        Op comp;
        comp.kind = OpKind::Compute;
        comp.duration_s = busy * 1e-6;
        prog.ops.push_back(comp);
      }
      prev_end = op.end_us;
      const std::vector<std::uint32_t>& pg_ranks = *op.pg_ranks;
      for (std::uint32_t m : pg_ranks)
        if (m >= world)
          throw InputError(c.where(), "process group rank " + std::to_string(m) + " is not below world_size " +
                                          std::to_string(world));
      auto it = std::find(pg_ranks.begin(), pg_ranks.end(), rf.rank);
      if (it == pg_ranks.end())
        throw InputError(c.where(), "rank " + std::to_string(rf.rank) + " is not in its own process group " + op.pg_name);
      auto [ci, fresh] = comm_index.emplace(std::pair{op.pg_name, pg_ranks}, static_cast<std::uint32_t>(t.comms.size()));
      if (fresh)
        t.comms.push_back({"process group " + op.pg_name, pg_ranks, static_cast<std::uint32_t>(pg_ranks.size())});
      Op o;
      o.kind = op_kind_of(op.kind);
      o.coll = op.kind;
      o.dtype = op.dtype;
      o.count = op.count;
      o.comm_slot = t.slot_for(rf.rank, ci->second);
      o.seq = op.seq >= 0 ? static_cast<std::uint64_t>(op.seq) : next_seq[ci->second]++;
      if (op.kernel) {  // measured (Trace::measured once separated); an annotation's CPU span is not
        o.start_s = op.ts_us * 1e-6;
        o.duration_s = op.dur_us * 1e-6;
      }
      if (o.kind != OpKind::Collective) {
        const bool in_range = op.peer_global >= 0 && op.peer_global < kMaxRanks;
        auto p = in_range ? std::find(pg_ranks.begin(), pg_ranks.end(), static_cast<std::uint32_t>(op.peer_global))
                          : pg_ranks.end();
        if (p == pg_ranks.end())
          throw InputError(c.where(), std::string(to_string(o.kind)) + " without a peer in its process group (\"" +
                                          (o.kind == OpKind::Send ? "Dst" : "Src") + " Rank\")");
        o.root = static_cast<std::int32_t>(p - pg_ranks.begin());
      }
      prog.ops.push_back(o);
    }
  }
  share_identical_programs(t);
  return t;
}

}  // namespace collemu::traces
