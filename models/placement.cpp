#include "models/placement.hpp"

#include <fstream>
#include <string>
#include <unordered_map>

#include "common/error.hpp"

namespace collemu::models {

using common::InputError;

Placement parse_placement(std::string_view text) {
  if (text == "packed") return Placement::Packed;
  if (text == "spread") return Placement::Spread;
  throw InputError("placement '" + std::string(text) + "'", "expected packed or spread");
}

const char* to_string(Placement p) {
  switch (p) {
    case Placement::Packed: return "packed";
    case Placement::Spread: return "spread";
    case Placement::Random: return "random";
    case Placement::File: return "file";
  }
  return "?";
}

PlacementSpec parse_placement_spec(std::string_view text) {
  PlacementSpec p;
  if (text == "packed" || text == "spread") {
    p.kind = parse_placement(text);
    return p;
  }
  if (text == "random" || text.starts_with("random:")) {
    p.kind = Placement::Random;
    if (text.size() > 6) {  // "random:..."
      const std::string seed(text.substr(7));
      std::size_t used = 0;
      try {
        p.seed = std::stoull(seed, &used);
      } catch (const std::logic_error&) {
        used = 0;
      }
      if (used != seed.size() || seed.empty() || seed[0] == '-')
        throw InputError("placement '" + std::string(text) + "'", "expected random:SEED with a whole number SEED");
    }
    return p;
  }
  if (text.starts_with("file:") && text.size() > 5) {
    p.kind = Placement::File;
    p.file = std::string(text.substr(5));
    return p;
  }
  throw InputError("placement '" + std::string(text) + "'", "expected packed, spread, random, random:SEED or file:PATH");
}

std::string to_string(const PlacementSpec& p) {
  if (p.kind == Placement::Random) return "random:" + std::to_string(p.seed);
  if (p.kind == Placement::File) return "file:" + p.file;
  return to_string(p.kind);
}

namespace {

// splitmix64: a generator whose output is the same on every platform (std's distributions are not).
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::vector<NodeId> read_placement(const Fabric& fabric, int ranks, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the placement file");
  const std::size_t n_gpus = std::size_t{fabric.layout.gpus_per_building} * fabric.layout.buildings.size();
  std::vector<NodeId> gpus;
  std::unordered_map<NodeId, std::size_t> line_of;
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    const auto hash = text.find('#');
    if (hash != std::string::npos) text.resize(hash);
    const auto b = text.find_first_not_of(" \t\r"), e = text.find_last_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const std::string word = text.substr(b, e - b + 1);
    const std::string where = path + ":" + std::to_string(line);
    NodeId g = kNoNode;
    if (word.find_first_not_of("0123456789") == std::string::npos && word.size() < 11) {
      const unsigned long long v = std::stoull(word);
      if (v >= n_gpus)
        throw InputError(where, "GPU " + word + " does not exist: the fabric has GPUs 0 to " + std::to_string(n_gpus - 1));
      g = static_cast<NodeId>(v);
    } else {
      g = fabric.find_node(word);
      if (g == kNoNode || fabric.node(g).kind != NodeKind::Gpu)
        throw InputError(where, "'" + word + "' is not a GPU of the fabric (expected a GPU id or a name such as " +
                                    fabric.node_name(0) + ")");
    }
    auto [it, fresh] = line_of.try_emplace(g, line);
    if (!fresh)
      throw InputError(where, "GPU " + word + " is given twice (first at line " + std::to_string(it->second) +
                                  "): expected one rank per GPU");
    gpus.push_back(g);
  }
  if (gpus.size() != static_cast<std::size_t>(ranks))
    throw InputError(path, std::to_string(gpus.size()) + " GPUs for a job of " + std::to_string(ranks) +
                               " ranks: expected one line per rank");
  return gpus;
}

}  // namespace

std::vector<NodeId> place_job(const Fabric& fabric, int ranks, const PlacementSpec& spec,
                              const std::vector<std::uint8_t>& taken) {
  const FabricLayout& L = fabric.layout;
  if (spec.kind == Placement::File) return read_placement(fabric, ranks, spec.file);
  const std::string where = std::to_string(ranks) + " ranks";
  if (ranks < 1) throw InputError(where, "expected at least 1 rank");
  const std::size_t n_gpus = std::size_t{L.gpus_per_building} * L.buildings.size();
  auto free = [&](NodeId g) { return taken.empty() || !taken[g]; };
  std::vector<NodeId> out;
  out.reserve(static_cast<std::size_t>(ranks));
  if (spec.kind == Placement::Packed || spec.kind == Placement::Random) {
    std::vector<NodeId> avail;
    for (NodeId g = 0; g < n_gpus; ++g)
      if (free(g)) avail.push_back(g);
    if (avail.size() < static_cast<std::size_t>(ranks))
      throw InputError(where, "more ranks than the " + std::to_string(avail.size()) + " free GPUs of the fabric's " +
                                  std::to_string(n_gpus));
    if (spec.kind == Placement::Random) {  // a partial Fisher-Yates shuffle
      std::uint64_t state = spec.seed;
      for (std::size_t i = 0; i < static_cast<std::size_t>(ranks); ++i) {
        const auto span = static_cast<unsigned __int128>(avail.size() - i);
        const auto j = i + static_cast<std::size_t>((next_random(state) * span) >> 64);
        std::swap(avail[i], avail[j]);
      }
    }
    avail.resize(static_cast<std::size_t>(ranks));
    return avail;
  }
  // Spread: the wholly free domains of each building, dealt round-robin.
  const std::uint32_t dom = L.gpus_per_domain, nb = static_cast<std::uint32_t>(L.buildings.size());
  std::vector<std::vector<NodeId>> domains(nb);  // per building: first GPU of each free domain
  for (std::uint32_t b = 0; b < nb; ++b)
    for (std::uint32_t d = 0; d < L.gpus_per_building / dom; ++d) {
      const NodeId first = L.buildings[b].gpu_base + d * dom;
      bool whole = true;
      for (std::uint32_t k = 0; k < dom && whole; ++k) whole = free(first + k);
      if (whole) domains[b].push_back(first);
    }
  for (int r = 0; r < ranks; ++r) {
    const std::uint32_t j = static_cast<std::uint32_t>(r) / dom, local = static_cast<std::uint32_t>(r) % dom;
    const std::uint32_t b = j % nb, d = j / nb;
    if (d >= domains[b].size())
      throw InputError(where, "spread placement needs " + std::to_string(d + 1) + " free NVLink domains in building " +
                                  std::to_string(b) + ", which has " + std::to_string(domains[b].size()));
    out.push_back(domains[b][d] + local);
  }
  return out;
}

std::vector<NodeId> place_ranks(const FabricLayout& L, int ranks, Placement placement) {
  const std::string where = std::to_string(ranks) + " ranks";
  const std::int64_t n_gpus = std::int64_t{L.gpus_per_building} * static_cast<std::int64_t>(L.buildings.size());
  if (ranks < 1) throw InputError(where, "expected at least 1 rank");
  if (ranks > n_gpus) throw InputError(where, "more ranks than the fabric's " + std::to_string(n_gpus) + " GPUs");
  const std::uint32_t dom = L.gpus_per_domain;
  const std::uint32_t nb = static_cast<std::uint32_t>(L.buildings.size());
  const std::uint32_t domains_per_building = L.gpus_per_building / dom;
  std::vector<NodeId> gpu(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    if (placement == Placement::Packed) {
      gpu[r] = static_cast<NodeId>(r);
      continue;
    }
    const std::uint32_t j = static_cast<std::uint32_t>(r) / dom, local = static_cast<std::uint32_t>(r) % dom;
    const std::uint32_t b = j % nb, d = j / nb;
    if (d >= domains_per_building)
      throw InputError(where, "spread placement needs " + std::to_string(d + 1) + " NVLink domains in building " +
                                  std::to_string(b) + ", which has " + std::to_string(domains_per_building));
    gpu[r] = L.buildings[b].gpu_base + d * dom + local;
  }
  return gpu;
}

}  // namespace collemu::models
