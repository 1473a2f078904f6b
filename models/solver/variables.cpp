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
  std::uint64_t h = common::bits_of(cap_share) * 0x9E3779B97F4A7C15ULL ^ links.size();
  for (LinkIndex l : links) h = std::rotl((h ^ (std::uint64_t{l} * 0xD6E8FEB86659FD93ULL)) * 0xFF51AFD7ED558CCDULL, 29);
  if (!p.unit(f))
    for (double a : p.coefficients(f)) h = std::rotl((h ^ common::bits_of(a)) * 0xFF51AFD7ED558CCDULL, 29);
  return mix64(h);
}

// Whether variable record `r` has flow f's links and coefficients.
bool same_entries(VarView r, const RateProblem& p, FlowIndex f) {
  auto links = p.links(f);
  if (r.size() != links.size() || r.unit() != p.unit(f) || !std::ranges::equal(r.links(), links)) return false;
  if (r.unit()) return true;
  auto a = p.coefficients(f);
  for (std::uint32_t i = 0; i < a.size(); ++i)
    if (r.coefficient(i) != a[i]) return false;
  return true;
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

}  // namespace

void Variables::build(const RateProblem& p) {
  const std::size_t nf = p.num_flows(), nl = p.num_links();
  const std::uint64_t* offsets = p.flow_offsets();
  const LinkIndex* entry_links = p.entry_links();
  // Sized for the case where no flows merge (the per-variable arrays) and every coefficient is 1 (the records), left
  // uninitialised (HugePageAllocator), written through pointers and cut to what was used at the end.
  of_flow.resize(nf);
  cap_share.resize(nf);
  record_at.resize(nf);
  live_flows.resize(nf);
  records.resize(p.num_entries() + 6 * nf + kRecordSlack);
  std::size_t used = 0;  // words of `records` written
  std::uint32_t nv = 0;
  link_vars.assign(nl, 0);

  // One sequential pass over the flows: each flow's slot is probed while the slot of the flow `kAhead` positions later
  // is already being fetched (its hash computed ahead into a ring), so the table's cache misses overlap; a flow unlike
  // every earlier one appends its record and counts on its links.
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(16, 2 * nf));
  if (table_.size() != slots) table_ = HugeVector<Slot>(slots);
  std::fill(table_.begin(), table_.end(), Slot{0, ~0u});
  Slot* table = table_.data();
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
    const double w = p.weight(f);
    const bool unit = p.unit(f);
    const std::span<const LinkIndex> links(entry_links + offsets[f], entry_links + offsets[f + 1]);
    const auto tag = static_cast<std::uint32_t>(hash >> 32);
    std::size_t slot = hash & (slots - 1);
    std::uint32_t var = ~0u;
    for (; table[slot].var != ~0u; slot = (slot + 1) & (slots - 1)) {
      const std::uint32_t v = table[slot].var;
      if (table[slot].tag == tag && cap_share[v] == cs && same_entries(view(v), p, f)) {
        var = v;
        break;
      }
    }
    if (var != ~0u) {  // a copy of an earlier flow: its weight joins that variable
      set_weight(var, view(var).weight() + w);
      ++live_flows[var];
      of_flow[f] = var;
      continue;
    }
    var = nv++;
    table[slot] = Slot{tag, var};
    cap_share[var] = cs;
    live_flows[var] = 1;
    of_flow[f] = var;
    const auto n = static_cast<std::uint32_t>(links.size());
    const std::uint32_t words = VarView::words(n, unit);
    if ((used + words) / 2 >= std::numeric_limits<std::uint32_t>::max())
      throw SolverInputError("rate problem too large: the variable records exceed 32 GB");
    if (used + words + kRecordSlack > records.size()) {
      records.resize(used);  // a reallocation copies only what was written
      records.resize(std::max(2 * used, used + words) + kRecordSlack);
    }
    std::uint32_t* rec = records.data() + used;
    record_at[var] = static_cast<std::uint32_t>(used / 2);
    rec[0] = n | (unit ? 0x80000000u : 0u);
    rec[1] = 0;
    std::memcpy(rec + 2, &w, sizeof w);
    std::memcpy(rec + 4, links.data(), n * sizeof(LinkIndex));
    if ((4 + n) % 2) rec[4 + n] = 0;
    if (!unit) std::memcpy(rec + VarView::coeff_word(n), p.coefficients(f).data(), n * sizeof(double));
    used += words;
    for (LinkIndex l : links) ++link_vars[l];
  }
  // A large table stays for the next build (refilling it costs less than faulting in fresh pages); a small one, as
  // in the many small problems of a flow engine, goes now.
  if (table_.size() * sizeof(Slot) < HugePageAllocator<Slot>::kHuge) HugeVector<Slot>().swap(table_);
  records.resize(used + kRecordSlack);
  std::fill(records.begin() + static_cast<std::ptrdiff_t>(used), records.end(), 0u);
  cap_share.resize(nv);
  record_at.resize(nv);
  live_flows.resize(nv);

  // The transpose, written through one cache line of buffer per link so that memory receives whole lines (6,000
  // links are 6,000 write streams: entry by entry, each store would miss). The same pass adds each link's weighted
  // load (in variable order, as a filling from zero would).
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
  for (std::uint32_t v = 0; v < nv; ++v) {
    const VarView r = view(v);
    const double w = r.weight();
    auto links = r.links();
    for (std::uint32_t i = 0; i < links.size(); ++i) {
      const LinkIndex l = links[i];
      link_weight[l] += r.coefficient(i) * w;
      line[l].var[in_line[l]++] = v;
      if (in_line[l] == kLine) {
        flush_line(&link_var[fill[l]], line[l].var);
        fill[l] += kLine;
        in_line[l] = 0;
      }
    }
  }
#if defined(__SSE2__)
  _mm_sfence();  // the non-temporal stores are visible before the transpose is read
#endif
  for (std::uint32_t l = 0; l < nl; ++l) std::memcpy(&link_var[fill[l]], line[l].var, in_line[l] * sizeof(std::uint32_t));
  indexed_ = false;
}

void Variables::index(std::size_t num_flows) {
  if (indexed_) return;
  const auto nl = static_cast<std::uint32_t>(link_vars.size());
  // Union-find over the links each variable crosses.
  std::vector<std::uint32_t> parent(nl);
  for (std::uint32_t l = 0; l < nl; ++l) parent[l] = l;
  for (std::uint32_t v = 0; v < size(); ++v) {
    auto links = view(v).links();
    const std::uint32_t r0 = find_root(parent, links[0]);
    for (LinkIndex l : links.subspan(1)) {
      const std::uint32_t root = find_root(parent, l);
      if (root != r0) parent[root] = r0;
    }
  }
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
  var_component.resize(size());
  for (std::uint32_t v = 0; v < size(); ++v) var_component[v] = link_component[view(v).links()[0]];
  group(size(), [this](std::uint32_t v) { return var_component[v]; }, component_var_begin, component_var);
  group(nl, [this](std::uint32_t l) { return link_component[l]; }, component_link_begin, component_link);
  // Variable -> its flows.
  var_flow_begin.assign(size() + 1, 0);
  for (std::size_t f = 0; f < num_flows; ++f) ++var_flow_begin[of_flow[f] + 1];
  for (std::size_t v = 0; v < size(); ++v) var_flow_begin[v + 1] += var_flow_begin[v];
  var_flow.resize(num_flows);
  std::vector<std::uint32_t> next(var_flow_begin.begin(), var_flow_begin.end() - 1);
  for (std::size_t f = 0; f < num_flows; ++f) var_flow[next[of_flow[f]]++] = static_cast<FlowIndex>(f);
  indexed_ = true;
}

double Variables::remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<const double> level,
                               std::span<const std::uint8_t> alive) {
  double from = kNoCap;
  std::vector<std::uint32_t> changed;
  for (FlowIndex f : flows) {
    const std::uint32_t v = of_flow[f];
    from = std::min(from, level[v]);
    --live_flows[v];
    changed.push_back(v);
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  // Each changed variable's weight is summed again over its live flows, in flow order as build() sums it (taking the
  // removed weights off could leave a residue, or nothing of a small weight merged with a large one).
  for (std::uint32_t v : changed) {
    double w = 0;
    bool first = true;
    for (auto i = var_flow_begin[v]; i < var_flow_begin[v + 1]; ++i)
      if (alive[var_flow[i]]) {
        w = first ? p.weight(var_flow[i]) : w + p.weight(var_flow[i]);
        first = false;
      }
    set_weight(v, w);
  }
  return from;
}

std::size_t Variables::memory_bytes() const {
  auto bytes = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  return bytes(of_flow) + bytes(cap_share) + bytes(record_at) + bytes(records) + bytes(link_begin) + bytes(link_var) +
         bytes(link_weight) + bytes(link_vars) + bytes(live_flows) + bytes(link_component) + bytes(var_component) +
         bytes(component_var_begin) + bytes(component_var) + bytes(component_link_begin) + bytes(component_link) +
         bytes(var_flow_begin) + bytes(var_flow) + bytes(table_);
}

}  // namespace collemu::models::solver
