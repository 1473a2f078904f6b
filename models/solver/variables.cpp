#include "models/solver/variables.hpp"

#include "common/hash.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace collemu::models::solver {

namespace {
using common::mix64;
std::uint64_t bits(double d) { return common::bits_of(d); }
}  // namespace

void Variables::build(const RateProblem& p) {
  const std::size_t nf = p.num_flows(), nl = p.num_links();
  of_flow.assign(nf, 0);
  rep.clear();
  weight.clear();
  cap_share.clear();
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(16, 2 * nf));
  table_.assign(slots, Slot{0, ~0u});
  rep.reserve(nf);
  weight.reserve(nf);
  cap_share.reserve(nf);

  // Pass 1, sequential: every flow's hash. Pass 2: probe, with the slot of a flow `kAhead` positions later already
  // prefetched, so the table's cache misses overlap instead of queueing (the table is larger than the caches).
  hashes_.resize(nf);
  for (FlowIndex f = 0; f < nf; ++f) {
    auto links = p.links(f);
    auto a = p.coefficients(f);
    std::uint64_t h = bits(p.cap_Bps(f) / p.weight(f)) * 0x9E3779B97F4A7C15ULL ^ links.size();
    for (std::size_t i = 0; i < links.size(); ++i)
      h = std::rotl((h ^ (std::uint64_t{links[i]} * 0xD6E8FEB86659FD93ULL) ^ bits(a[i])) * 0xFF51AFD7ED558CCDULL, 29);
    hashes_[f] = mix64(h);
  }
  constexpr FlowIndex kAhead = 16;
  for (FlowIndex f = 0; f < nf; ++f) {
    if (f + kAhead < nf) __builtin_prefetch(&table_[hashes_[f + kAhead] & (slots - 1)]);
    const double cs = p.cap_Bps(f) / p.weight(f);
    auto links = p.links(f);
    auto a = p.coefficients(f);
    const std::uint64_t h = hashes_[f];
    std::size_t slot = h & (slots - 1);
    std::uint32_t var = ~0u;
    while (table_[slot].var != ~0u) {
      const std::uint32_t v = table_[slot].var;
      if (table_[slot].hash == h && cap_share[v] == cs && std::ranges::equal(p.links(rep[v]), links) &&
          std::ranges::equal(p.coefficients(rep[v]), a)) {
        var = v;
        break;
      }
      slot = (slot + 1) & (slots - 1);
    }
    if (var == ~0u) {
      var = static_cast<std::uint32_t>(rep.size());
      table_[slot] = Slot{h, var};
      rep.push_back(f);
      weight.push_back(0.0);
      cap_share.push_back(cs);
    }
    weight[var] += p.weight(f);
    of_flow[f] = var;
  }
  // Variable CSR: none needed when every flow is its own variable (variable v is then flow v).
  var_begin.assign(1, 0);
  var_link.clear();
  var_coeff.clear();
  if (rep.size() == nf) {
    offset_ = p.flow_offsets();
    link_ = p.entry_links();
    coeff_ = p.entry_coefficients();
  } else {
    for (FlowIndex f : rep) {
      var_link.insert(var_link.end(), p.links(f).begin(), p.links(f).end());
      var_coeff.insert(var_coeff.end(), p.coefficients(f).begin(), p.coefficients(f).end());
      var_begin.push_back(var_link.size());
    }
    offset_ = var_begin.data();
    link_ = var_link.data();
    coeff_ = var_coeff.data();
  }
  live_flows.assign(rep.size(), 0);
  for (FlowIndex f = 0; f < nf; ++f) ++live_flows[of_flow[f]];
  // Transpose by counting.
  link_begin.assign(nl + 1, 0);
  for (std::uint64_t i = 0; i < offset_[rep.size()]; ++i) ++link_begin[link_[i] + 1];
  for (std::size_t l = 0; l < nl; ++l) link_begin[l + 1] += link_begin[l];
  link_var.resize(link_begin[nl]);
  std::vector<std::uint64_t> fill(link_begin.begin(), link_begin.end() - 1);
  for (std::uint32_t v = 0; v < rep.size(); ++v)
    for (LinkIndex l : links(v)) link_var[fill[l]++] = v;
  build_components(nl);
}



namespace {
std::uint32_t find_root(std::vector<std::uint32_t>& parent, std::uint32_t x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}
}  // namespace

void Variables::build_components(std::size_t nl) {
  // Union-find over links: every variable joins the links it crosses.
  std::vector<std::uint32_t> parent(nl);
  for (std::uint32_t l = 0; l < nl; ++l) parent[l] = l;
  for (std::uint32_t v = 0; v < rep.size(); ++v) {
    auto ls = links(v);
    const std::uint32_t r0 = find_root(parent, ls[0]);
    for (std::size_t i = 1; i < ls.size(); ++i) {
      const std::uint32_t r = find_root(parent, ls[i]);
      if (r != r0) parent[r] = r0;
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
  group(rep.size(), [this](std::uint32_t v) { return component_of_variable(v); }, component_var_begin, component_var);
  group(nl, [this](std::uint32_t l) { return link_component[l]; }, component_link_begin, component_link);
}

double Variables::remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<const double> level) {
  double from = kNoCap;
  for (FlowIndex f : flows) {
    const std::uint32_t v = of_flow[f];
    from = std::min(from, level[v]);
    weight[v] -= p.weight(f);
    if (--live_flows[v] == 0) weight[v] = 0;  // no rounding residue on an empty variable
  }
  return from;
}

std::size_t Variables::memory_bytes() const {
  auto bytes = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  return bytes(of_flow) + bytes(rep) + bytes(weight) + bytes(cap_share) + bytes(var_begin) + bytes(var_link) +
         bytes(var_coeff) + bytes(link_begin) + bytes(link_var) + bytes(table_) + bytes(hashes_) + bytes(live_flows) +
         bytes(link_component) + bytes(component_var_begin) + bytes(component_var) + bytes(component_link_begin) +
         bytes(component_link);
}

}  // namespace collemu::models::solver
