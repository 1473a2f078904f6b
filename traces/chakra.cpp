#include "traces/chakra.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <queue>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "traces/et.pb.h"  // generated from traces/chakra/et.proto into the build folder

namespace collemu::traces {

using common::InputError;

namespace {

// An attribute's value as an integer, whatever integer kind the file used; nullopt when absent or not an integer.
std::optional<std::int64_t> int_attr(const collemu::chakra::Node& n, const std::string& name) {
  for (const auto& a : n.attr()) {
    if (a.name() != name) continue;
    switch (a.value_case()) {
      case collemu::chakra::Attribute::kInt32Val: return a.int32_val();
      case collemu::chakra::Attribute::kInt64Val: return a.int64_val();
      case collemu::chakra::Attribute::kUint32Val: return a.uint32_val();
      case collemu::chakra::Attribute::kUint64Val: return static_cast<std::int64_t>(a.uint64_val());
      case collemu::chakra::Attribute::kSint32Val: return a.sint32_val();
      case collemu::chakra::Attribute::kSint64Val: return a.sint64_val();
      case collemu::chakra::Attribute::kFixed32Val: return a.fixed32_val();
      case collemu::chakra::Attribute::kFixed64Val: return static_cast<std::int64_t>(a.fixed64_val());
      case collemu::chakra::Attribute::kSfixed32Val: return a.sfixed32_val();
      case collemu::chakra::Attribute::kSfixed64Val: return a.sfixed64_val();
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<std::string> string_attr(const collemu::chakra::Node& n, const std::string& name) {
  for (const auto& a : n.attr())
    if (a.name() == name && a.value_case() == collemu::chakra::Attribute::kStringVal) return a.string_val();
  return std::nullopt;
}

std::optional<common::CollKind> coll_of(std::int64_t t) {
  switch (t) {
    case 0: return common::CollKind::AllReduce;
    case 1: return common::CollKind::Reduce;
    case 2: return common::CollKind::AllGather;
    case 5: return common::CollKind::Broadcast;
    case 6: return common::CollKind::AllToAll;
    case 7:
    case 8: return common::CollKind::ReduceScatter;
    case 9: return common::CollKind::Barrier;
    default: return std::nullopt;  // GATHER 3, SCATTER 4: NCCL has no such collective
  }
}

struct RankNodes {
  std::string path;
  std::vector<collemu::chakra::Node> nodes;
};

}  // namespace

bool looks_like_chakra(const std::string& head, const std::string& path) {
  if (path.size() >= 3 && path.ends_with(".et")) return true;
  // A varint length then a GlobalMetadata whose first field is the version string (field 1) or an attribute (2).
  if (head.size() < 3) return false;
  // A JSON object ("{\n", Chakra's JSON or a PyTorch execution trace) reads like a varint of 123 and field 1: text is
  // not protobuf.
  if (head[0] == '{' && head.find('"') != std::string::npos && head.find('"') < 64) return false;
  const auto b0 = static_cast<unsigned char>(head[0]), b1 = static_cast<unsigned char>(head[1]);
  return b0 > 0 && b0 < 0x80 && (b1 == 0x0a || b1 == 0x12) && head.find("traceEvents") == std::string::npos &&
         head.find("NCCL INFO") == std::string::npos;
}

Trace read_chakra(const std::vector<std::string>& paths, ReadReport* report) {
  ReadReport local;
  ReadReport& rep = report ? *report : local;
  static const std::regex rank_re(R"(\.(\d+)\.et$)");
  std::map<std::uint32_t, RankNodes> ranks;
  for (std::size_t fi = 0; fi < paths.size(); ++fi) {
    const std::string& path = paths[fi];
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path, "cannot open the file");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint32_t rank = static_cast<std::uint32_t>(fi);
    std::smatch m;
    const auto named = std::regex_search(path, m, rank_re) ? parse_decimal(m[1].str()) : std::nullopt;
    if (named && *named >= kMaxRanks)
      throw InputError(path, "rank " + m[1].str() + " in the file name; expected a rank below " +
                                 std::to_string(kMaxRanks));
    if (named) rank = static_cast<std::uint32_t>(*named);
    else rep.warnings.push_back(path + ": no '.<rank>.et' in the name; taken as rank " + std::to_string(fi));
    if (ranks.count(rank)) throw InputError(path, "rank " + std::to_string(rank) + " again (also in " + ranks[rank].path + ")");
    RankNodes& rn = ranks[rank];
    rn.path = path;
    google::protobuf::io::CodedInputStream cis(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
    bool first = true;
    std::size_t index = 0;
    while (true) {
      const int offset = cis.CurrentPosition();
      std::uint32_t len = 0;
      if (!cis.ReadVarint32(&len)) {
        if (offset == static_cast<int>(bytes.size())) break;  // clean end
        throw InputError(path, "byte " + std::to_string(offset) + ": truncated length prefix");
      }
      if (static_cast<std::size_t>(cis.CurrentPosition()) + len > bytes.size())
        throw InputError(path, "byte " + std::to_string(offset) + ": message of " + std::to_string(len) +
                                   " bytes runs past the end of the file (" + std::to_string(bytes.size()) +
                                   " bytes): truncated");
      const auto limit = cis.PushLimit(static_cast<int>(len));
      if (first) {
        collemu::chakra::GlobalMetadata meta;
        if (!meta.ParseFromCodedStream(&cis) || !cis.ConsumedEntireMessage())
          throw InputError(path, "byte " + std::to_string(offset) + ": not a Chakra GlobalMetadata message");
        first = false;
      } else {
        collemu::chakra::Node node;
        if (!node.ParseFromCodedStream(&cis) || !cis.ConsumedEntireMessage())
          throw InputError(path, "byte " + std::to_string(offset) + ": node #" + std::to_string(index) +
                                     " is not a Chakra Node message (corrupt?)");
        rn.nodes.push_back(std::move(node));
        ++index;
      }
      cis.PopLimit(limit);
    }
    if (first) throw InputError(path, "empty: expected a GlobalMetadata message and nodes");
  }

  Trace t;
  t.source = join_paths(paths);
  const std::uint32_t world = ranks.empty() ? 0 : ranks.rbegin()->first + 1;
  t.reset_ranks(world);
  // Communicators: named process groups have their members from the files that use them; the rest use the world.
  std::map<std::string, std::set<std::uint32_t>> pg_members;
  for (const auto& [rank, rn] : ranks)
    for (const auto& n : rn.nodes)
      if (auto pg = string_attr(n, "pg_name")) pg_members[*pg].insert(rank);
  std::map<std::string, std::uint32_t> comm_index;
  {
    std::vector<std::uint32_t> all(world);
    for (std::uint32_t r = 0; r < world; ++r) all[r] = r;
    comm_index[""] = 0;
    t.comms.push_back({"all ranks", all, world});
    for (const auto& [name, members] : pg_members) {
      comm_index[name] = static_cast<std::uint32_t>(t.comms.size());
      t.comms.push_back({"pg " + name, {members.begin(), members.end()}, static_cast<std::uint32_t>(members.size())});
    }
  }

  for (auto& entry : ranks) {
    const std::uint32_t rank = entry.first;  // (not a structured binding: lambdas below use these)
    RankNodes& rn = entry.second;
    t.rank_names[rank] = rn.path;
    Program& prog = t.programs[rank];
    prog.dag = true;
    // Dependency order (Kahn), file order among ready nodes.
    std::map<std::uint64_t, std::size_t> index_of;
    for (std::size_t i = 0; i < rn.nodes.size(); ++i)
      if (!index_of.emplace(rn.nodes[i].id(), i).second)
        throw InputError(rn.path, "node id " + std::to_string(rn.nodes[i].id()) + " appears twice");
    // Dependencies: ctrl_deps and data_deps, without self-references. PyTorch-converted traces write parent links
    // in ctrl_deps, which can point both ways: where they make a cycle, the order comes from data_deps alone.
    std::vector<std::vector<std::size_t>> deps(rn.nodes.size());
    std::size_t dangling = 0, self = 0;
    std::vector<std::size_t> order;
    auto build = [&](bool use_ctrl) {
      dangling = self = 0;
      std::vector<std::vector<std::size_t>> users(rn.nodes.size());
      for (std::size_t i = 0; i < rn.nodes.size(); ++i) {
        std::set<std::size_t> d;
        auto add = [&](const auto& list) {
          for (std::uint64_t id : list) {
            auto it = index_of.find(id);
            if (it == index_of.end()) ++dangling;
            else if (it->second == i) ++self;
            else d.insert(it->second);
          }
        };
        if (use_ctrl) add(rn.nodes[i].ctrl_deps());
        add(rn.nodes[i].data_deps());
        deps[i].assign(d.begin(), d.end());
        for (std::size_t x : deps[i]) users[x].push_back(i);
      }
      std::vector<std::size_t> pending(rn.nodes.size());
      std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;  // file order among ready
      order.clear();
      for (std::size_t i = 0; i < rn.nodes.size(); ++i)
        if (!(pending[i] = deps[i].size())) ready.push(i);
      while (!ready.empty()) {
        const std::size_t i = ready.top();
        ready.pop();
        order.push_back(i);
        for (std::size_t u : users[i])
          if (--pending[u] == 0) ready.push(u);
      }
      return order.size() == rn.nodes.size();
    };
    if (!build(true)) {
      if (!build(false)) {
        // Name a node on the cycle: walk back along unfinished dependencies until a node repeats.
        std::set<std::size_t> done(order.begin(), order.end()), seen;
        std::size_t at = 0;
        while (done.count(at)) ++at;
        while (seen.insert(at).second)
          for (std::size_t d : deps[at])
            if (!done.count(d)) {
              at = d;
              break;
            }
        throw InputError(rn.path, "node " + std::to_string(rn.nodes[at].id()) + " ('" + rn.nodes[at].name() +
                                      "') is in a cycle of data dependencies");
      }
      rep.warnings.push_back(rn.path + ": ctrl_deps make cycles (parent links, as PyTorch-converted traces write "
                                       "them): ordered by data_deps alone");
    }
    if (dangling)
      rep.warnings.push_back(rn.path + ": " + std::to_string(dangling) + " dependencies on nodes not in the file; dropped");
    if (self) rep.warnings.push_back(rn.path + ": " + std::to_string(self) + " nodes depend on themselves; ignored");
    std::vector<std::uint32_t> op_of(rn.nodes.size());
    for (std::size_t i : order) {
      const auto& n = rn.nodes[i];
      const std::string where = "node " + std::to_string(n.id()) + " ('" + n.name() + "')";
      Op o;
      o.kind = OpKind::Compute;
      o.duration_s = static_cast<double>(n.duration_micros()) * 1e-6;
      const auto type = n.type();
      const auto comm_type = int_attr(n, "comm_type");
      const bool p2p = type == collemu::chakra::COMM_SEND_NODE || type == collemu::chakra::COMM_RECV_NODE;
      const bool coll = type == collemu::chakra::COMM_COLL_NODE && comm_type.has_value();
      if (p2p || coll) {
        const auto size = int_attr(n, "comm_size");
        if (!size) throw InputError(rn.path, where + ": no integer \"comm_size\" attribute (bytes)");
        if (*size < 0) throw InputError(rn.path, where + ": comm_size " + std::to_string(*size) + " is negative");
        const auto pg = string_attr(n, "pg_name").value_or("");
        const std::uint32_t c = comm_index.at(pg);
        o.comm_slot = t.slot_for(rank, c);
        o.dtype = common::DataType::Uint8;
        o.count = static_cast<std::uint64_t>(*size);
        if (coll) {
          auto k = coll_of(*comm_type);
          if (!k) throw InputError(rn.path, where + ": comm_type " + std::to_string(*comm_type) +
                                                " is not a collective NCCL runs (expected 0-2, 5-9)");
          o.kind = OpKind::Collective;
          o.coll = *k;
          // The root of a Broadcast or Reduce: the "root" attribute collemu writes, a global rank as comm_src and
          // comm_dst are; without it the root is unknown (-1: the replay roots it at the group's first rank).
          if (o.coll == common::CollKind::Broadcast || o.coll == common::CollKind::Reduce)
            if (const auto root = int_attr(n, "root")) {
              const auto& members = t.comms[c].ranks;
              const auto at = *root >= 0 && *root < kMaxRanks
                                  ? std::find(members.begin(), members.end(), static_cast<std::uint32_t>(*root))
                                  : members.end();
              if (at == members.end())
                throw InputError(rn.path, where + ": root " + std::to_string(*root) + " is not a rank of its group");
              o.root = static_cast<std::int32_t>(at - members.begin());
            }
          // ASTRA-sim's reading (Ring.cc): a reduce-scatter's comm_size is the whole buffer (each rank keeps 1/n),
          // an all-gather's the rank's part. The trace holds NCCL's count per rank: the reduce-scatter's is
          // comm_size / n (rounded to the nearest byte where it does not divide).
          if (o.coll == common::CollKind::ReduceScatter) {
            const std::uint64_t n = t.comms[c].ranks.size();
            o.count = (o.count + n / 2) / n;
          }
        } else {
          const bool send = type == collemu::chakra::COMM_SEND_NODE;
          const auto peer = int_attr(n, send ? "comm_dst" : "comm_src");
          if (!peer) throw InputError(rn.path, where + ": no \"" + (send ? "comm_dst" : "comm_src") + "\" attribute");
          const auto& members = t.comms[c].ranks;
          const bool in_range = *peer >= 0 && *peer < kMaxRanks;
          auto p = in_range ? std::find(members.begin(), members.end(), static_cast<std::uint32_t>(*peer)) : members.end();
          if (p == members.end())
            throw InputError(rn.path, where + ": peer rank " + std::to_string(*peer) + " is not in the trace");
          o.kind = send ? OpKind::Send : OpKind::Recv;
          o.coll = send ? common::CollKind::Send : common::CollKind::Recv;
          o.root = static_cast<std::int32_t>(p - members.begin());
        }
        // A communication node's duration_micros is what the trace measured of it (a kernel's span): kept as an
        // observation (Trace::measured once separated), not something the replay runs.
      }
      for (std::size_t d : deps[i]) o.deps.push_back(op_of[d]);
      std::sort(o.deps.begin(), o.deps.end());
      op_of[i] = static_cast<std::uint32_t>(prog.ops.size());
      prog.ops.push_back(std::move(o));
    }
  }
  share_identical_programs(t);
  return t;
}

namespace {

std::int64_t comm_type_of(common::CollKind k) {
  switch (k) {
    case common::CollKind::AllReduce: return 0;
    case common::CollKind::Reduce: return 1;
    case common::CollKind::AllGather: return 2;
    case common::CollKind::Broadcast: return 5;
    case common::CollKind::AllToAll: return 6;
    case common::CollKind::ReduceScatter: return 7;
    case common::CollKind::Barrier: return 9;
    default: return -1;
  }
}

void add_int(collemu::chakra::Node& n, const char* name, std::int64_t v) {
  auto* a = n.add_attr();
  a->set_name(name);
  a->set_int64_val(v);
}
void add_bool(collemu::chakra::Node& n, const char* name, bool v) {
  auto* a = n.add_attr();
  a->set_name(name);
  a->set_bool_val(v);
}
void add_string(collemu::chakra::Node& n, const char* name, const std::string& v) {
  auto* a = n.add_attr();
  a->set_name(name);
  a->set_string_val(v);
}

}  // namespace

std::vector<std::string> write_chakra(const Trace& t, const std::string& dir, const std::string& stem) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw InputError(dir, "cannot make the directory: " + ec.message());
  // A communicator of every rank is Chakra's default (no pg_name); the others are numbered from 1, as ASTRA-sim's
  // --comm-group-configuration numbers them (it takes "0" for the default group and refuses a group 0), and listed
  // in DIR/comm_groups.json, the file that option reads.
  std::vector<std::string> pg(t.comms.size());
  nlohmann::json groups = nlohmann::json::object();
  std::uint32_t next = 1;
  for (std::size_t c = 0; c < t.comms.size(); ++c) {
    bool world = t.comms[c].ranks.size() == t.world_size;
    for (std::uint32_t i = 0; world && i < t.comms[c].ranks.size(); ++i) world = t.comms[c].ranks[i] == i;
    if (world) continue;
    pg[c] = std::to_string(next++);
    groups[pg[c]] = t.comms[c].ranks;
  }
  std::vector<std::string> written;
  for (std::uint32_t r = 0; r < t.world_size; ++r) {
    const Program& prog = t.program(r);
    const std::string path = (std::filesystem::path(dir) / (stem + "." + std::to_string(r) + ".et")).string();
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream raw(&bytes);
      google::protobuf::io::CodedOutputStream out(&raw);
      collemu::chakra::GlobalMetadata meta;
      meta.set_version("0.0.4");
      auto* a = meta.add_attr();
      a->set_name("generator");
      a->set_string_val("collemu trace convert");
      out.WriteVarint32(static_cast<std::uint32_t>(meta.ByteSizeLong()));
      meta.SerializeToCodedStream(&out);
      std::map<std::pair<std::uint32_t, std::int32_t>, std::int64_t> tags;  // (slot, peer) -> transfers so far
      for (std::uint32_t i = 0; i < prog.ops.size(); ++i) {
        const Op& o = prog.ops[i];
        collemu::chakra::Node n;
        n.set_id(i + 1);
        if (!o.deps.empty()) {
          for (std::uint32_t d : o.deps) n.add_data_deps(d + 1);
        } else if (!prog.dag && i > 0) {
          n.add_data_deps(i);
        }
        if (o.kind == OpKind::Compute) {
          n.set_name("compute");
          n.set_type(collemu::chakra::COMP_NODE);
          n.set_duration_micros(static_cast<std::uint64_t>(std::llround(o.duration_s * 1e6)));
          add_bool(n, "is_cpu_op", false);
        } else {
          const std::uint32_t c = t.comm_of_slot[r][o.comm_slot];
          add_bool(n, "is_cpu_op", false);
          // ASTRA-sim's size of a reduce-scatter is the whole buffer: n times the count per rank the trace holds.
          const double size = o.coll == common::CollKind::ReduceScatter && o.kind == OpKind::Collective
                                  ? o.bytes() * static_cast<double>(t.comms[c].ranks.size())
                                  : o.bytes();
          add_int(n, "comm_size", static_cast<std::int64_t>(size));
          if (!pg[c].empty()) add_string(n, "pg_name", pg[c]);
          // What was measured of it (Trace::measured), as the duration Chakra's converters write for a kernel.
          if (r < t.measured.size() && i < t.measured[r].size() && t.measured[r][i].duration_s > 0)
            n.set_duration_micros(static_cast<std::uint64_t>(std::llround(t.measured[r][i].duration_s * 1e6)));
          if (o.kind == OpKind::Collective) {
            n.set_name(std::string(common::to_string(o.coll)));
            n.set_type(collemu::chakra::COMM_COLL_NODE);
            const std::int64_t type = comm_type_of(o.coll);
            if (type < 0)
              throw InputError(path, "op " + std::to_string(i) + ": " + common::to_string(o.coll) +
                                         " has no Chakra collective type");
            add_int(n, "comm_type", type);
            // Chakra's schema has no root: an attribute of ours, the root's global rank (readers that do not know it skip
            // it); none where the trace does not know the root (-1: Kineto and Flight Recorder give none).
            if ((o.coll == common::CollKind::Broadcast || o.coll == common::CollKind::Reduce) && o.root >= 0)
              add_int(n, "root", t.comms[c].ranks[static_cast<std::uint32_t>(o.root)]);
            auto* dim = n.add_attr();
            dim->set_name("involved_dim");
            dim->mutable_bool_list()->add_values(true);
          } else {
            const bool send = o.kind == OpKind::Send;
            const std::uint32_t peer = t.comms[c].ranks[static_cast<std::uint32_t>(o.root)];
            n.set_name(send ? "send" : "recv");
            n.set_type(send ? collemu::chakra::COMM_SEND_NODE : collemu::chakra::COMM_RECV_NODE);
            add_int(n, "comm_src", send ? r : peer);
            add_int(n, "comm_dst", send ? peer : r);
            add_int(n, "comm_tag", tags[{o.comm_slot, o.root}]++);
          }
        }
        out.WriteVarint32(static_cast<std::uint32_t>(n.ByteSizeLong()));
        n.SerializeToCodedStream(&out);
      }
    }
    common::write_file_atomically(path, bytes);
    written.push_back(path);
  }
  const std::string comm_groups = (std::filesystem::path(dir) / "comm_groups.json").string();
  common::write_file_atomically(comm_groups, groups.dump(1) + "\n");
  written.push_back(comm_groups);
  return written;
}

}  // namespace collemu::traces
