// LinkGroups: merging a DSF leaf's fabric-element links into one changes no max-min rate (link_groups.hpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "models/builder.hpp"
#include "models/config.hpp"
#include "models/link_groups.hpp"
#include "models/router.hpp"
#include "models/solver/rate_solver.hpp"

namespace collemu::models {
namespace {

// One NSF building of 2048 GPUs, no BAG, leaves at 2:1, adaptive routing (InfiniBand AR): every flow spread evenly
// over the spines (router.cpp), so a leaf's spine links merge as a DSF leaf's fabric-element links do.
Fabric nsf_adaptive(bool bag) {
  auto c = FabricConfig::from_preset("prometheus");
  for (const char* s : {"building.gpus=2048", "fabric.kind=nsf", "nsf.leaf_oversubscription=2:1", "nsf.routing=adaptive"})
    c.set_assignment(s);
  if (!bag) {
    c.set_assignment("region.buildings=1");
    c.set_assignment("bag.enabled=false");
  }
  return build_fabric(c);
}

Fabric dsf(bool fail) {
  auto c = FabricConfig::from_preset("prometheus");
  for (const char* s : {"region.buildings=1", "bag.enabled=false", "building.gpus=2048", "fabric.kind=dsf",
                        "dsf.leaf_oversubscription=2:1"})
    c.set_assignment(s);
  Fabric f = build_fabric(c);
  if (fail) f.fail("r0.b0.p0.fe3");
  return f;
}

// Rates of an all-to-all among `hosts` x 8 GPUs, over the fabric's links or over their groups.
std::vector<double> rates(const Fabric& f, bool grouped, std::size_t* entries) {
  std::vector<double> cap(f.num_links());
  for (LinkId l = 0; l < f.num_links(); ++l) cap[l] = f.link(l).capacity_Bps;
  LinkGroups groups(f, cap);
  Router router(f);
  solver::RateProblem p;
  const auto& caps = grouped ? groups.capacities() : cap;
  for (double c : caps) p.add_link(c);
  Route r;
  std::vector<std::uint32_t> g;
  std::vector<double> a;
  for (NodeId s = 0; s < 144; ++s)  // every GPU of the first two leaves: their fabric links bind at 2:1
    for (NodeId d = 512; d < 2048; d += 17) {
      if (s == d) continue;
      router.route({s, d, 0, 0}, r);
      if (grouped) {
        groups.map(r, g, a);
        p.add_flow(1, solver::kNoCap, g, a);
      } else {
        p.add_flow(1, solver::kNoCap, r.links, r.coefficients);
      }
    }
  *entries = p.num_entries();
  std::vector<double> out;
  solver::make_rate_solver("cpu")->solve(p, out);
  return out;
}

// The same rates over the links and over their groups, with a quarter of the entries or fewer; the leaves' 2:1 binds
// (some flow runs below its NIC's 800G, 100 GB/s), so the merged constraints are the ones that decide.
void expect_merging_is_exact(const Fabric& f) {
  std::size_t raw_entries = 0, grouped_entries = 0;
  const auto raw = rates(f, false, &raw_entries);
  const auto grouped = rates(f, true, &grouped_entries);
  ASSERT_EQ(raw.size(), grouped.size());
  for (std::size_t i = 0; i < raw.size(); ++i) ASSERT_NEAR(grouped[i], raw[i], 1e-9 * raw[i]) << "flow " << i;
  EXPECT_LT(grouped_entries * 4, raw_entries);
  EXPECT_LT(*std::min_element(raw.begin(), raw.end()), 0.99 * 100e9);
}

TEST(LinkGroups, SprayedLinksMergeWithoutChangingRates) { expect_merging_is_exact(dsf(false)); }

TEST(LinkGroups, AdaptiveNsfSpineLinksMergeWithoutChangingRates) { expect_merging_is_exact(nsf_adaptive(false)); }

// With a BAG, flows to and from it keep ECMP up to the top tier and load a leaf's spine links unevenly: nothing merges
// in the NSF building.
TEST(LinkGroups, AdaptiveNsfWithABagKeepsSpineLinksAlone) {
  Fabric f = nsf_adaptive(true);
  std::vector<double> cap(f.num_links(), 1.0);
  LinkGroups groups(f, cap);
  for (LinkId l = 0; l < f.num_links(); ++l) {
    if (f.link(l).tier != LinkTier::L1L2) continue;
    EXPECT_EQ(groups.capacity_Bps(groups.group(l)), 1.0) << f.link_name(l);
  }
}

TEST(LinkGroups, FailuresKeepEveryLinkAlone) {
  Fabric f = dsf(true);
  std::vector<double> cap(f.num_links(), 1.0);
  LinkGroups groups(f, cap);
  EXPECT_EQ(groups.num_groups(), f.num_links());
}

}  // namespace
}  // namespace collemu::models
