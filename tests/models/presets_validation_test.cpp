// The presets against published figures (FABRIC.md, Meta SIGCOMM'24 and the Prometheus/BAG post).
#include <gtest/gtest.h>

#include "fabric_test_util.hpp"
#include "models/summary.hpp"

namespace collemu::models {
namespace {

using testing::build;

TEST(Presets, Llama3Cluster) {
  // 24,576 H100 = 3,072 hosts x 8; 8 x 400G NICs per host; pods of 3,072 GPUs non-blocking; 7:1 above the pods.
  auto f = build("llama3-24k");
  auto s = summarize(f);
  EXPECT_EQ(s.gpus, 24576u);
  EXPECT_EQ(s.scaleup_domains, 3072u);
  EXPECT_EQ(f.layout.buildings[0].planes[0].n_pods, 8u);  // 24,576 / 3,072
  const auto& P = f.layout.buildings[0].planes[0];
  EXPECT_EQ(P.leaves_per_pod * f.layout.buildings[0].leaf_ports / 8, 384u);  // hosts per pod = 3,072 / 8
  for (const Link& l : f.links()) {
    if (l.tier == LinkTier::Access) {
      EXPECT_DOUBLE_EQ(l.capacity_Bps, 400e9 / 8);
    }
  }
  for (const auto& t : s.tiers) {
    if (t.tier == LinkTier::L1L2) {
      EXPECT_NEAR(*t.oversubscription, 1.0, 1e-12);  // non-blocking inside a pod
    } else if (t.tier == LinkTier::L2L3) {
      EXPECT_NEAR(*t.oversubscription, 7.0, 1e-12);  // 7:1 above the pods
    }
  }
  // Bisection: half the pods to the other half through the 7:1 layer = (24,576 x 400G / 7) / 2.
  EXPECT_NEAR(s.buildings[0].bisection_Bps, 24576 * 50e9 / 7 / 2, 1e3);
}

TEST(Presets, PrometheusBagAndJericho3Ports) {
  // L2->BAG 4.5:1; BAG switches are Jericho3 chassis with 432 x 800G ports: none may carry more than 345.6 Tbps.
  auto f = build("prometheus");
  auto s = summarize(f);
  EXPECT_NEAR(*s.bag_oversubscription, 4.5, 1e-12);
  std::vector<double> used(f.num_nodes(), 0.0);
  for (const Link& l : f.links())
    if (f.node(l.src).kind == NodeKind::Bag) used[l.src] += l.capacity_Bps;
  const auto& R = f.layout.regions[0];
  for (std::uint32_t i = 0; i < R.n_bag; ++i) EXPECT_LE(used[R.bag_base + i], 432 * 100e9 * (1 + 1e-12));
  // Across the BAG, one building to the other: its BAG links, 16,384 x 800G / 4.5.
  EXPECT_NEAR(*s.bag_bisection_Bps, 16384 * 100e9 / 4.5, 1e3);
  // One building of each kind.
  EXPECT_EQ(s.buildings[0].kind, BuildingKind::Dsf);
  EXPECT_EQ(s.buildings[1].kind, BuildingKind::Nsf);
}

TEST(Presets, RegionPairCapacityRange) {
  // 16-48 Pbps per region pair (FABRIC.md): both ends of the range build, and the measured capacity matches.
  for (double pbps : {16.0, 48.0}) {
    auto f = build("prometheus", {"regions=2", "bag.region_capacity=" + std::to_string(int(pbps)) + "Pbps"});
    EXPECT_NEAR(summarize(f).inter_region[0].capacity_Bps, pbps * 1e15 / 8, 1e3);
  }
}

}  // namespace
}  // namespace collemu::models
