#include "traces/flight_recorder.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/error.hpp"
#include "traces/kineto.hpp"  // read_maybe_gzip

namespace collemu::traces {

using common::InputError;
using nlohmann::json;

bool looks_like_flight_recorder(const std::string& head) {
  return head.find("\"entries\"") != std::string::npos &&
         (head.find("\"pg_config\"") != std::string::npos || head.find("\"profiling_name\"") != std::string::npos);
}

namespace {

struct Entry {
  std::string pg;  // process group name
  common::CollKind kind;
  std::uint64_t count = 0;
  common::DataType dtype = common::DataType::Uint8;
  std::int64_t peer = -1;  // p2p: the other rank, within the process group
  std::uint64_t seq = 0;
  double start_s = -1, duration_s = 0;
};

std::vector<std::uint32_t> ranks_of(const json& v, const std::string& where) {
  json parsed;
  const json* arr = &v;
  if (v.is_string()) {
    try {
      parsed = json::parse(v.get<std::string>());
    } catch (const json::exception&) {
      throw InputError(where, "\"ranks\" is not a list of ranks");
    }
    arr = &parsed;
  }
  if (!arr->is_array()) throw InputError(where, "\"ranks\": expected a list of ranks");
  std::vector<std::uint32_t> out;
  for (const auto& x : *arr) {
    if (!x.is_number_integer() || x.get<std::int64_t>() < 0 || x.get<std::int64_t>() >= kMaxRanks)
      throw InputError(where, "\"ranks\": expected ranks in [0, " + std::to_string(kMaxRanks) + ")");
    out.push_back(static_cast<std::uint32_t>(x.get<std::int64_t>()));
  }
  return out;
}

std::uint64_t elements(const json& sizes, const std::string& where, const char* key) {
  if (!sizes.is_array() || sizes.empty() || !sizes[0].is_array())
    throw InputError(where, std::string("\"") + key + "\": expected a list of tensor shapes");
  std::uint64_t n = 1;
  for (const auto& d : sizes[0]) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
      throw InputError(where, std::string("\"") + key + "\": expected sizes >= 0, got a " + d.type_name());
    if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(d.get<std::int64_t>()), &n))
      throw InputError(where, std::string("\"") + key + "\": the tensor's element count overflows 64 bits");
  }
  return n;
}

}  // namespace

Trace read_flight_recorder(const std::vector<std::string>& paths, ReadReport* report) {
  ReadReport local;
  ReadReport& rep = report ? *report : local;
  std::map<std::uint32_t, std::vector<Entry>> by_rank;
  std::map<std::uint32_t, std::string> file_of;
  std::map<std::string, std::vector<std::uint32_t>> pg_ranks;  // name -> ranks (the same in every dump)
  std::map<std::string, std::string> pg_desc;
  static const std::regex rank_in_name(R"(rank[_-](\d+))");
  static const std::regex p2p_name(R"(^nccl:(send|recv)\s+(\d+)\s*(->|<-)\s*(\d+)$)");

  for (std::size_t fi = 0; fi < paths.size(); ++fi) {
    const std::string& path = paths[fi];
    json j;
    try {
      j = json::parse(read_maybe_gzip(path));
    } catch (const json::parse_error& e) {
      throw InputError(path, "not valid JSON at byte " + std::to_string(e.byte) + " (truncated or corrupt?)");
    } catch (const json::exception& e) {  // a number too large, ...
      throw InputError(path, std::string("malformed JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("entries") || !j["entries"].is_array())
      throw InputError(path, "not a Flight Recorder dump: expected an object with an \"entries\" array");
    std::uint32_t rank = static_cast<std::uint32_t>(fi);
    std::smatch m;
    const std::string base = path.substr(path.find_last_of('/') + 1);
    if (j.contains("rank")) {
      if (!j["rank"].is_number_integer() || j["rank"].get<std::int64_t>() < 0 ||
          j["rank"].get<std::int64_t>() >= kMaxRanks)
        throw InputError(path, "\"rank\": expected an integer in [0, " + std::to_string(kMaxRanks) + ")");
      rank = static_cast<std::uint32_t>(j["rank"].get<std::int64_t>());
    } else if (std::regex_search(base, m, rank_in_name) && parse_decimal(m[1].str()) &&
               *parse_decimal(m[1].str()) < kMaxRanks) {
      rank = static_cast<std::uint32_t>(*parse_decimal(m[1].str()));
    } else {
      rep.warnings.push_back(path + ": no \"rank\"; taken as rank " + std::to_string(fi) + " (the order of the files)");
    }
    if (!file_of.emplace(rank, path).second)
      throw InputError(path, "rank " + std::to_string(rank) + " again (also in " + file_of[rank] + ")");
    // Process groups: {"0": {"name": "0", "desc": "default_pg", "ranks": "[0, 1]"}, ...}.
    std::map<std::string, std::string> name_of_id;
    if (j.contains("pg_config")) {
      if (!j["pg_config"].is_object()) throw InputError(path, "\"pg_config\": expected an object of process groups");
      for (const auto& [id, pg] : j["pg_config"].items()) {
        const std::string where = path + ": pg_config." + id;
        if (!pg.is_object() || !pg.contains("ranks")) throw InputError(where, "expected {\"name\", \"desc\", \"ranks\"}");
        const std::string name = pg.contains("name") && pg["name"].is_string() ? pg["name"].get<std::string>() : id;
        name_of_id[id] = name;
        auto ranks = ranks_of(pg["ranks"], where);
        auto [it, fresh] = pg_ranks.emplace(name, ranks);
        if (!fresh && it->second != ranks)
          throw InputError(where, "process group " + name + " has other ranks than in " + file_of.begin()->second);
        if (pg.contains("desc") && pg["desc"].is_string()) pg_desc[name] = pg["desc"].get<std::string>();
      }
    }
    auto& entries = by_rank[rank];
    const json& es = j["entries"];
    for (std::size_t i = 0; i < es.size(); ++i) {
      const json& e = es[i];
      const std::string where = path + ": entries[" + std::to_string(i) + "]";
      if (!e.is_object()) throw InputError(where, "expected an object");
      if (!e.contains("profiling_name") || !e["profiling_name"].is_string())
        throw InputError(where, "\"profiling_name\": expected a string such as \"nccl:all_reduce\"");
      const std::string pname = e["profiling_name"].get<std::string>();
      Entry en;
      // The process group: "process_group": [name, desc], or "pg_id" (an index into pg_config).
      if (e.contains("process_group") && e["process_group"].is_array() && !e["process_group"].empty() &&
          e["process_group"][0].is_string()) {
        en.pg = e["process_group"][0].get<std::string>();
      } else if (e.contains("pg_id") && e["pg_id"].is_number_integer()) {
        const std::string id = std::to_string(e["pg_id"].get<std::int64_t>());
        en.pg = name_of_id.count(id) ? name_of_id[id] : id;
      } else {
        throw InputError(where, "no process group (\"process_group\" or \"pg_id\")");
      }
      if (!pg_ranks.count(en.pg)) throw InputError(where, "process group '" + en.pg + "' is not in pg_config");
      if (pname.size() > 256) throw InputError(where, "\"profiling_name\" longer than 256 characters");
      std::smatch pm;
      if (std::regex_match(pname, pm, p2p_name)) {
        en.kind = pm[1] == "send" ? common::CollKind::Send : common::CollKind::Recv;
        // PyTorch names them "nccl:send <rank>-><peer>" and "nccl:recv <rank><-<peer>", ranks within the group.
        const auto peer = parse_decimal(pm[4].str());
        if (!peer || *peer >= kMaxRanks) throw InputError(where, "peer rank '" + pm[4].str() + "' out of range");
        en.peer = static_cast<std::int64_t>(*peer);
      } else {
        const std::string op = pname.starts_with("nccl:") ? pname.substr(5) : pname;
        auto k = common::parse_coll_kind(op);
        if (!k) throw InputError(where, "unknown collective '" + pname + "'");
        en.kind = *k;
      }
      const bool rs = en.kind == common::CollKind::ReduceScatter;
      const char* sizes_key = rs ? "output_sizes" : "input_sizes";
      if (!e.contains(sizes_key)) throw InputError(where, std::string("missing \"") + sizes_key + "\"");
      en.count = elements(e[sizes_key], where, sizes_key);
      if (!e.contains("input_dtypes") || !e["input_dtypes"].is_array() || e["input_dtypes"].empty() ||
          !e["input_dtypes"][0].is_string())
        throw InputError(where, "\"input_dtypes\": expected a list of type names");
      auto dt = common::parse_data_type(e["input_dtypes"][0].get<std::string>());
      if (!dt) throw InputError(where, "unknown data type '" + e["input_dtypes"][0].get<std::string>() + "'");
      en.dtype = *dt;
      const char* seq_key = en.kind == common::CollKind::Send || en.kind == common::CollKind::Recv ? "p2p_seq_id"
                                                                                                     : "collective_seq_id";
      if (e.contains(seq_key) && e[seq_key].is_number_integer()) en.seq = e[seq_key].get<std::uint64_t>();
      if (e.contains("time_discovered_started_ns") && e["time_discovered_started_ns"].is_number())
        en.start_s = e["time_discovered_started_ns"].get<double>() * 1e-9;
      if (e.contains("duration_ms") && e["duration_ms"].is_number()) {
        en.duration_s = e["duration_ms"].get<double>() * 1e-3;
        if (en.duration_s < 0) throw InputError(where, "\"duration_ms\" is negative");
      }
      entries.push_back(en);
    }
  }

  Trace t;
  t.source = join_paths(paths);
  std::uint32_t world = by_rank.empty() ? 0 : by_rank.rbegin()->first + 1;
  for (const auto& [name, ranks] : pg_ranks)
    for (auto r : ranks) world = std::max(world, r + 1);
  t.reset_ranks(world);
  std::map<std::string, std::uint32_t> comm_index;
  for (const auto& [name, ranks] : pg_ranks) {
    comm_index[name] = static_cast<std::uint32_t>(t.comms.size());
    t.comms.push_back({"process group " + name + (pg_desc.count(name) ? " (" + pg_desc[name] + ")" : ""), ranks,
                       static_cast<std::uint32_t>(ranks.size())});
  }
  for (const auto& [rank, entries] : by_rank) {
    t.rank_names[rank] = file_of[rank];
    for (const Entry& en : entries) {
      const std::uint32_t c = comm_index.at(en.pg);
      Op o;
      o.kind = op_kind_of(en.kind);
      o.coll = en.kind;
      o.dtype = en.dtype;
      o.count = en.count;
      o.comm_slot = t.slot_for(rank, c);
      o.seq = en.seq;
      o.start_s = en.start_s;
      o.duration_s = en.duration_s;
      if (o.kind != OpKind::Collective) {
        if (en.peer < 0 || static_cast<std::size_t>(en.peer) >= t.comms[c].ranks.size())
          throw InputError(file_of[rank], "a " + std::string(to_string(o.kind)) + " with group rank " +
                                              std::to_string(en.peer) + ", which process group " + en.pg + " does not have");
        o.root = static_cast<std::int32_t>(en.peer);
      }
      t.programs[rank].ops.push_back(o);
    }
  }
  share_identical_programs(t);
  return t;
}

}  // namespace collemu::traces
