#include "models/router.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "common/error.hpp"
#include "common/hash.hpp"

namespace collemu::models {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

using common::mix64;

// The hash a switch computes for a flow: the flow key mixed with the switch's own seed (its node id), so that
// successive switches make independent choices (no hash polarisation).
std::uint64_t hop_hash(std::uint64_t key, NodeId node) { return mix64(key ^ ((node + 1) * kGolden)); }
double unit_interval(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// Weighted choice by hash (UCMP): index i with probability w_i / sum(w). Returns -1 when all weights are 0.
int pick_weighted(const std::vector<double>& w, std::uint64_t h) {
  double total = 0;
  for (double x : w) total += x;
  if (!(total > 0)) return -1;
  const double u = unit_interval(h) * total;
  double acc = 0;
  int last = -1;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] <= 0) continue;
    acc += w[i];
    last = static_cast<int>(i);
    if (u < acc) return last;
  }
  return last;
}

struct Scratch {
  std::vector<LinkId> cand;
  std::vector<double> weight;
  std::vector<std::pair<LinkId, LinkId>> spray;
  std::vector<NodeId> nodes;
  std::vector<std::uint32_t> ports;  // live NIC ports of the current flow
  std::vector<std::pair<std::uint32_t, std::uint32_t>> groups;  // adaptive routing: (spine index, first super)
  // Per port path, under failures: can BAG switch (by ordinal) still deliver to the destination leaf?
  std::vector<std::uint8_t> bag_delivers;  // 0 unknown, 1 yes, 2 no
};
thread_local Scratch tls;

}  // namespace

struct Router::Emitter {
  const Fabric& f;
  Route& r;
  void add(LinkId l, double share, std::uint16_t hop) {
    r.links.push_back(l);
    r.coefficients.push_back(share);
    r.hops.push_back(hop);
  }
  // DSF: equal shares over the (leaf->FE, FE->leaf) pairs, hops `hop` and `hop + 1`; multiplies the paths.
  void spray(const std::vector<std::pair<LinkId, LinkId>>& pairs, double mass, std::uint16_t hop) {
    const double share = mass / static_cast<double>(pairs.size());
    for (auto [x, y] : pairs) add(x, share, hop);
    for (auto [x, y] : pairs) add(y, share, hop + 1);
    r.path_count *= static_cast<double>(pairs.size());
  }
};

double mean_latency_s(const Fabric& fabric, const Route& route) {
  double s = 0;
  for (std::size_t i = 0; i < route.size(); ++i) s += route.coefficients[i] * fabric.link(route.links[i]).latency_s;
  return s;
}

Router::Router(const Fabric& fabric) : f_(fabric), failures_(fabric.num_failed_links() > 0) {
  const FabricLayout& L = f_.layout;
  // Capacity each node can pass inward (toward GPUs, away from the BAG): over live links, and as built.
  down_live_.assign(f_.num_nodes(), 0.0);
  down_built_.assign(f_.num_nodes(), 0.0);
  for (const Link& l : f_.links())
    if (l.tier != LinkTier::Bag && l.tier != LinkTier::InterRegion) {
      down_built_[l.src] += l.capacity_Bps;
      if (!l.failed) down_live_[l.src] += l.capacity_Bps;
    }
  if (!L.has_bag) return;
  for (const auto& R : L.regions) {
    bag_ordinal_.push_back(n_bag_total_);
    n_bag_total_ += R.n_bag;
  }
  const std::size_t nb = L.buildings.size();
  reach_live_.assign(std::size_t{n_bag_total_} * nb, 0.0);
  reach_built_.assign(std::size_t{n_bag_total_} * nb, 0.0);
  // Same region: BAG switch j -> top nodes of building B, each link weighted by what survives behind it.
  for (std::uint32_t bi = 0; bi < nb; ++bi) {
    const BuildingLayout& B = L.buildings[bi];
    const RegionLayout& R = L.regions[B.region];
    for (std::uint32_t i = 0; i < R.n_bag; ++i) {
      const NodeId j = R.bag_base + i;
      const PlaneLayout& P = B.planes[f_.node(j).plane];
      double live = 0, built = 0;
      for (LinkId l : f_.out_links_to(j, P.top_base, P.n_top)) {
        built += f_.link(l).capacity_Bps;
        if (up(l)) live += f_.link(l).capacity_Bps * survival(down_live_, down_built_, f_.link(l).dst);
      }
      reach_live_[std::size_t{bag_ordinal_[B.region] + i} * nb + bi] = live;
      reach_built_[std::size_t{bag_ordinal_[B.region] + i} * nb + bi] = built;
    }
  }
  // Other regions: BAG switch j -> BAG switch k of the building's region -> building.
  for (std::uint32_t bi = 0; bi < nb; ++bi) {
    const std::uint16_t rb = L.buildings[bi].region;
    const RegionLayout& RB = L.regions[rb];
    for (std::uint16_t ra = 0; ra < L.regions.size(); ++ra) {
      if (ra == rb) continue;
      const RegionLayout& RA = L.regions[ra];
      for (std::uint32_t i = 0; i < RA.n_bag; ++i) {
        double live = 0, built = 0;
        for (LinkId l : f_.out_links_to(RA.bag_base + i, RB.bag_base, RB.n_bag)) {
          built += f_.link(l).capacity_Bps;
          if (up(l)) live += ucmp_weight(l, bi);
        }
        reach_live_[std::size_t{bag_ordinal_[ra] + i} * nb + bi] = live;
        reach_built_[std::size_t{bag_ordinal_[ra] + i} * nb + bi] = built;
      }
    }
  }
  build_choice_tables();
}

void Router::build_choice_tables() {
  const FabricLayout& L = f_.layout;
  const std::size_t nb = L.buildings.size();
  // Decision points, in order: every top-tier node, every DSF (building, plane) ingress, every BAG switch.
  point_of_.assign(f_.num_nodes(), kNoPoint);
  std::uint32_t n_points = 0;
  for (const auto& B : L.buildings)
    for (const auto& P : B.planes)
      for (std::uint32_t t = 0; t < P.n_top; ++t) point_of_[P.top_base + t] = n_points++;
  ingress_point_.assign(nb, kNoPoint);
  for (std::uint32_t bi = 0; bi < nb; ++bi)
    if (L.buildings[bi].kind == BuildingKind::Dsf) {
      ingress_point_[bi] = n_points;
      n_points += L.planes;
    }
  for (const auto& R : L.regions)
    for (std::uint32_t i = 0; i < R.n_bag; ++i) point_of_[R.bag_base + i] = n_points++;

  table_begin_.assign(std::size_t{n_points} * nb + 1, 0);
  auto add = [&](std::size_t table, std::span<const LinkId> links, std::uint32_t bd) {
    (void)table;
    double cum = 0;
    for (LinkId l : links) {
      const double w = ucmp_weight(l, bd);
      if (!(w > 0)) continue;
      cum += w;
      choice_link_.push_back(l);
      choice_cum_.push_back(cum);
    }
  };
  std::uint32_t point = 0;
  auto close = [&](std::size_t table) { table_begin_[table + 1] = static_cast<std::uint32_t>(choice_link_.size()); };
  for (const auto& B : L.buildings)
    for (const auto& P : B.planes)
      for (std::uint32_t t = 0; t < P.n_top; ++t, ++point) {
        const RegionLayout& R = L.regions[B.region];
        for (std::uint32_t bd = 0; bd < nb; ++bd) {
          const std::size_t table = std::size_t{point} * nb + bd;
          table_begin_[table] = static_cast<std::uint32_t>(choice_link_.size());
          add(table, f_.out_links_to(P.top_base + t, R.bag_base, R.n_bag), bd);
          close(table);
        }
      }
  for (std::uint32_t bi = 0; bi < nb; ++bi) {
    const BuildingLayout& B = L.buildings[bi];
    if (B.kind != BuildingKind::Dsf) continue;
    const RegionLayout& R = L.regions[B.region];
    const std::uint32_t per_plane = R.n_bag / L.planes;
    for (std::uint32_t pl = 0; pl < L.planes; ++pl, ++point) {
      const PlaneLayout& P = B.planes[pl];
      for (std::uint32_t bd = 0; bd < nb; ++bd) {
        const std::size_t table = std::size_t{point} * nb + bd;
        table_begin_[table] = static_cast<std::uint32_t>(choice_link_.size());
        double cum = 0;
        for (std::uint32_t e = 0; e < P.n_edges; ++e)
          for (LinkId l : f_.out_links_to(P.edge_base + e, R.bag_base + pl * per_plane, per_plane)) {
            const double w = ucmp_weight(l, bd);
            if (!(w > 0)) continue;
            cum += w;
            choice_link_.push_back(l);
            choice_cum_.push_back(cum);
          }
        close(table);
      }
    }
  }
  for (const auto& R : L.regions)
    for (std::uint32_t i = 0; i < R.n_bag; ++i, ++point) {
      const NodeId j = R.bag_base + i;
      for (std::uint32_t bd = 0; bd < nb; ++bd) {
        const std::size_t table = std::size_t{point} * nb + bd;
        table_begin_[table] = static_cast<std::uint32_t>(choice_link_.size());
        const BuildingLayout& D = L.buildings[bd];
        if (D.region == f_.node(j).region) {
          const PlaneLayout& P = D.planes[f_.node(j).plane];
          add(table, f_.out_links_to(j, P.top_base, P.n_top), bd);
        } else {
          const RegionLayout& RD = L.regions[D.region];
          add(table, f_.out_links_to(j, RD.bag_base, RD.n_bag), bd);
        }
        close(table);
      }
    }
  COLLEMU_ASSERT(point == n_points, "decision points miscounted");
}

std::span<const LinkId> Router::choice_links(std::uint32_t point, std::uint32_t bd, std::span<const double>* cum) const {
  const std::size_t t = std::size_t{point} * f_.layout.buildings.size() + bd;
  const std::uint32_t b = table_begin_[t], e = table_begin_[t + 1];
  if (cum) *cum = {choice_cum_.data() + b, choice_cum_.data() + e};
  return {choice_link_.data() + b, choice_link_.data() + e};
}

LinkId Router::pick(std::uint32_t point, std::uint32_t bd, std::uint64_t h) const {
  std::span<const double> cum;
  auto links = choice_links(point, bd, &cum);
  if (links.empty()) return kNoLink;
  const double u = unit_interval(h) * cum.back();
  const auto it = std::upper_bound(cum.begin(), cum.end(), u);
  return links[std::min<std::size_t>(static_cast<std::size_t>(it - cum.begin()), links.size() - 1)];
}

// The slow path of a UCMP choice, after the table's pick turned out unusable for this destination leaf:
// the table's choices with their weights, minus those `usable` rejects, picked again by a re-mixed hash.
template <class Usable>
LinkId Router::pick_usable(std::uint32_t point, std::uint32_t bd, std::uint64_t h, Usable&& usable) const {
  std::span<const double> cum;
  auto links = choice_links(point, bd, &cum);
  auto& w = tls.weight;
  w.assign(links.size(), 0.0);
  for (std::size_t i = 0; i < links.size(); ++i) w[i] = cum[i] - (i ? cum[i - 1] : 0.0);
  while (true) {
    const int k = pick_weighted(w, h);
    if (k < 0) return kNoLink;
    if (usable(links[k])) return links[k];
    w[k] = 0;
    h = mix64(h);
  }
}

double Router::survival(const std::vector<double>& live, const std::vector<double>& built, std::size_t i) {
  return built[i] > 0 ? live[i] / built[i] : 0.0;
}

double Router::ucmp_weight(LinkId l, std::uint32_t dst_building) const {
  const Link& x = f_.link(l);
  if (x.failed) return 0;
  if (f_.node(x.dst).kind != NodeKind::Bag) return x.capacity_Bps * survival(down_live_, down_built_, x.dst);
  const Node& n = f_.node(x.dst);
  const std::size_t i = std::size_t{bag_ordinal_[n.region] + n.index} * f_.layout.buildings.size() + dst_building;
  return x.capacity_Bps * survival(reach_live_, reach_built_, i);
}

std::vector<std::pair<LinkId, double>> Router::ucmp_weights(NodeId from, std::uint32_t dst_building) const {
  std::vector<std::pair<LinkId, double>> out;
  const FabricLayout& L = f_.layout;
  COLLEMU_ASSERT(L.has_bag && dst_building < L.buildings.size(), "ucmp_weights needs a BAG and a building");
  const Node& n = f_.node(from);
  const BuildingLayout& D = L.buildings[dst_building];
  std::span<const LinkId> links;
  if (n.kind == NodeKind::Bag && n.region == D.region) {
    const PlaneLayout& P = D.planes[n.plane];
    links = f_.out_links_to(from, P.top_base, P.n_top);
  } else {
    const RegionLayout& R = L.regions[n.kind == NodeKind::Bag ? D.region : n.region];
    links = f_.out_links_to(from, R.bag_base, R.n_bag);
  }
  for (LinkId l : links)
    if (up(l)) out.emplace_back(l, ucmp_weight(l, dst_building));
  return out;
}

NodeId Router::leaf_of(const BuildingLayout& B, std::uint32_t i, std::uint32_t plane, std::uint32_t slot) const {
  const FabricLayout& L = f_.layout;
  const std::uint32_t ppp = L.nic_ports / L.planes;
  const std::uint32_t nic = i / L.gpus_per_nic;  // the GPU's NIC, within the building
  std::uint32_t order = nic;
  if (L.attach == Attach::Rail) {
    const std::uint32_t nics_per_domain = L.gpus_per_domain / L.gpus_per_nic, nd = B.n_gpus / L.gpus_per_domain;
    order = (nic % nics_per_domain) * nd + nic / nics_per_domain;
  }
  return B.planes[plane].leaf_base + (order * ppp + slot) / B.leaf_ports;
}

LinkId Router::access_up(const BuildingLayout& B, std::uint32_t i, std::uint32_t plane, std::uint32_t slot) const {
  // A NIC's out-links sorted by destination: its GPUs, then its ports plane by plane, slot by slot (a port's
  // leaf id grows with its plane and slot; parallel links to one leaf keep port order).
  const std::uint32_t ppp = f_.layout.nic_ports / f_.layout.planes;
  const NodeId nic = nic_of(B, i);
  const LinkId l = f_.out_links(nic)[f_.layout.gpus_per_nic + plane * ppp + slot];
  COLLEMU_ASSERT(f_.link(l).dst == leaf_of(B, i, plane, slot), "NIC port order");
  return l;
}

LinkId Router::access_down(const BuildingLayout& B, std::uint32_t i, std::uint32_t plane, std::uint32_t slot) const {
  // Several ports of one NIC on one leaf are parallel links leaf->NIC, in port order: take the one of this slot.
  const NodeId leaf = leaf_of(B, i, plane, slot);
  auto links = f_.out_links_to(leaf, nic_of(B, i), 1);
  std::uint32_t first = slot;
  while (first > 0 && leaf_of(B, i, plane, first - 1) == leaf) --first;
  COLLEMU_ASSERT(slot - first < links.size(), "leaf->NIC port order");
  return links[slot - first];
}

void Router::dsf_viable(const PlaneLayout& P, NodeId a, NodeId b,
                        std::vector<std::pair<LinkId, LinkId>>& out) const {
  out.clear();
  // A fabric element's out-links, sorted by node id, list the host leaves first, then the edge leaves.
  const std::size_t position = b >= P.edge_base && b - P.edge_base < P.n_edges ? P.n_leaves + (b - P.edge_base)
                                                                               : b - P.leaf_base;
  auto fes = f_.out_links_to(a, P.mid_base, P.n_mid);
  for (std::uint32_t i = 0; i < fes.size(); ++i) {
    const LinkId af = fes[i];
    const NodeId fe = failures_ ? f_.link(af).dst : P.mid_base + i;
    const LinkId fb = f_.find_link(fe, b, position);
    if (!failures_ || (up(af) && up(fb))) out.emplace_back(af, fb);
  }
}

bool Router::top_delivers(const BuildingLayout& B, NodeId top, NodeId leaf) const {
  const PlaneLayout& P = B.planes[f_.node(top).plane];
  if (B.kind == BuildingKind::Dsf) {
    for (LinkId af : f_.out_links_to(top, P.mid_base, P.n_mid))
      if (up(af) && link_up(f_.link(af).dst, leaf)) return true;
    return false;
  }
  if (B.nsf_tiers == 2) return link_up(top, leaf);
  const std::uint32_t g = (top - P.super_base) / P.supers_per_group;
  const std::uint32_t pod = (leaf - P.leaf_base) / P.leaves_per_pod;
  const NodeId s = P.mid_base + pod * P.spines_per_pod + g;
  return link_up(top, s) && link_up(s, leaf);
}

namespace {
[[noreturn]] void no_route(const Fabric& f, NodeId a, NodeId b, const char* why) {
  throw RouteError("no live path from " + f.node_name(a) + " to " + f.node_name(b) + ": " + why);
}
}  // namespace

// From a top node (edge leaf / spine / super-spine) down to a host leaf of the same plane. Returns the hops used.
std::uint16_t Router::descend(const BuildingLayout& B, NodeId top, NodeId leaf, double mass, std::uint16_t hop,
                              Emitter& em) const {
  const PlaneLayout& P = B.planes[f_.node(top).plane];
  if (B.kind == BuildingKind::Dsf) {
    auto& sp = tls.spray;
    dsf_viable(P, top, leaf, sp);
    if (sp.empty()) no_route(f_, top, leaf, "no fabric element reaches the leaf");
    em.spray(sp, mass, hop);
    return 2;
  }
  if (B.nsf_tiers == 2) {
    em.add(f_.find_link(top, leaf), mass, hop);
    return 1;
  }
  const std::uint32_t g = (top - P.super_base) / P.supers_per_group;
  const std::uint32_t pod = (leaf - P.leaf_base) / P.leaves_per_pod;
  const NodeId s = P.mid_base + pod * P.spines_per_pod + g;
  em.add(f_.find_link(top, s), mass, hop);
  em.add(f_.find_link(s, leaf), mass, hop + 1);
  return 2;
}

std::uint16_t Router::route_building_local(std::uint64_t key, const BuildingLayout& B, std::uint32_t pl, NodeId a,
                                           NodeId b, double mass, std::uint16_t hop, Emitter& em) const {
  const PlaneLayout& P = B.planes[pl];
  if (B.kind == BuildingKind::Dsf) {
    auto& sp = tls.spray;
    dsf_viable(P, a, b, sp);
    if (sp.empty()) no_route(f_, a, b, "every fabric element path between the two leaves has failed");
    em.spray(sp, mass, hop);
    return 2;
  }
  const std::uint32_t pod_a = (a - P.leaf_base) / P.leaves_per_pod, pod_b = (b - P.leaf_base) / P.leaves_per_pod;
  const NodeId spine_a = P.mid_base + pod_a * P.spines_per_pod, spine_b = P.mid_base + pod_b * P.spines_per_pod;
  if (f_.layout.nsf_routing == NsfRouting::Adaptive) return route_adaptive(P, a, b, mass, hop, em);
  if (pod_a == pod_b) {
    const NodeId s = ecmp(key, a, spine_a, P.spines_per_pod, [&](NodeId x) { return link_up(a, x) && link_up(x, b); });
    if (s == kNoNode) no_route(f_, a, b, "every spine between the two leaves has failed");
    em.add(f_.find_link(a, s), mass, hop);
    em.add(f_.find_link(s, b), mass, hop + 1);
    return 2;
  }
  // 3 tiers, different pods: leaf -> spine g of pod a -> super of group g -> spine g of pod b -> leaf.
  auto super_ok = [&](NodeId s, NodeId x, NodeId s2) { return link_up(s, x) && link_up(x, s2); };
  auto spine_ok = [&](NodeId s) {
    const std::uint32_t g = s - spine_a;
    if (!link_up(a, s) || !link_up(spine_b + g, b)) return false;
    for (std::uint32_t x = 0; x < P.supers_per_group; ++x)
      if (super_ok(s, P.super_base + g * P.supers_per_group + x, spine_b + g)) return true;
    return false;
  };
  const NodeId s = ecmp(key, a, spine_a, P.spines_per_pod, spine_ok);
  if (s == kNoNode) no_route(f_, a, b, "every path through the super-spines has failed");
  const std::uint32_t g = s - spine_a;
  const NodeId s2 = spine_b + g;
  const NodeId x = ecmp(key, s, P.super_base + g * P.supers_per_group, P.supers_per_group,
                        [&](NodeId xn) { return super_ok(s, xn, s2); });
  em.add(f_.find_link(a, s), mass, hop);
  em.add(f_.find_link(s, x), mass, hop + 1);
  em.add(f_.find_link(x, s2), mass, hop + 2);
  em.add(f_.find_link(s2, b), mass, hop + 3);
  return 4;
}

// Adaptive routing inside an NSF building: the flow spread evenly over every live path between the two leaves (every
// spine of the pod, or across pods every spine index g with its live super-spines of group g), all paths of one
// length. Each path carries mass / paths; a link carries that times the paths through it.
std::uint16_t Router::route_adaptive(const PlaneLayout& P, NodeId a, NodeId b, double mass, std::uint16_t hop,
                                     Emitter& em) const {
  const std::uint32_t pod_a = (a - P.leaf_base) / P.leaves_per_pod, pod_b = (b - P.leaf_base) / P.leaves_per_pod;
  const NodeId spine_a = P.mid_base + pod_a * P.spines_per_pod, spine_b = P.mid_base + pod_b * P.spines_per_pod;
  if (pod_a == pod_b) {
    auto& sp = tls.spray;
    sp.clear();
    for (std::uint32_t g = 0; g < P.spines_per_pod; ++g) {
      const NodeId s = spine_a + g;
      if (!failures_ || (link_up(a, s) && link_up(s, b))) sp.emplace_back(f_.find_link(a, s), f_.find_link(s, b));
    }
    if (sp.empty()) no_route(f_, a, b, "every spine between the two leaves has failed");
    em.spray(sp, mass, hop);
    return 2;
  }
  // Across pods: per spine index g, the super-spines of group g that join spine g of both pods.
  auto& supers = tls.nodes;
  auto& live = tls.groups;  // (g, first index into supers), per usable g
  live.clear();
  supers.clear();
  for (std::uint32_t g = 0; g < P.spines_per_pod; ++g) {
    const NodeId s = spine_a + g, s2 = spine_b + g;
    if (failures_ && (!link_up(a, s) || !link_up(s2, b))) continue;
    const std::size_t first = supers.size();
    for (std::uint32_t k = 0; k < P.supers_per_group; ++k) {
      const NodeId x = P.super_base + g * P.supers_per_group + k;
      if (!failures_ || (link_up(s, x) && link_up(x, s2))) supers.push_back(x);
    }
    if (supers.size() > first) live.emplace_back(g, static_cast<std::uint32_t>(first));
  }
  if (live.empty()) no_route(f_, a, b, "every path through the super-spines has failed");
  const double paths = static_cast<double>(supers.size()), share = mass / paths;
  for (std::size_t i = 0; i < live.size(); ++i) {
    const auto [g, first] = live[i];
    const std::size_t end = i + 1 < live.size() ? live[i + 1].second : supers.size();
    const double through = share * static_cast<double>(end - first);
    const NodeId s = spine_a + g, s2 = spine_b + g;
    em.add(f_.find_link(a, s), through, hop);
    for (std::size_t k = first; k < end; ++k) em.add(f_.find_link(s, supers[k]), share, hop + 1);
    for (std::size_t k = first; k < end; ++k) em.add(f_.find_link(supers[k], s2), share, hop + 2);
    em.add(f_.find_link(s2, b), through, hop + 3);
  }
  em.r.path_count *= paths;
  return 4;
}

bool Router::bag_delivers(NodeId j, const Destination& d) const {
  if (!failures_) return true;
  const Node& n = f_.node(j);
  std::uint8_t& memo = tls.bag_delivers[bag_ordinal_[n.region] + n.index];
  if (memo) return memo == 1;
  bool ok = false;
  const BuildingLayout& D = *d.building;
  if (n.region == D.region) {
    // Down into the destination building on this switch's plane, to the destination's leaf and NIC port.
    const PlaneLayout& P = D.planes[n.plane];
    const NodeId leaf = leaf_of(D, d.local_gpu, n.plane, d.slot);
    if (up(access_down(D, d.local_gpu, n.plane, d.slot)))
      for (LinkId l : f_.out_links_to(j, P.top_base, P.n_top))
        if (up(l) && top_delivers(D, f_.link(l).dst, leaf)) {
          ok = true;
          break;
        }
  } else {
    const RegionLayout& R = f_.layout.regions[D.region];
    memo = 2;  // no cycles between regions, but be safe
    for (LinkId l : f_.out_links_to(j, R.bag_base, R.n_bag))
      if (up(l) && bag_delivers(f_.link(l).dst, d)) {
        ok = true;
        break;
      }
  }
  memo = ok ? 1 : 2;
  return ok;
}

bool Router::top_delivers_up(NodeId top, const Destination& d) const {
  if (!failures_) return true;
  for (std::span<const LinkId> links = choice_links(point_of_[top], d.index, nullptr); LinkId l : links)
    if (bag_delivers(f_.link(l).dst, d)) return true;
  return false;
}

void Router::route_port(const FlowLabel& flow, std::uint64_t key, std::uint32_t port, double mass,
                        Emitter& em) const {
  const FabricLayout& L = f_.layout;
  const std::uint32_t bs = building_of(flow.src_gpu), bd = building_of(flow.dst_gpu);
  const BuildingLayout &S = L.buildings[bs], &D = L.buildings[bd];
  const std::uint32_t is = flow.src_gpu - S.gpu_base, id = flow.dst_gpu - D.gpu_base;
  const std::uint32_t pl = port % L.planes, slot = port / L.planes;
  const NodeId nic_d = nic_of(D, id);
  const NodeId a = leaf_of(S, is, pl, slot);
  em.add(access_up(S, is, pl, slot), mass, 1);
  std::uint16_t hop = 2;

  if (bs == bd) {
    const NodeId b = leaf_of(D, id, pl, slot);
    if (a != b) hop += route_building_local(key, S, pl, a, b, mass, hop, em);
    em.add(access_down(D, id, pl, slot), mass, hop);
    return;
  }

  // Up to the building's top tier and a BAG link.
  const PlaneLayout& P = S.planes[pl];
  const Destination dest{&D, bd, id, slot};
  if (failures_) tls.bag_delivers.assign(n_bag_total_, 0);
  LinkId to_bag = kNoLink;
  if (S.kind == BuildingKind::Dsf) {
    // The ingress leaf picks the egress (edge leaf, BAG link) by UCMP, then sprays to that edge leaf.
    auto& sp = tls.spray;
    const std::uint32_t point = ingress_point_[bs] + pl;
    const std::uint64_t h = hop_hash(key, a);
    auto usable = [&](LinkId l) {
      if (failures_ && !bag_delivers(f_.link(l).dst, dest)) return false;
      dsf_viable(P, a, f_.link(l).src, sp);
      return !sp.empty();
    };
    to_bag = pick(point, bd, h);
    if (to_bag != kNoLink && !usable(to_bag)) to_bag = pick_usable(point, bd, mix64(h), usable);
    if (to_bag == kNoLink) no_route(f_, a, flow.dst_gpu, "no edge leaf with a live BAG link reaches the destination");
    em.spray(sp, mass, hop);
    hop += 2;
  } else {
    const std::uint32_t pod = (a - P.leaf_base) / P.leaves_per_pod;
    const NodeId spine0 = P.mid_base + pod * P.spines_per_pod;
    // A spine is usable when its link from the leaf is up and it (or, for 3 tiers, one of its super-spines)
    // still reaches the destination building through the BAG.
    auto super_usable = [&](NodeId s, NodeId x) { return link_up(s, x) && top_delivers_up(x, dest); };
    auto spine_usable = [&](NodeId s) {
      if (!link_up(a, s)) return false;
      if (S.nsf_tiers == 2) return top_delivers_up(s, dest);
      const std::uint32_t g = s - spine0;
      for (std::uint32_t x = 0; x < P.supers_per_group; ++x)
        if (super_usable(s, P.super_base + g * P.supers_per_group + x)) return true;
      return false;
    };
    NodeId top = ecmp(key, a, spine0, P.spines_per_pod, spine_usable);
    if (top == kNoNode) no_route(f_, a, flow.dst_gpu, "no spine of the source leaf reaches the BAG");
    em.add(f_.find_link(a, top), mass, hop++);
    if (S.nsf_tiers == 3) {
      const NodeId s = top;
      const NodeId x0 = P.super_base + (s - spine0) * P.supers_per_group;
      top = ecmp(key, s, x0, P.supers_per_group, [&](NodeId x) { return super_usable(s, x); });
      em.add(f_.find_link(s, top), mass, hop++);
    }
    const std::uint64_t h = hop_hash(key, top);
    auto usable = [&](LinkId l) { return bag_delivers(f_.link(l).dst, dest); };
    to_bag = pick(point_of_[top], bd, h);
    if (to_bag != kNoLink && failures_ && !usable(to_bag)) to_bag = pick_usable(point_of_[top], bd, mix64(h), usable);
    COLLEMU_ASSERT(to_bag != kNoLink, "top node chosen without a live BAG link to the destination");
  }
  em.add(to_bag, mass, hop++);
  NodeId j = f_.link(to_bag).dst;

  // Across regions: UCMP over the inter-BAG links toward the destination region.
  if (D.region != S.region) {
    const std::uint64_t h = hop_hash(key, j);
    auto usable = [&](LinkId l) { return bag_delivers(f_.link(l).dst, dest); };
    LinkId l = pick(point_of_[j], bd, h);
    if (l != kNoLink && failures_ && !usable(l)) l = pick_usable(point_of_[j], bd, mix64(h), usable);
    if (l == kNoLink) no_route(f_, j, flow.dst_gpu, "no live inter-region link reaches the destination building");
    em.add(l, mass, hop++);
    j = f_.link(l).dst;
  }

  // BAG switch -> a top node of the destination building (UCMP), then down to the destination leaf.
  const std::uint32_t dpl = f_.node(j).plane;
  const NodeId b = leaf_of(D, id, dpl, slot);
  const std::uint64_t h = hop_hash(key, j);
  auto delivers = [&](LinkId l) { return top_delivers(D, f_.link(l).dst, b); };
  LinkId down = pick(point_of_[j], bd, h);
  if (down != kNoLink && failures_ && !delivers(down)) down = pick_usable(point_of_[j], bd, mix64(h), delivers);
  if (down == kNoLink) no_route(f_, j, b, "no top-tier switch of the destination building reaches the leaf");
  em.add(down, mass, hop++);
  hop += descend(D, f_.link(down).dst, b, mass, hop, em);
  const LinkId last = access_down(D, id, dpl, slot);
  if (failures_ && !up(last)) no_route(f_, b, nic_d, "the destination's access link has failed");
  em.add(last, mass, hop);
}

// ECMP: one of `count` candidate nodes first..first+count-1, by the switch's hash of the flow key. Without
// failures every candidate is usable and the choice is one hash; with failures, the hash picks among the usable.
template <class Usable>
NodeId Router::ecmp(std::uint64_t key, NodeId at, NodeId first, std::uint32_t count, Usable&& usable) const {
  const std::uint64_t h = hop_hash(key, at);
  if (!failures_) return first + static_cast<NodeId>(h % count);
  auto& c = tls.nodes;
  c.clear();
  for (std::uint32_t i = 0; i < count; ++i)
    if (usable(first + i)) c.push_back(first + i);
  return c.empty() ? kNoNode : c[h % c.size()];
}

void Router::route(const FlowLabel& flow, Route& out) const {
  out.clear();
  const FabricLayout& L = f_.layout;
  const std::size_t n_gpus = std::size_t{L.gpus_per_building} * L.buildings.size();
  if (flow.src_gpu >= n_gpus || flow.dst_gpu >= n_gpus)
    throw RouteError("GPU " + std::to_string(std::max(flow.src_gpu, flow.dst_gpu)) + " does not exist (the fabric has " +
                     std::to_string(n_gpus) + " GPUs)");
  if (flow.src_gpu == flow.dst_gpu)
    throw RouteError("a flow needs two different GPUs; " + f_.node_name(flow.src_gpu) + " is both ends");
  Emitter em{f_, out};
  const std::uint32_t bs = building_of(flow.src_gpu), bd = building_of(flow.dst_gpu);
  const BuildingLayout &S = L.buildings[bs], &D = L.buildings[bd];
  const std::uint32_t is = flow.src_gpu - S.gpu_base, id = flow.dst_gpu - D.gpu_base;
  out.path_count = 1;
  if (bs == bd && S.nvs_base != kNoNode && is / L.gpus_per_domain == id / L.gpus_per_domain) {
    const NodeId nvs = S.nvs_base + is / L.gpus_per_domain;
    em.add(f_.find_link(flow.src_gpu, nvs), 1.0, 0);
    em.add(f_.find_link(nvs, flow.dst_gpu), 1.0, 1);
    return;
  }
  // The flow key: what the NICs and switches hash. RoCEv2 5-tuple = (src IP, dst IP, UDP, source port, 4791);
  // E-ECMP adds the destination QP.
  std::uint64_t key = mix64(flow.src_gpu * kGolden ^ mix64(flow.dst_gpu + 0x51ED270B));
  key = mix64(key ^ (std::uint64_t{flow.udp_sport} << 32 | 17u));
  if (L.ecmp_hash == EcmpHash::QueuePair) key = mix64(key ^ (flow.qp + 1) * 0xD1B54A32D192ED03ULL);
  if (L.hash_seed != 1) key = mix64(key ^ L.hash_seed * 0xA24BAED4963EE407ULL);  // routing.hash_seed

  const NodeId nic_s = nic_of(S, is), nic_d = nic_of(D, id);
  em.add(f_.find_link(flow.src_gpu, nic_s), 1.0, 0);
  // Ports whose access links are up on both ends share the flow (spray), or one of them carries it (hash).
  auto& live = tls.nodes;
  live.clear();
  for (std::uint32_t k = 0; k < L.nic_ports; ++k) {
    const std::uint32_t pl = k % L.planes, slot = k / L.planes;
    // (Spread inter-region wiring may change plane on the way: the destination side is checked on the way.)
    const bool dst_plane_known = S.region == D.region || L.wiring == BagWiring::Planar;
    if (!failures_ || (up(access_up(S, is, pl, slot)) && (!dst_plane_known || up(access_down(D, id, pl, slot)))))
      live.push_back(k);
  }
  if (live.empty()) no_route(f_, flow.src_gpu, flow.dst_gpu, "every NIC port of the pair has a failed access link");
  auto& ports = tls.ports;  // (tls.nodes is reused by the ECMP choices below)
  ports.assign(live.begin(), live.end());
  double paths = 0;
  const double base_paths = out.path_count;
  auto run = [&](std::uint32_t k, double mass) {
    out.path_count = base_paths;
    route_port(flow, mix64(key ^ (k + 1) * kGolden), k, mass, em);
    paths += out.path_count;
  };
  if (L.port_select == PortSelect::Spray) {
    // A plane with no live path between the pair drops out and the others share the flow (a NIC stops
    // using a port whose destination is unreachable). Failures only: the loop runs once on a healthy fabric.
    while (true) {
      const std::size_t mark = out.size();
      std::size_t dead = ports.size();
      for (std::size_t i = 0; i < ports.size() && dead == ports.size(); ++i) {
        try {
          run(ports[i], 1.0 / static_cast<double>(ports.size()));
        } catch (const RouteError&) {
          if (ports.size() == 1) throw;
          dead = i;
        }
      }
      if (dead == ports.size()) break;
      out.links.resize(mark);
      out.coefficients.resize(mark);
      out.hops.resize(mark);
      paths = 0;
      ports.erase(ports.begin() + static_cast<std::ptrdiff_t>(dead));
    }
  } else {
    // One port by hash; if its plane has no live path, the next hash among the remaining ports.
    std::uint64_t h = hop_hash(key, nic_s);
    while (true) {
      const std::size_t mark = out.size();
      const std::size_t i = h % ports.size();
      try {
        run(ports[i], 1.0);
        break;
      } catch (const RouteError&) {
        if (ports.size() == 1) throw;
        out.links.resize(mark);
        out.coefficients.resize(mark);
        out.hops.resize(mark);
        paths = 0;
        ports.erase(ports.begin() + static_cast<std::ptrdiff_t>(i));
        h = mix64(h);
      }
    }
  }
  out.path_count = paths;
  em.add(f_.find_link(nic_d, flow.dst_gpu), 1.0, out.hops.back() + 1);

  // Several ports in one plane, or spread inter-region wiring, can make two port paths share a link at the
  // same hop: merge them so that each (hop, link) appears once.
  const bool may_share = ports.size() > 1 && (L.nic_ports > L.planes || (L.wiring == BagWiring::Spread &&
                                                                          S.region != D.region));
  if (may_share) {
    std::vector<std::uint32_t> idx(out.size());
    std::iota(idx.begin(), idx.end(), 0u);
    std::sort(idx.begin(), idx.end(), [&](std::uint32_t x, std::uint32_t y) {
      return out.hops[x] != out.hops[y] ? out.hops[x] < out.hops[y] : out.links[x] < out.links[y];
    });
    Route merged;
    merged.path_count = out.path_count;
    for (std::uint32_t i : idx) {
      if (!merged.links.empty() && merged.links.back() == out.links[i] && merged.hops.back() == out.hops[i]) {
        merged.coefficients.back() += out.coefficients[i];
        continue;
      }
      merged.links.push_back(out.links[i]);
      merged.coefficients.push_back(out.coefficients[i]);
      merged.hops.push_back(out.hops[i]);
    }
    out = std::move(merged);
  }
}

}  // namespace collemu::models
