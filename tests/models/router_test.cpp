// Router: path sets and coefficients on the presets, checked against closed forms (spray widths, ECMP
// uniformity by a chi-square test, UCMP weights before and after failures) and against flow conservation on
// random pairs, with and without failures.
#include "models/router.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "fabric_test_util.hpp"
#include "models/solver/instances.hpp"
#include "models/solver_instances.hpp"

namespace collemu::models {
namespace {

using testing::build;

// Flow conservation: every hop carries the whole flow (coefficients sum to 1), each hop starts where the flow
// arrived at the previous one, node by node; no failed link is used; no link appears twice in one hop.
void check_route(const Fabric& f, const FlowLabel& flow, const Route& r) {
  ASSERT_GT(r.size(), 0u);
  const int hops = r.hops.back() + 1;
  std::vector<std::map<NodeId, double>> in(hops + 1), out(hops + 1);
  std::map<std::pair<int, LinkId>, int> seen;
  for (std::size_t i = 0; i < r.size(); ++i) {
    ASSERT_EQ((++seen[{r.hops[i], r.links[i]}]), 1) << "link twice in a hop: " << f.link_name(r.links[i]);
    const Link& l = f.link(r.links[i]);
    ASSERT_FALSE(l.failed) << f.link_name(r.links[i]);
    ASSERT_GT(r.coefficients[i], 0);
    ASSERT_LE(r.coefficients[i], 1 + 1e-12);
    out[r.hops[i]][l.src] += r.coefficients[i];
    in[r.hops[i] + 1][l.dst] += r.coefficients[i];
  }
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_EQ(out[0].begin()->first, flow.src_gpu);
  ASSERT_EQ(in[hops].size(), 1u);
  EXPECT_EQ(in[hops].begin()->first, flow.dst_gpu);
  EXPECT_NEAR(in[hops].begin()->second, 1.0, 1e-12);
  for (int h = 1; h < hops; ++h) {
    double sum = 0;
    for (auto [node, x] : out[h]) {
      sum += x;
      auto it = in[h].find(node);
      ASSERT_NE(it, in[h].end()) << "hop " << h << " leaves " << f.node_name(node) << " where nothing arrived";
      EXPECT_NEAR(it->second, x, 1e-12) << f.node_name(node);
    }
    EXPECT_NEAR(sum, 1.0, 1e-12) << "hop " << h;
    EXPECT_EQ(in[h].size(), out[h].size()) << "hop " << h;
  }
}

// Coefficients summed per (tier, direction).
std::map<std::pair<LinkTier, bool>, double> tier_sums(const Fabric& f, const Route& r) {
  std::map<std::pair<LinkTier, bool>, double> s;
  for (std::size_t i = 0; i < r.size(); ++i) s[{f.link(r.links[i]).tier, f.link(r.links[i]).up}] += r.coefficients[i];
  return s;
}

// Chi-square critical value for df degrees of freedom at p = 0.001, by the Wilson-Hilferty approximation
// df (1 - 2/(9 df) + z sqrt(2/(9 df)))^3 with z = 3.0902 (the 0.999 normal quantile); within 0.1% of the
// exact value for df >= 4 (e.g. df = 63: 103.5 vs 103.4).
double chi2_critical_p001(int df) {
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1 - a + 3.0902 * std::sqrt(a), 3);
}
double chi2(const std::vector<double>& observed, const std::vector<double>& expected) {
  double x = 0;
  for (std::size_t i = 0; i < observed.size(); ++i)
    x += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  return x;
}

TEST(Router, MeanLatencyAddsHopAndFibreDelays) {
  // Two NSF buildings 10 km from their BAG, 1 us per switch hop. NIC -> leaf -> spine -> BAG -> spine -> leaf
  // -> NIC: 4 in-building hops of 1 us and 2 BAG hops of 1 us + 10 km x 5 us/km = 4 + 2 x 51 = 106 us.
  auto f = build("prometheus", {"fabric.kind=nsf", "building.distance=10km", "fabric.hop_latency=1us"});
  Router r(f);
  Route route;
  r.route({3, 16384 + 3000}, route);
  EXPECT_NEAR(mean_latency_s(f, route), 106e-6, 1e-15);
}

TEST(Router, PortsInOnePlaneUseTheirOwnAccessLinks) {
  // 8 ports on 4 planes: two ports of each NIC per plane, usually on the same leaf (parallel links). Each port
  // path must load its own link: 8 distinct NIC->leaf links at 1/8 each.
  auto f = build("prometheus", {"nic.ports=8", "building.gpus=8192"});
  Router r(f);
  Route route;
  FlowLabel flow{0, 1000};
  r.route(flow, route);
  check_route(f, flow, route);
  int access_up = 0;
  for (std::size_t i = 0; i < route.size(); ++i)
    if (f.link(route.links[i]).tier == LinkTier::Access && f.link(route.links[i]).up) {
      ++access_up;
      EXPECT_NEAR(route.coefficients[i], 1.0 / 8, 1e-15);
    }
  EXPECT_EQ(access_up, 8);
}

TEST(Router, SameDomainUsesNvLink) {
  auto f = build("prometheus");
  Router r(f);
  Route route;
  r.route({0, 7}, route);
  ASSERT_EQ(route.size(), 2u);
  EXPECT_EQ(f.link(route.links[0]).tier, LinkTier::NvLink);
  EXPECT_EQ(route.coefficients[0], 1.0);
  EXPECT_EQ(route.path_count, 1.0);
}

TEST(Router, DsfSpraysOverEveryFabricElement) {
  // GPUs 0 and 1000 of the DSF building sit on different leaves (72 GPUs per leaf). 4 planes x 16 fabric
  // elements = 64 paths, each carrying 1/64 of the flow on its leaf->FE and FE->leaf links.
  auto f = build("prometheus");
  Router r(f);
  Route route;
  FlowLabel flow{0, 1000};
  r.route(flow, route);
  check_route(f, flow, route);
  EXPECT_EQ(route.path_count, 64.0);
  auto sums = tier_sums(f, route);
  EXPECT_NEAR((sums[{LinkTier::L1L2, true}]), 1.0, 1e-12);
  EXPECT_NEAR((sums[{LinkTier::L1L2, false}]), 1.0, 1e-12);
  EXPECT_NEAR((sums[{LinkTier::Access, true}]), 1.0, 1e-12);
  for (std::size_t i = 0; i < route.size(); ++i)
    if (f.link(route.links[i]).tier == LinkTier::L1L2) {
      EXPECT_NEAR(route.coefficients[i], 1.0 / 64, 1e-15);
    }
}

TEST(Router, DsfInputBalancedAfterFabricElementFailure) {
  // One fabric element of plane 0 fails: plane 0 sprays over the other 15, the other planes keep 16.
  auto f = build("prometheus");
  f.fail("r0.b0.p0.fe3");
  Router r(f);
  Route route;
  FlowLabel flow{0, 1000};
  r.route(flow, route);
  check_route(f, flow, route);
  EXPECT_EQ(route.path_count, 63.0);
  for (std::size_t i = 0; i < route.size(); ++i) {
    const Link& l = f.link(route.links[i]);
    if (l.tier != LinkTier::L1L2) continue;
    EXPECT_NEAR(route.coefficients[i], f.node(l.src).plane == 0 ? 1.0 / (4 * 15) : 1.0 / (4 * 16), 1e-15);
  }
}

TEST(Router, PlaneWithoutPathDropsOut) {
  // Every fabric element of plane 2 fails: the flow is sprayed over the 3 remaining planes.
  auto f = build("prometheus");
  for (int fe = 0; fe < 16; ++fe) f.fail("r0.b0.p2.fe" + std::to_string(fe));
  Router r(f);
  Route route;
  FlowLabel flow{0, 1000};
  r.route(flow, route);
  check_route(f, flow, route);
  EXPECT_EQ(route.path_count, 48.0);
  for (std::size_t i = 0; i < route.size(); ++i)
    if (f.link(route.links[i]).tier == LinkTier::Access) {
      EXPECT_NEAR(route.coefficients[i], 1.0 / 3, 1e-15);
    }
}

TEST(Router, NsfEcmpTakesOnePathPerPlane) {
  auto f = build("prometheus");
  Router r(f);
  Route route;
  const NodeId base = 16384;  // the NSF building
  FlowLabel flow{base + 0, base + 1000};
  r.route(flow, route);
  check_route(f, flow, route);
  EXPECT_EQ(route.path_count, 4.0);
  int spines = 0;
  for (std::size_t i = 0; i < route.size(); ++i)
    if (f.link(route.links[i]).tier == LinkTier::L1L2 && f.link(route.links[i]).up) {
      ++spines;
      EXPECT_NEAR(route.coefficients[i], 0.25, 1e-15);
    }
  EXPECT_EQ(spines, 4);
}

// The plane-0 spine a flow's hash picks.
NodeId spine_in_plane0(const Fabric& f, const Route& route) {
  for (std::size_t i = 0; i < route.size(); ++i) {
    const Link& l = f.link(route.links[i]);
    if (l.tier == LinkTier::L1L2 && l.up && f.node(l.dst).plane == 0) return l.dst;
  }
  return kNoNode;
}

// routing.hash_seed: another seed re-draws the ECMP choices (about 63 of 64 flows move to another plane-0 spine when
// the hashes are independent: at least half here), the same seed gives the same paths, and seed 1 is the unseeded hash.
TEST(Router, TheHashSeedRedrawsEcmpChoices) {
  auto seeded = [](const char* seed) {
    auto c = FabricConfig::from_preset("prometheus");
    c.set_assignment(std::string("routing.hash_seed=") + seed);
    return build_fabric(c);
  };
  const Fabric f1 = build("prometheus"), s1 = seeded("1"), s2 = seeded("2"), s2b = seeded("2");
  Router r1(f1), q1(s1), q2(s2), q2b(s2b);
  Route a, b, c, d;
  const NodeId base = 16384;
  int moved = 0;
  for (NodeId i = 0; i < 64; ++i) {
    const FlowLabel flow{base + i, base + 1000 + 17 * i};
    r1.route(flow, a);
    q1.route(flow, b);
    q2.route(flow, c);
    q2b.route(flow, d);
    EXPECT_EQ(a.links, b.links);
    EXPECT_EQ(c.links, d.links);
    moved += spine_in_plane0(f1, a) != spine_in_plane0(s2, c);
  }
  EXPECT_GE(moved, 32);
}

TEST(Router, EcmpHashSpreadsQueuePairsUniformly) {
  // E-ECMP: 6,400 QPs of one connection over 64 spines; uniform hashing gives a chi-square statistic below the
  // p = 0.001 critical value with 63 degrees of freedom.
  auto f = build("prometheus");
  Router r(f);
  const NodeId base = 16384;
  const NodeId first_spine = f.layout.buildings[1].planes[0].mid_base;
  std::vector<double> counts(64, 0.0);
  Route route;
  for (std::uint32_t qp = 0; qp < 6400; ++qp) {
    r.route({base + 0, base + 1000, qp}, route);
    counts[spine_in_plane0(f, route) - first_spine] += 1;
  }
  EXPECT_LT(chi2(counts, std::vector<double>(64, 100.0)), chi2_critical_p001(63));
}

TEST(Router, FiveTupleHashIgnoresQueuePairs) {
  // Plain 5-tuple ECMP: all QPs of a connection share the UDP 5-tuple, so they share one path (the low entropy
  // that Meta's E-ECMP fixes); different UDP source ports spread again.
  auto f = build("prometheus", {"nsf.hash=five-tuple"});
  Router r(f);
  const NodeId base = 16384;
  Route route;
  r.route({base, base + 1000, 0}, route);
  const NodeId first = spine_in_plane0(f, route);
  for (std::uint32_t qp = 1; qp < 64; ++qp) {
    r.route({base, base + 1000, qp}, route);
    EXPECT_EQ(spine_in_plane0(f, route), first);
  }
  std::vector<double> counts(64, 0.0);
  const NodeId first_spine = f.layout.buildings[1].planes[0].mid_base;
  for (std::uint32_t port = 0; port < 6400; ++port) {
    r.route({base, base + 1000, 0, 49152 + port}, route);
    counts[spine_in_plane0(f, route) - first_spine] += 1;
  }
  EXPECT_LT(chi2(counts, std::vector<double>(64, 100.0)), chi2_critical_p001(63));
}

TEST(Router, EcmpAvoidsFailedSpine) {
  auto f = build("prometheus");
  f.fail("r0.b1.p0.spine5");
  Router r(f);
  const NodeId failed = f.find_node("r0.b1.p0.spine5");
  Route route;
  for (std::uint32_t qp = 0; qp < 2000; ++qp) {
    FlowLabel flow{16384, 16384 + 1000, qp};
    r.route(flow, route);
    EXPECT_NE(spine_in_plane0(f, route), failed);
  }
  r.route({16384, 17384}, route);
  check_route(f, {16384, 17384}, route);
}

// nsf.routing=adaptive (InfiniBand adaptive routing): a flow inside an NSF building is spread evenly over every live
// spine of every plane, 1/planes x 1/spines on each leaf->spine link, planes x spines paths; a failed spine takes no
// share and the others of its plane split its plane's quarter.
TEST(Router, AdaptiveRoutingSpreadsOverEveryLiveSpine) {
  auto f = build("prometheus", {"nsf.routing=adaptive"});
  const PlaneLayout& P = f.layout.buildings[1].planes[0];
  const double spines = P.spines_per_pod, planes = f.layout.planes;
  const FlowLabel flow{16384, 16384 + 1000};
  Route route;
  Router(f).route(flow, route);
  check_route(f, flow, route);
  EXPECT_EQ(route.path_count, planes * spines);
  int up = 0;
  for (std::size_t i = 0; i < route.size(); ++i)
    if (f.link(route.links[i]).tier == LinkTier::L1L2 && f.link(route.links[i]).up) {
      ++up;
      EXPECT_NEAR(route.coefficients[i], 1 / (planes * spines), 1e-15);
    }
  EXPECT_EQ(up, planes * spines);

  f.fail("r0.b1.p0.spine5");
  const NodeId failed = f.find_node("r0.b1.p0.spine5");
  Router(f).route(flow, route);
  check_route(f, flow, route);
  for (std::size_t i = 0; i < route.size(); ++i) {
    const Link& l = f.link(route.links[i]);
    if (l.tier != LinkTier::L1L2 || !l.up) continue;
    EXPECT_NE(l.dst, failed);
    const double expected = 1 / (planes * (f.node(l.dst).plane == 0 ? spines - 1 : spines));
    EXPECT_NEAR(route.coefficients[i], expected, 1e-15) << f.link_name(route.links[i]);
  }
}

// Three tiers, adaptive, across pods: every (spine g, super-spine of group g) pair of a plane is a path, spines x
// supers per group of them; a leaf->spine link carries its supers' paths, a spine->super link one path.
TEST(Router, AdaptiveRoutingAcrossPodsSpreadsOverEverySuperSpine) {
  auto f = build("llama3-24k", {"nsf.routing=adaptive"});
  const PlaneLayout& P = f.layout.buildings[0].planes[0];
  const double planes = f.layout.planes, paths = static_cast<double>(P.spines_per_pod) * P.supers_per_group;
  const FlowLabel flow{0, 3072 * 5 + 17};
  Route route;
  Router(f).route(flow, route);
  check_route(f, flow, route);
  EXPECT_EQ(route.path_count, planes * paths);
  std::map<std::pair<LinkTier, bool>, int> count;
  for (std::size_t i = 0; i < route.size(); ++i) {
    const Link& l = f.link(route.links[i]);
    ++count[{l.tier, l.up}];
    const double per_path = 1 / (planes * paths);
    if (l.tier == LinkTier::L2L3) EXPECT_NEAR(route.coefficients[i], per_path, 1e-15);
    if (l.tier == LinkTier::L1L2) EXPECT_NEAR(route.coefficients[i], per_path * P.supers_per_group, 1e-15);
  }
  EXPECT_EQ((count[{LinkTier::L2L3, true}]), planes * paths);
  EXPECT_EQ((count[{LinkTier::L1L2, true}]), planes * P.spines_per_pod);
}

TEST(Router, UcmpWeightsFollowBandwidthAndShrinkAfterFailures) {
  // A spine of the NSF building (plane 0) reaches the DSF building through the 5 BAG switches of plane 0, one
  // link each, all of equal capacity: equal weights. Then half the BAG's reach is cut: 25 of the 51 links from
  // r0.bag0 down to the DSF building's plane-0 edge leaves fail, so bag0 keeps 26/51 of its capacity toward that
  // building and its weight becomes 26/51 of a link's capacity.
  auto f = build("prometheus");
  const NodeId spine = f.find_node("r0.b1.p0.spine0");
  {
    Router r(f);
    auto w = r.ucmp_weights(spine, 0);
    ASSERT_EQ(w.size(), 5u);
    for (auto [l, x] : w) EXPECT_NEAR(x, f.link(l).capacity_Bps, 1e-6);
    EXPECT_NEAR(w[0].second, w[4].second, 1e-6);
  }
  for (int e = 0; e < 25; ++e) f.fail("r0.b0.p0.edge" + std::to_string(e) + "->r0.bag0");
  Router r(f);
  auto w = r.ucmp_weights(spine, 0);
  ASSERT_EQ(w.size(), 5u);
  const NodeId bag0 = f.find_node("r0.bag0");
  for (auto [l, x] : w) {
    const double expect = f.link(l).capacity_Bps * (f.link(l).dst == bag0 ? 26.0 / 51 : 1.0);
    EXPECT_NEAR(x, expect, 1e-6 * expect) << f.link_name(l);
  }
  // At bag0 itself, toward the DSF building: only the 26 live edge links remain, each at full weight.
  auto at_bag = r.ucmp_weights(bag0, 0);
  EXPECT_EQ(at_bag.size(), 26u);

  // Flows follow the weights: 20,000 QPs from the spine's building to the DSF building; the BAG switch each
  // plane-0 path crosses is counted and compared with weights (26/51, 1, 1, 1, 1) by chi-square (df 4).
  std::vector<double> counts(5, 0.0);
  const NodeId bag_base = f.layout.regions[0].bag_base;
  Route route;
  for (std::uint32_t qp = 0; qp < 20000; ++qp) {
    FlowLabel flow{16384 + 7 * (qp % 64), qp % 16384, qp};
    r.route(flow, route);
    for (std::size_t i = 0; i < route.size(); ++i) {
      const Link& l = f.link(route.links[i]);
      if (l.tier == LinkTier::Bag && l.up && f.node(l.dst).plane == 0) counts[l.dst - bag_base] += 1;
    }
  }
  const double total = counts[0] + counts[1] + counts[2] + counts[3] + counts[4];
  const double wsum = 26.0 / 51 + 4;
  std::vector<double> expected = {total * 26.0 / 51 / wsum, total / wsum, total / wsum, total / wsum, total / wsum};
  EXPECT_LT(chi2(counts, expected), chi2_critical_p001(4));
}

TEST(Router, CrossBuildingPathCounts) {
  // DSF to DSF through the BAG: spray over 16 fabric elements at each end, one UCMP choice in between:
  // 16 x 16 paths per plane, 4 planes.
  auto f = build("prometheus", {"fabric.kind=dsf"});
  Router r(f);
  Route route;
  FlowLabel flow{5, 16384 + 5};
  r.route(flow, route);
  check_route(f, flow, route);
  EXPECT_EQ(route.path_count, 4.0 * 16 * 16);
  auto sums = tier_sums(f, route);
  EXPECT_NEAR((sums[{LinkTier::Bag, true}]), 1.0, 1e-12);
  EXPECT_NEAR((sums[{LinkTier::Bag, false}]), 1.0, 1e-12);
  EXPECT_NEAR((sums[{LinkTier::EdgeFabric, true}]), 1.0, 1e-12);  // toward the egress edge leaf
  EXPECT_NEAR((sums[{LinkTier::EdgeFabric, false}]), 1.0, 1e-12);
}

TEST(Router, ThreeTierCrossPodGoesThroughTheSuperSpines) {
  auto f = build("llama3-24k");
  Router r(f);
  Route route;
  FlowLabel flow{0, 3072 * 5 + 17};  // pods of 3,072 GPUs
  r.route(flow, route);
  check_route(f, flow, route);
  ASSERT_EQ(route.size(), 8u);  // gpu-nic, nic-leaf, leaf-spine, spine-super, super-spine, spine-leaf, ...
  EXPECT_EQ(f.link(route.links[3]).tier, LinkTier::L2L3);
  EXPECT_EQ(f.link(route.links[4]).tier, LinkTier::L2L3);
  FlowLabel same_pod{0, 3000};
  r.route(same_pod, route);
  check_route(f, same_pod, route);
  EXPECT_EQ(route.size(), 6u);
}

TEST(Router, PlanarInterRegionStaysOnItsSwitchIndex) {
  auto f = build("prometheus", {"regions=2"});
  Router r(f);
  Route route;
  const NodeId remote = 2 * 16384;  // first GPU of region 1
  const auto &r0 = f.layout.regions[0], &r1 = f.layout.regions[1];
  for (std::uint32_t qp = 0; qp < 200; ++qp) {
    FlowLabel flow{qp * 11, remote + qp * 13 + 1, qp};
    r.route(flow, route);
    check_route(f, flow, route);
    for (std::size_t i = 0; i < route.size(); ++i) {
      const Link& l = f.link(route.links[i]);
      if (l.tier == LinkTier::InterRegion) {
        EXPECT_EQ(l.src - r0.bag_base, l.dst - r1.bag_base);
      }
    }
  }
}

TEST(Router, PortHashPicksOnePlane) {
  auto f = build("prometheus", {"nic.port_select=hash"});
  Router r(f);
  Route route;
  std::vector<int> planes(4, 0);
  for (std::uint32_t qp = 0; qp < 400; ++qp) {
    r.route({0, 1000, qp}, route);
    EXPECT_EQ(route.path_count, 16.0);  // one plane, 16 fabric elements
    planes[f.node(f.link(route.links[1]).dst).plane] += 1;
  }
  for (int p : planes) EXPECT_GT(p, 50);  // 100 expected per plane
}

struct Scenario {
  std::string name;
  std::string preset;
  std::vector<std::string> sets;
  std::vector<std::string> fails;
};

class RandomPairs : public ::testing::TestWithParam<Scenario> {};

TEST_P(RandomPairs, EveryRouteConservesTheFlow) {
  auto c = FabricConfig::from_preset(GetParam().preset);
  for (const auto& s : GetParam().sets) c.set_assignment(s);
  auto f = build_fabric(c);
  for (const auto& x : GetParam().fails) f.fail(x);
  Router r(f);
  const NodeId n = f.layout.gpus_per_building * static_cast<NodeId>(f.layout.buildings.size());
  std::mt19937_64 rng(42);
  Route route, again;
  for (int i = 0; i < 400; ++i) {
    FlowLabel flow{static_cast<NodeId>(rng() % n), static_cast<NodeId>(rng() % n), static_cast<std::uint32_t>(rng() % 8)};
    if (flow.src_gpu == flow.dst_gpu) continue;
    r.route(flow, route);
    check_route(f, flow, route);
    r.route(flow, again);  // deterministic
    EXPECT_EQ(route.links, again.links);
    EXPECT_EQ(route.coefficients, again.coefficients);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Presets, RandomPairs,
    ::testing::Values(
        Scenario{"prometheus", "prometheus", {}, {}},
        Scenario{"two_regions_spread_two_ports_per_plane",
                 "prometheus",
                 {"regions=2", "bag.wiring=spread", "nic.ports=8", "building.gpus=8192"},
                 {}},
        Scenario{"two_regions_failures", "prometheus", {"regions=2"}, {"r0.bag0", "r1.bag3", "r0.b0.p1.fe2"}},
        Scenario{"rail_port_hash", "prometheus", {"fabric.attach=rail", "nic.port_select=hash"}, {"r0.b1.p0.spine1"}},
        Scenario{"llama3_failures", "llama3-24k", {}, {"r0.b0.p0.ss0", "r0.b0.p0.spine3"}},
        Scenario{"llama3_three_buildings_bag", "llama3-24k", {"region.buildings=3", "bag.enabled=true"}, {}},
        Scenario{"adaptive_with_bag_and_failures", "prometheus", {"nsf.routing=adaptive"},
                 {"r0.b1.p0.spine1", "r0.b1.p2.spine7->r0.b1.p2.leaf3"}},
        Scenario{"llama3_adaptive_failures", "llama3-24k", {"nsf.routing=adaptive"},
                 {"r0.b0.p0.ss0", "r0.b0.p0.spine3", "r0.b0.p0.spine2->r0.b0.p0.leaf5"}},
        Scenario{"fat_tree", "fat-tree", {}, {}}),
    [](const ::testing::TestParamInfo<Scenario>& info) { return info.param.name; });

TEST(Router, BagChoiceAvoidsSwitchesThatCannotReachTheLeaf) {
  // One plane, 2 spines per NSF building. Leaf 0 of building 1 is reachable only through spine 0 (its link to
  // spine 1 failed), and bag0 has lost its link to spine 0: every flow to leaf 0 must go through another BAG
  // switch, although bag0 still reaches building 1 as a whole.
  auto f = build("prometheus", {"fabric.kind=nsf", "fabric.planes=1", "nic.ports=1", "nsf.spines=2"});
  f.fail("r0.b1.p0.spine1->r0.b1.p0.leaf0");
  f.fail("r0.bag0->r0.b1.p0.spine0");
  Router r(f);
  Route route;
  for (std::uint32_t qp = 0; qp < 300; ++qp) {
    FlowLabel flow{qp * 37 % 16384, 16384 + qp % 128, qp};  // destinations on leaf 0 (128 ports)
    ASSERT_NO_THROW(r.route(flow, route)) << qp;
    check_route(f, flow, route);
  }
}

TEST(Router, SpreadWiringChecksTheDestinationPlane) {
  // Spread inter-region wiring can move a flow to another plane. The destination's plane-2 port has failed:
  // flows hashed onto ports 0, 1, 3 must avoid region-1 BAG switches of plane 2.
  auto f = build("prometheus", {"regions=2", "bag.wiring=spread", "nic.port_select=hash"});
  f.fail("r1.b0.p2.leaf0->r1.b0.nic0");
  Router r(f);
  Route route;
  for (std::uint32_t qp = 0; qp < 400; ++qp) {
    FlowLabel flow{qp * 101 % 32768, 32768, qp};
    ASSERT_NO_THROW(r.route(flow, route)) << qp;
    check_route(f, flow, route);
  }
}

TEST(Router, PortHashFallsBackWhenItsPlaneIsCut) {
  // Every fabric element of plane 2 in the DSF building fails: flows hashed to port 2 move to another port.
  auto f = build("prometheus", {"nic.port_select=hash"});
  for (int fe = 0; fe < 16; ++fe) f.fail("r0.b0.p2.fe" + std::to_string(fe));
  Router r(f);
  Route route;
  for (std::uint32_t qp = 0; qp < 200; ++qp) {
    FlowLabel flow{0, 1000, qp};
    ASSERT_NO_THROW(r.route(flow, route)) << qp;
    check_route(f, flow, route);
    EXPECT_EQ(route.path_count, 16.0);
    EXPECT_NE(f.node(f.link(route.links[1]).dst).plane, 2);
  }
}

TEST(Router, ErrorsAreClear) {
  auto f = build("fat-tree", {"fat_tree.k=4"});
  f.fail("r0.b0.p0.leaf0");  // hosts 0 and 1 are cut off
  Router r(f);
  Route route;
  EXPECT_THROW(r.route({0, 0}, route), RouteError);
  EXPECT_THROW(r.route({0, 999}, route), RouteError);
  try {
    r.route({0, 5}, route);
    FAIL();
  } catch (const RouteError& e) {
    EXPECT_NE(std::string(e.what()).find("no live path"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(r.route({4, 9}, route));
}

}  // namespace
}  // namespace collemu::models

namespace collemu::models {
namespace {

TEST(SolverInstances, StandaloneFatTreeMatchesTheRoutedOne) {
  // The solver's std-only fat-tree all-to-all (for GPU machines without the fabric layer) must be the instance our
  // builder and router give: same links, same flows in the same (source, destination) order, and flow by flow the
  // same number of links (2 within an edge switch, 4 within a pod, 6 across pods: fixed by the pair, not by the
  // random ECMP choice). k = 8: 128 hosts, 16,256 flows, 92,928 entries (per host 3 x 2 + 12 x 4 + 112 x 6 = 726).
  const auto routed = fat_tree_all_to_all(8, 1);
  const auto standalone = solver::fat_tree_all_to_all_problem(8, 1);
  ASSERT_EQ(standalone.num_links(), routed.problem.num_links());
  ASSERT_EQ(standalone.num_flows(), routed.problem.num_flows());
  EXPECT_EQ(standalone.num_entries(), 92928u);
  EXPECT_EQ(routed.problem.num_entries(), 92928u);
  for (solver::FlowIndex f = 0; f < standalone.num_flows(); ++f)
    ASSERT_EQ(standalone.links(f).size(), routed.problem.links(f).size()) << "flow " << f;
  // Every directed link carries traffic in both instances: the all-to-all loads the whole fabric.
  std::vector<int> used(standalone.num_links(), 0);
  for (solver::FlowIndex f = 0; f < standalone.num_flows(); ++f)
    for (auto l : standalone.links(f)) used[l] = 1;
  EXPECT_EQ(std::count(used.begin(), used.end(), 1), static_cast<long>(standalone.num_links()));
}

}  // namespace
}  // namespace collemu::models
