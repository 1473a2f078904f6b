// Guards (FlowEngine::guard, Network::propose_guards): links whose constraint others imply stay out of the rate
// problems. Leaving out an implied constraint cannot change the max-min allocation (it is unique, and satisfies the
// constraint anyway); the expected times below are derived by hand, with the guarded link binding or not, and random
// instances are compared with the same engine without guards.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "fabric_test_util.hpp"
#include "models/network.hpp"
#include "models/solver/flow_engine.hpp"

namespace collemu::models::solver {
namespace {

// Host links H1, H2 (10 B/s) and a port P (10 B/s) that both flows cross with share 1/2: P's load is at most
// 1/2 (10 + 10) = 10 whatever the rates, so guard(P, {H1, H2}, 1/2) holds.
constexpr LinkIndex H1 = 0, H2 = 1, P = 2;
const LinkIndex kBy[] = {H1, H2};
const LinkIndex kF1[] = {H1, P}, kF2[] = {H2, P};
const double kShares[] = {1.0, 0.5};

struct TwoFlows {
  FlowEngine e;
  FlowId f1, f2;
  explicit TwoFlows(bool guarded) : e({10.0, 10.0, 10.0}) {
    if (guarded) {
      EXPECT_TRUE(e.guard(P, kBy, 0.5));
    }
    f1 = e.add_flow({.bytes = 10, .links = kF1, .coefficients = kShares});
    f2 = e.add_flow({.bytes = 20, .links = kF2, .coefficients = kShares});
  }
};

TEST(FlowEngineGuard, AGuardedLinkIsLeftOutAndChangesNoRate) {
  // Each flow runs at its host link's 10 B/s (P carries 1/2 10 + 1/2 10 = 10: full, but it binds no flow tighter):
  // f1 ends at 10/10 = 1 s, f2 at 20/10 = 2 s, with P or without it. Without P the two flows share no link: two
  // components of one flow instead of one of two.
  for (const bool guarded : {false, true}) {
    TwoFlows t(guarded);
    t.e.run();
    EXPECT_NEAR(t.e.finish_s(t.f1), 1.0, 1e-12);
    EXPECT_NEAR(t.e.finish_s(t.f2), 2.0, 1e-12);
    EXPECT_EQ(t.e.stats().max_component, guarded ? 1u : 2u);
    EXPECT_EQ(t.e.constrains(P), !guarded);
    EXPECT_DOUBLE_EQ(t.e.link_bytes()[P], 0.5 * 10 + 0.5 * 20);  // a guarded link's bytes still count
  }
}

TEST(FlowEngineGuard, AFlowThatBreaksTheGuardPutsTheLinkBack) {
  // At t = 0.5 (f1 has 5 B left, f2 15 B) f3 of 2.5 B crosses P alone, share 1: P no longer bounded by H1, H2. From
  // then, filling: 1/2 r1 + 1/2 r2 + r3 <= 10 with equal rates gives 5 each (the hosts allow 10). f3 ends at
  // 0.5 + 2.5/5 = 1 s; then f1 (2.5 B left) and f2 (12.5 B) at 10 each (P: 1/2 10 + 1/2 10 = 10): f1 ends at 1.25 s,
  // f2 at 2.25 s. Were P still left out, f3 would cross no constraint at all.
  TwoFlows t(true);
  t.e.advance_to(0.5);
  const LinkIndex l3[] = {P};
  const FlowId f3 = t.e.add_flow({.bytes = 2.5, .links = l3});
  EXPECT_TRUE(t.e.constrains(P));
  EXPECT_EQ(t.e.stats().guards_broken, 1u);
  t.e.run();
  EXPECT_NEAR(t.e.finish_s(f3), 1.0, 1e-12);
  EXPECT_NEAR(t.e.finish_s(t.f1), 1.25, 1e-12);
  EXPECT_NEAR(t.e.finish_s(t.f2), 2.25, 1e-12);
}

TEST(FlowEngineGuard, ACapacityChangeOrARerouteThatBreaksTheGuardPutsTheLinkBack) {
  {
    // At t = 0.5 P drops to 8 B/s: 1/2 (10 + 10) > 8, the guard goes. 1/2 r1 + 1/2 r2 <= 8: 8 each. f1 (5 B left)
    // ends at 0.5 + 5/8 = 1.125 s; f2 has 20 - 5 - 5 = 10 B left, alone: min(10, 8 / (1/2)) = 10 B/s, ends at 2.125 s.
    TwoFlows t(true);
    t.e.advance_to(0.5);
    const CapacityChange c[] = {{P, 8.0}};
    t.e.update({}, c);
    EXPECT_TRUE(t.e.constrains(P));
    t.e.run();
    EXPECT_NEAR(t.e.finish_s(t.f1), 1.125, 1e-12);
    EXPECT_NEAR(t.e.finish_s(t.f2), 2.125, 1e-12);
  }
  {
    // At t = 0.5 f2 moves to H2 and P with share 1 on P (more than 1/2 of its share on H2): the guard goes. Filling:
    // 1/2 r1 + r2 <= 10 at equal rates: 20/3 each. f1 (5 B left) ends at 0.5 + 0.75 = 1.25 s; f2 (15 B left) has sent
    // 5 B by then and runs alone at min(10, 10) = 10 B/s: 1.25 + 10/10 = 2.25 s.
    TwoFlows t(true);
    t.e.advance_to(0.5);
    const Reroute r[] = {{t.f2, kF2}};
    t.e.update(r);
    EXPECT_TRUE(t.e.constrains(P));
    t.e.run();
    EXPECT_NEAR(t.e.finish_s(t.f1), 1.25, 1e-12);
    EXPECT_NEAR(t.e.finish_s(t.f2), 2.25, 1e-12);
  }
}

TEST(FlowEngineGuard, ProposalsAreCheckedAndTakenOnlyBeforeFlows) {
  FlowEngine e({10.0, 10.0, 10.0, 4.0});
  const LinkIndex by_p[] = {P}, by_h2[] = {H2}, one[] = {H1};
  EXPECT_FALSE(e.guard(3, kBy, 0.5));  // 1/2 (10 + 10) > 4
  EXPECT_TRUE(e.guard(P, kBy, 0.5));
  EXPECT_FALSE(e.guard(3, by_p, 0.1));  // P is guarded itself: no chains
  EXPECT_FALSE(e.guard(H1, by_h2, 1));  // H1 already guards P
  EXPECT_FALSE(e.guard(P, kBy, 0.5));   // taken once
  EXPECT_THROW(e.guard(9, kBy, 0.5), SolverInputError);
  EXPECT_THROW(e.guard(3, kBy, 0.0), SolverInputError);
  EXPECT_THROW(e.guard(3, kBy, 1.5), SolverInputError);
  EXPECT_EQ(e.stats().guards, 1u);
  e.add_flow({.bytes = 1, .links = one});
  EXPECT_THROW(e.guard(3, one, 0.1), SolverInputError);
}

// Random NICs: a host link (up) of capacity C_i and K ports of C_i / K, which the NIC's flows cross with share 1/K
// each, plus fabric links; flows from one NIC to another over a few fabric links. A few flows (a "hashed" one) cross
// a single port with share 1 and break that port's guard. The guarded engine must finish every flow when the plain one
// does, and carry the same bytes per link.
TEST(FlowEngineGuard, RandomNicsFinishAsWithoutGuards) {
  std::mt19937_64 rng(42);
  for (int inst = 0; inst < 8; ++inst) {
    const int nics = 12, K = 1 + inst % 4, fabric = 10;
    std::vector<double> cap;
    std::uniform_real_distribution<double> u(1.0, 4.0);
    for (int i = 0; i < nics; ++i) {
      const double c = u(rng);
      cap.push_back(c);                               // host link of NIC i: index i (K + 1)
      for (int k = 0; k < K; ++k) cap.push_back(c / K);  // its ports
    }
    const std::size_t fabric_base = cap.size();
    for (int j = 0; j < fabric; ++j) cap.push_back(u(rng) * 2);
    auto host = [&](int i) { return static_cast<LinkIndex>(i * (K + 1)); };
    auto port = [&](int i, int k) { return static_cast<LinkIndex>(i * (K + 1) + 1 + k); };
    struct Spec {
      std::vector<LinkIndex> links;
      std::vector<double> shares;
      double bytes, start;
    };
    std::vector<Spec> specs;
    std::uniform_int_distribution<int> pick_nic(0, nics - 1), pick_fab(0, fabric - 1);
    for (int f = 0; f < 60; ++f) {
      Spec s;
      const int a = pick_nic(rng);
      const bool hashed = f % 23 == 7;
      s.links.push_back(host(a));
      s.shares.push_back(1.0);
      if (hashed) {
        s.links.push_back(port(a, 0));
        s.shares.push_back(1.0);
      } else {
        for (int k = 0; k < K; ++k) s.links.push_back(port(a, k)), s.shares.push_back(1.0 / K);
      }
      for (const int j : {pick_fab(rng), pick_fab(rng)})
        if (std::find(s.links.begin(), s.links.end(), fabric_base + j) == s.links.end())
          s.links.push_back(static_cast<LinkIndex>(fabric_base + j)), s.shares.push_back(0.5);
      s.bytes = u(rng) * 3;
      s.start = (f / 20) * 0.7;  // three waves: flows join while others send
      specs.push_back(std::move(s));
    }
    std::vector<double> times[2], bytes[2];
    for (const bool guarded : {false, true}) {
      FlowEngine e(cap);
      if (guarded)
        for (int i = 0; i < nics; ++i) {
          const LinkIndex by[] = {host(i)};
          for (int k = 0; k < K; ++k) EXPECT_TRUE(e.guard(port(i, k), by, 1.0 / K));
        }
      std::vector<FlowId> ids;
      for (const Spec& s : specs) {
        e.advance_to(std::max(e.now_s(), s.start));
        ids.push_back(e.add_flow({.bytes = s.bytes, .links = s.links, .coefficients = s.shares}));
      }
      e.run();
      for (FlowId f : ids) times[guarded].push_back(e.finish_s(f));
      bytes[guarded] = e.link_bytes();
      if (guarded && K > 1) {
        EXPECT_GT(e.stats().guards_broken, 0u) << "instance " << inst;  // the hashed flows
      }
    }
    for (std::size_t f = 0; f < specs.size(); ++f)
      EXPECT_NEAR(times[1][f], times[0][f], 1e-9 * times[0][f]) << "instance " << inst << " flow " << f;
    for (std::size_t l = 0; l < cap.size(); ++l)
      EXPECT_NEAR(bytes[1][l], bytes[0][l], 1e-9 * (1 + bytes[0][l])) << "instance " << inst << " link " << l;
  }
}

}  // namespace
}  // namespace collemu::models::solver

namespace collemu::models {
namespace {

// On prometheus (spray over 4 ports): every NIC port both ways (32,768 NICs x 4 x 2), and on the DSF building each
// host leaf's group to the fabric elements and from them (1:1: the leaf's NIC ports, 1/4 of each NIC's 800G, equal
// its links to the fabric). Counted from the fabric itself: the leaves whose fabric links formed groups.
TEST(NetworkGuards, NicPortsAndDsfLeafGroupsAreGuardedWhereTheCapacitiesAllow) {
  std::array<double, kNumLinkTiers> eff;
  eff.fill(4096.0 / 4178);
  auto count = [&](std::initializer_list<std::string> sets, std::size_t* dsf_leaves) {
    const Fabric fabric = testing::build("prometheus", sets);
    const Network net(fabric, eff);
    std::size_t ports = 0, leaves = 0;
    for (NodeId n = 0; n < fabric.num_nodes(); ++n) {
      for (LinkId l : fabric.out_links(n))
        ports += fabric.node(n).kind == NodeKind::Nic && fabric.link(l).tier == LinkTier::Access;
      bool grouped = false;  // a host leaf with links to fabric elements: a DSF leaf (no failures: all grouped)
      if (fabric.node(n).kind == NodeKind::Leaf)
        for (LinkId l : fabric.out_links(n))
          grouped = grouped || fabric.node(fabric.link(l).dst).kind == NodeKind::FabricElement;
      leaves += grouped;
    }
    if (dsf_leaves) *dsf_leaves = leaves;
    solver::FlowEngine engine(net.capacities());
    return std::pair{net.propose_guards(engine), ports};
  };
  std::size_t dsf_leaves = 0;
  const auto [taken, ports] = count({}, &dsf_leaves);
  EXPECT_EQ(ports, 32768u * 4);
  EXPECT_GT(dsf_leaves, 0u);
  EXPECT_EQ(taken, 2 * ports + 2 * dsf_leaves);
  // DSF leaves at 2:1 (half the links to the fabric): their groups cannot be guarded, the ports still are.
  EXPECT_EQ(count({"dsf.leaf_oversubscription=2:1"}, nullptr).first, 2 * 32768u * 4);
  // Hashed ports carry whole flows: nothing is proposed.
  EXPECT_EQ(count({"nic.port_select=hash"}, nullptr).first, 0u);
}

}  // namespace
}  // namespace collemu::models
