#include "models/solver/variables.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "common/hash.hpp"

namespace collemu::models::solver {

namespace {

using common::mix64;

std::uint64_t flow_hash(const RateProblem& p, FlowIndex f, double cap_share) {
  auto links = p.links(f);
  auto a = p.coefficients(f);
  std::uint64_t h = common::bits_of(cap_share) * 0x9E3779B97F4A7C15ULL ^ links.size();
  for (std::size_t i = 0; i < links.size(); ++i)
    h = std::rotl((h ^ (std::uint64_t{links[i]} * 0xD6E8FEB86659FD93ULL) ^ common::bits_of(a[i])) * 0xFF51AFD7ED558CCDULL,
                  29);
  return mix64(h);
}

bool same_entries(VarView r, std::span<const LinkIndex> links, std::span<const double> a) {
  if (r.size() != links.size() || !std::ranges::equal(r.links(), links)) return false;
  for (std::uint32_t i = 0; i < a.size(); ++i)
    if (r.coefficient(i) != a[i]) return false;
  return true;
}

void push_double(HugeVector<std::uint32_t>& words, double d) {
  std::uint32_t w[2];
  std::memcpy(w, &d, sizeof d);
  words.push_back(w[0]);
  words.push_back(w[1]);
}

std::uint32_t find_root(std::vector<std::uint32_t>& parent, std::uint32_t x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

// Writes one buffered line of the transpose with non-temporal stores where the CPU has them: the destination lines
// are written whole, so reading them into the cache first (as ordinary stores do) would be wasted traffic.
inline void flush_line(std::uint32_t* dst, const std::uint32_t* src) {
#if defined(__SSE2__)
  for (int i = 0; i < 16; ++i) _mm_stream_si32(reinterpret_cast<int*>(dst + i), static_cast<int>(src[i]));
#else
  std::memcpy(dst, src, 16 * sizeof(std::uint32_t));
#endif
}

// Open addressing, linear probing. The slot keeps the hash's upper half, compared before the flows' entries.
struct Slot {
  std::uint32_t tag;
  std::uint32_t var;  // ~0 when empty
};

}  // namespace

void Variables::build(const RateProblem& p) {
  const std::size_t nf = p.num_flows(), nl = p.num_links();
  of_flow.resize(nf);
  cap_share.clear();
  record_at.clear();
  records.clear();
  live_flows.clear();
  records.reserve(p.num_entries() + 5 * nf);  // the size when no flows merge and every coefficient is 1

  // One sequential pass over the flows: each flow's slot is probed while the slot of the flow `kAhead` positions later
  // is already being fetched (its hash computed ahead into a ring), so the table's cache misses overlap; a flow unlike
  // every earlier one appends its record and counts on its links.
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(16, 2 * nf));
  HugeVector<Slot> table(slots, Slot{0, ~0u});
  link_vars.assign(nl, 0);
  constexpr FlowIndex kAhead = 16;
  std::uint64_t ring[kAhead];
  auto hash_of = [&](FlowIndex f) { return flow_hash(p, f, p.cap_Bps(f) / p.weight(f)); };
  for (FlowIndex f = 0; f < std::min<std::size_t>(kAhead, nf); ++f) ring[f] = hash_of(f);
  for (FlowIndex f = 0; f < nf; ++f) {
    const std::uint64_t hash = ring[f % kAhead];
    if (f + kAhead < nf) {
      ring[f % kAhead] = hash_of(f + kAhead);
      __builtin_prefetch(&table[ring[f % kAhead] & (slots - 1)]);
    }
    const double cs = p.cap_Bps(f) / p.weight(f);
    auto links = p.links(f);
    auto a = p.coefficients(f);
    const auto tag = static_cast<std::uint32_t>(hash >> 32);
    std::size_t slot = hash & (slots - 1);
    std::uint32_t var = ~0u;
    for (; table[slot].var != ~0u; slot = (slot + 1) & (slots - 1)) {
      const std::uint32_t v = table[slot].var;
      if (table[slot].tag == tag && cap_share[v] == cs && same_entries(view(v), links, a)) {
        var = v;
        break;
      }
    }
    if (var == ~0u) {
      var = static_cast<std::uint32_t>(record_at.size());
      table[slot] = Slot{tag, var};
      cap_share.push_back(cs);
      live_flows.push_back(0);
      const bool unit = std::ranges::all_of(a, [](double x) { return x == 1.0; });
      const auto n = static_cast<std::uint32_t>(links.size());
      if (records.size() / 2 + VarView::words(n, unit) >= std::numeric_limits<std::uint32_t>::max())
        throw SolverInputError("rate problem too large: the variable records exceed 32 GB");
      record_at.push_back(static_cast<std::uint32_t>(records.size() / 2));
      records.push_back(n | (unit ? 0x80000000u : 0u));
      records.push_back(0);
      push_double(records, 0.0);
      records.insert(records.end(), links.begin(), links.end());
      if (records.size() % 2) records.push_back(0);
      if (!unit)
        for (double x : a) push_double(records, x);
      for (LinkIndex l : links) ++link_vars[l];
    }
    set_weight(var, view(var).weight() + p.weight(f));
    ++live_flows[var];
    of_flow[f] = var;
  }
  table = {};

  // The transpose, written through one cache line of buffer per link so that memory receives whole lines (6,000
  // links are 6,000 write streams: entry by entry, each store would miss). The same pass adds each link's weighted
  // load (in variable order, as a filling from zero would) and unites the links a variable crosses (union-find).
  const auto nv = static_cast<std::uint32_t>(size());
  link_begin.resize(nl + 1);
  link_begin[0] = 0;
  for (std::size_t l = 0; l < nl; ++l) link_begin[l + 1] = link_begin[l] + link_vars[l];
  link_var.resize(link_begin[nl]);
  link_weight.assign(nl, 0.0);
  constexpr std::uint32_t kLine = 16;  // variable ids per 64-byte line
  struct alignas(64) Line {
    std::uint32_t var[kLine];
  };
  std::vector<Line> line(nl);
  std::vector<std::uint8_t> in_line(nl, 0);
  std::vector<std::uint64_t> fill(link_begin.begin(), link_begin.end() - 1);
  std::vector<std::uint32_t> parent(nl);
  for (std::uint32_t l = 0; l < nl; ++l) parent[l] = l;
  for (std::uint32_t v = 0; v < nv; ++v) {
    const VarView r = view(v);
    const double w = r.weight();
    auto links = r.links();
    const std::uint32_t r0 = find_root(parent, links[0]);
    for (std::uint32_t i = 0; i < links.size(); ++i) {
      const LinkIndex l = links[i];
      link_weight[l] += r.coefficient(i) * w;
      line[l].var[in_line[l]++] = v;
      if (in_line[l] == kLine) {
        flush_line(&link_var[fill[l]], line[l].var);
        fill[l] += kLine;
        in_line[l] = 0;
      }
      const std::uint32_t root = find_root(parent, l);
      if (root != r0) parent[root] = r0;
    }
  }
#if defined(__SSE2__)
  _mm_sfence();  // the non-temporal stores are visible before the transpose is read
#endif
  for (std::uint32_t l = 0; l < nl; ++l) std::memcpy(&link_var[fill[l]], line[l].var, in_line[l] * sizeof(std::uint32_t));
  build_components(parent);
}

void Variables::build_components(std::vector<std::uint32_t>& parent) {
  const auto nl = static_cast<std::uint32_t>(parent.size());
  // Dense component ids in link order; links crossed by nothing get their own (empty) component.
  link_component.assign(nl, ~0u);
  std::vector<std::uint32_t> id_of_root(nl, ~0u);
  std::uint32_t n = 0;
  for (std::uint32_t l = 0; l < nl; ++l) {
    const std::uint32_t r = find_root(parent, l);
    if (id_of_root[r] == ~0u) id_of_root[r] = n++;
    link_component[l] = id_of_root[r];
  }
  auto group = [n](std::size_t count, auto&& component_of, std::vector<std::uint64_t>& begin,
                   std::vector<std::uint32_t>& items) {
    begin.assign(n + 1, 0);
    for (std::uint32_t i = 0; i < count; ++i) ++begin[component_of(i) + 1];
    for (std::uint32_t c = 0; c < n; ++c) begin[c + 1] += begin[c];
    items.resize(count);
    std::vector<std::uint64_t> fill(begin.begin(), begin.end() - 1);
    for (std::uint32_t i = 0; i < count; ++i) items[fill[component_of(i)]++] = i;
  };
  group(size(), [this](std::uint32_t v) { return component_of_variable(v); }, component_var_begin, component_var);
  group(nl, [this](std::uint32_t l) { return link_component[l]; }, component_link_begin, component_link);
}

double Variables::remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<const double> level) {
  double from = kNoCap;
  for (FlowIndex f : flows) {
    const std::uint32_t v = of_flow[f];
    from = std::min(from, level[v]);
    // No rounding residue on an emptied variable.
    set_weight(v, --live_flows[v] == 0 ? 0.0 : view(v).weight() - p.weight(f));
  }
  return from;
}

std::size_t Variables::memory_bytes() const {
  auto bytes = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  return bytes(of_flow) + bytes(cap_share) + bytes(record_at) + bytes(records) + bytes(link_begin) + bytes(link_var) +
         bytes(link_weight) + bytes(link_vars) + bytes(live_flows) + bytes(link_component) +
         bytes(component_var_begin) + bytes(component_var) + bytes(component_link_begin) + bytes(component_link);
}

}  // namespace collemu::models::solver
