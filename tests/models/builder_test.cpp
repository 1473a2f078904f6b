// Fabric builders: every count, capacity and ratio below is measured on the built graph (summarize()) and
// compared with a closed form derived in the comment from the configuration.
#include "models/builder.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.hpp"
#include "fabric_test_util.hpp"
#include "models/summary.hpp"

namespace collemu::models {
namespace {

using testing::build;
using testing::input_error;

std::size_t count(const TopoSummary& s, NodeKind k) { return s.nodes_by_kind[static_cast<int>(k)]; }
const TierSummary* tier(const TopoSummary& s, LinkTier t) {
  for (const auto& x : s.tiers)
    if (x.tier == t) return &x;
  return nullptr;
}

class FatTree : public ::testing::TestWithParam<int> {};

TEST_P(FatTree, CountsCapacitiesAndBisection) {
  // Al-Fares et al. (SIGCOMM'08): k pods of k/2 edge + k/2 aggregation switches, (k/2)^2 cores, k^3/4 hosts;
  // edge-agg and agg-core layers each have k^3/4 links; full bisection = k^3/8 host links.
  const std::size_t k = GetParam();
  auto f = build("fat-tree", {"fat_tree.k=" + std::to_string(k), "nic.speed=100Gbps"});
  auto s = summarize(f);
  EXPECT_EQ(s.gpus, k * k * k / 4);
  EXPECT_EQ(count(s, NodeKind::Leaf), k * k / 2);
  EXPECT_EQ(count(s, NodeKind::Spine), k * k / 2);
  EXPECT_EQ(count(s, NodeKind::SuperSpine), k * k / 4);
  EXPECT_EQ(s.switches, 5 * k * k / 4);
  const double link_Bps = 100e9 / 8;
  for (LinkTier t : {LinkTier::Access, LinkTier::L1L2, LinkTier::L2L3}) {
    ASSERT_NE(tier(s, t), nullptr);
    EXPECT_EQ(tier(s, t)->cables, k * k * k / 4) << to_string(t);
    EXPECT_NEAR(tier(s, t)->capacity_Bps, k * k * k / 4 * link_Bps, 1e-3) << to_string(t);
  }
  for (const Link& l : f.links()) {
    if (l.tier != LinkTier::HostNic) {
      EXPECT_NEAR(l.capacity_Bps, link_Bps, 1e-3);
    }
  }
  EXPECT_NEAR(s.buildings[0].bisection_Bps, k * k * k / 8 * link_Bps, 1e-3);
  EXPECT_FALSE(s.bag_oversubscription.has_value());
}
INSTANTIATE_TEST_SUITE_P(K, FatTree, ::testing::Values(4, 8, 16));

TEST(Builder, PrometheusCountsPerTier) {
  // Defaults: 2 buildings (DSF, NSF) x 16,384 GPUs, 8 per domain, one 800G NIC per GPU = 4 x 200G ports on
  // 4 planes. Per plane and building: 16,384 NIC ports of 200G.
  //   DSF leaves: ceil(16384 / 72) = 228; edge leaves: BAG capacity 16384 x 200G / 4.5 over 72 x 200G ports per
  //   edge leaf = ceil(16384 / (4.5 x 72)) = ceil(50.57) = 51; fabric elements: 16.
  //   NSF (2 tiers) leaves: 16384 / 128 = 128; spines: 64.
  //   BAG: 2 x 16384 x 800G / 4.5 = 5.825 Pbps over 432 x 800G = 345.6 Tbps switches -> 16.86 -> 17, rounded up
  //   to a multiple of the 4 planes -> 20.
  auto s = summarize(build("prometheus"));
  EXPECT_EQ(s.gpus, 32768u);
  EXPECT_EQ(s.scaleup_domains, 4096u);
  EXPECT_EQ(count(s, NodeKind::NvSwitch), 4096u);
  EXPECT_EQ(count(s, NodeKind::Leaf), (228u + 128u) * 4);
  EXPECT_EQ(count(s, NodeKind::EdgeLeaf), 51u * 4);
  EXPECT_EQ(count(s, NodeKind::FabricElement), 16u * 4);
  EXPECT_EQ(count(s, NodeKind::Spine), 64u * 4);
  EXPECT_EQ(count(s, NodeKind::Bag), 20u);
  EXPECT_EQ(tier(s, LinkTier::Access)->cables, 32768u * 4);
  EXPECT_NEAR(tier(s, LinkTier::Access)->capacity_Bps, 32768 * 100e9, 1e-12 * 32768 * 100e9);
  // Non-blocking leaves: the l1-l2 tier carries all NIC capacity.
  EXPECT_NEAR(*tier(s, LinkTier::L1L2)->oversubscription, 1.0, 1e-12);
  EXPECT_NEAR(tier(s, LinkTier::Bag)->capacity_Bps, 32768 * 100e9 / 4.5, 1e-12 * 32768 * 100e9);
}

TEST(Builder, ConfiguredRatiosAreMeasured) {
  // FABRIC.md: L2->BAG typically 4.5:1; the Llama 3 cluster is 7:1 above its pods. A what-if sets 7:1 at the BAG.
  auto s = summarize(build("prometheus"));
  ASSERT_TRUE(s.bag_oversubscription);
  EXPECT_NEAR(*s.bag_oversubscription, 4.5, 1e-12);
  for (const auto& b : s.buildings) EXPECT_NEAR(*b.bag_oversubscription, 4.5, 1e-12);

  auto s7 = summarize(build("prometheus", {"bag.oversubscription=7:1"}));
  EXPECT_NEAR(*s7.bag_oversubscription, 7.0, 1e-12);
  EXPECT_NEAR(tier(s7, LinkTier::Bag)->capacity_Bps, 32768 * 100e9 / 7, 1e-12 * 32768 * 100e9);

  auto llama = summarize(build("llama3-24k"));
  EXPECT_NEAR(*tier(llama, LinkTier::L1L2)->oversubscription, 1.0, 1e-12);
  EXPECT_NEAR(*tier(llama, LinkTier::L2L3)->oversubscription, 7.0, 1e-12);

  auto leaf3 = summarize(build("prometheus", {"fabric.kind=nsf", "nsf.leaf_oversubscription=3:1"}));
  EXPECT_NEAR(*tier(leaf3, LinkTier::L1L2)->oversubscription, 3.0, 1e-9);
  EXPECT_NEAR(*leaf3.bag_oversubscription, 4.5, 1e-9);  // measured against what enters the top tier
}

TEST(Builder, Nvl72RackScaleUp) {
  // GB200 NVL72: 72 GPUs in one NVLink domain at 900 GB/s per GPU per direction (DESIGN.md §1).
  // 9,216 GPUs = 128 racks; the NVLink tier carries 9,216 x 900 GB/s.
  auto f = build("prometheus", {"scaleup.gpus=72", "scaleup.bandwidth=900GB/s", "building.gpus=9216"});
  auto s = summarize(f);
  EXPECT_EQ(s.scaleup_domains, 2u * 128);
  EXPECT_EQ(count(s, NodeKind::NvSwitch), 2u * 128);
  EXPECT_NEAR(tier(s, LinkTier::NvLink)->capacity_Bps, 2 * 9216 * 900e9, 1e-12 * 2 * 9216 * 900e9);
}

TEST(Builder, PartialLeavesKeepExactRatios) {
  // 1000 GPUs x 1 port per plane over 72-port DSF leaves: 13 full leaves and one with 64 ports. Each leaf's
  // uplinks follow its own ports, so the leaf tier still reads exactly 2:1.
  auto s = summarize(build("prometheus", {"building.gpus=1000", "fabric.kind=dsf", "dsf.leaf_oversubscription=2:1"}));
  EXPECT_EQ(count(s, NodeKind::Leaf), 14u * 4 * 2);
  EXPECT_NEAR(*tier(s, LinkTier::L1L2)->oversubscription, 2.0, 1e-12);
}

TEST(Builder, RailAttachPutsEqualLocalRanksOnOneLeaf) {
  // Rail-optimised: GPU i of every domain shares a leaf; rack: consecutive GPUs share a leaf.
  auto rail = build("prometheus", {"fabric.attach=rail", "building.gpus=1024"});
  auto rack = build("prometheus", {"building.gpus=1024"});
  auto leaf_of_gpu = [](const Fabric& f, NodeId gpu) {
    const NodeId nic = f.layout.buildings[0].nic_base + gpu;
    for (LinkId l : f.out_links(nic))
      if (f.link(l).tier == LinkTier::Access) return f.link(l).dst;  // plane 0 first (lowest node id)
    return kNoNode;
  };
  EXPECT_EQ(leaf_of_gpu(rail, 0), leaf_of_gpu(rail, 8));   // GPU 0 of domains 0 and 1
  EXPECT_NE(leaf_of_gpu(rail, 0), leaf_of_gpu(rail, 1));
  EXPECT_EQ(leaf_of_gpu(rack, 0), leaf_of_gpu(rack, 1));
}

TEST(Builder, GpusSharingANicReachItThroughTheirOwnLinks) {
  // nic.gpus_per_nic=2 (4 NICs for 8 GPUs, e.g. HGX A100 with 4 x 200G): 64 GPUs -> 32 NICs. GPU i links to NIC i / 2
  // at the NIC's full rate (each can drive it alone through the PCIe switch); the NIC's ports carry both, so the
  // access tier is half the host-nic tier: 32 NICs x 800G against 64 GPU links x 800G.
  auto f = build("prometheus", {"region.buildings=1", "building.gpus=64", "bag.enabled=false", "nic.gpus_per_nic=2"});
  const auto s = summarize(f);
  EXPECT_EQ(count(s, NodeKind::Nic), 32u);
  const BuildingLayout& B = f.layout.buildings[0];
  EXPECT_EQ(B.n_nics, 32u);
  for (NodeId g = 0; g < 64; ++g) {
    std::size_t host_links = 0;
    for (LinkId l : f.out_links(g))
      if (f.link(l).tier == LinkTier::HostNic) {
        ++host_links;
        EXPECT_EQ(f.link(l).dst, B.nic_base + g / 2) << g;
        EXPECT_NEAR(f.link(l).capacity_Bps, 800e9 / 8, 1e-3);
      }
    EXPECT_EQ(host_links, 1u) << g;
  }
  ASSERT_NE(tier(s, LinkTier::HostNic), nullptr);
  ASSERT_NE(tier(s, LinkTier::Access), nullptr);
  EXPECT_NEAR(tier(s, LinkTier::HostNic)->capacity_Bps, 64 * 800e9 / 8, 1e-3);
  EXPECT_NEAR(tier(s, LinkTier::Access)->capacity_Bps, 32 * 800e9 / 8, 1e-3);
  EXPECT_EQ(tier(s, LinkTier::Access)->cables, 32u * 4);  // 4 ports per NIC
  // One leaf plane: 72 NIC-facing ports per DSF leaf hold 32 NICs' plane-0 ports in one leaf.
  EXPECT_EQ(B.planes[0].n_leaves, 1u);
}

TEST(Builder, SeveralNicsPerGpuAreOneNicWithAllTheirPorts) {
  // nic.per_gpu=2 of 400G NICs with 2 ports on 2 planes: one NIC node per GPU at 800G with 4 ports of 200G, 2 per
  // plane, both on one leaf of the plane.
  auto f = build("prometheus", {"region.buildings=1", "building.gpus=16", "bag.enabled=false", "fabric.planes=2",
                                "nic.speed=400Gbps", "nic.ports=2", "nic.per_gpu=2"});
  const auto s = summarize(f);
  EXPECT_EQ(count(s, NodeKind::Nic), 16u);
  EXPECT_EQ(f.layout.nic_ports, 4u);
  EXPECT_NEAR(tier(s, LinkTier::HostNic)->capacity_Bps, 16 * 800e9 / 8, 1e-3);
  EXPECT_EQ(tier(s, LinkTier::Access)->cables, 16u * 4);
  EXPECT_NEAR(tier(s, LinkTier::Access)->capacity_Bps, 16 * 800e9 / 8, 1e-3);
  for (const Link& l : f.links())
    if (l.tier == LinkTier::Access) EXPECT_NEAR(l.capacity_Bps, 200e9 / 8, 1e-3);
}

TEST(Builder, ImpossibleTopologiesAreRefused) {
  // DSF: 40,000 GPUs need 556 host leaves per plane, more than a 512-port fabric element connects.
  auto msg = input_error([] { build("prometheus", {"fabric.kind=dsf", "building.gpus=40000"}); });
  EXPECT_NE(msg.find("more GPUs than ports"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--set building.gpus=40000"), std::string::npos) << msg;
  // NSF, 2 tiers: 40,000 / 128 = 313 leaves per plane > 256 spine ports.
  msg = input_error([] { build("prometheus", {"fabric.kind=nsf", "building.gpus=40000"}); });
  EXPECT_NE(msg.find("nsf.tiers=3"), std::string::npos) << msg;
  // 3 tiers: more pods than a super-spine connects.
  msg = input_error([] { build("llama3-24k", {"nsf.super_ports=4"}); });
  EXPECT_NE(msg.find("pods"), std::string::npos) << msg;
  // Two buildings and no BAG: nothing joins them.
  msg = input_error([] { build("prometheus", {"bag.enabled=false"}); });
  EXPECT_NE(msg.find("disconnected"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bag.enabled=true"), std::string::npos) << msg;
  msg = input_error([] { build("prometheus", {"nic.ports=2"}); });
  EXPECT_NE(msg.find("multiple of fabric.planes"), std::string::npos) << msg;
  msg = input_error([] { build("prometheus", {"building.gpus=12"}); });
  EXPECT_NE(msg.find("whole scale-up domains"), std::string::npos) << msg;
  // 4 BAG switches cannot carry 5.8 Pbps with 345.6 Tbps each.
  msg = input_error([] { build("prometheus", {"bag.switches=4"}); });
  EXPECT_NE(msg.find("needs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bag.ports"), std::string::npos) << msg;
  msg = input_error([] { build("prometheus", {"bag.switches=6"}); });
  EXPECT_NE(msg.find("multiple of fabric.planes"), std::string::npos) << msg;
  msg = input_error([] { build("fat-tree", {"fat_tree.k=7"}); });
  EXPECT_NE(msg.find("even"), std::string::npos) << msg;
  msg = input_error([] { build("prometheus", {"nsf.tiers=4"}); });
  EXPECT_NE(msg.find("2 or 3"), std::string::npos) << msg;
  // NICs shared by GPUs of two domains, both ways of changing the ratio at once, zero counts, too many ports.
  msg = input_error([] { build("prometheus", {"nic.gpus_per_nic=3"}); });
  EXPECT_NE(msg.find("nic.gpus_per_nic must divide scaleup.gpus = 8"), std::string::npos) << msg;
  msg = input_error([] { build("prometheus", {"nic.gpus_per_nic=2", "nic.per_gpu=2"}); });
  EXPECT_NE(msg.find("not both"), std::string::npos) << msg;
  for (const char* zero : {"nic.per_gpu=0", "nic.gpus_per_nic=0"}) {
    msg = input_error([&] { build("prometheus", {zero}); });
    EXPECT_NE(msg.find("a count must be at least 1"), std::string::npos) << msg;
  }
  msg = input_error([] { build("prometheus", {"nic.per_gpu=64", "nic.ports=8"}); });
  EXPECT_NE(msg.find("more than 256 NIC ports"), std::string::npos) << msg;
}

TEST(Builder, AConstraintBetweenKeysNamesTheKeyTheUserGave) {
  // 32,768 GPUs per building (prometheus' 16,384 x 2 buildings, default) do not divide into domains of 7: the user set
  // scaleup.gpus, so the error names it (and its option), not the preset's building.gpus.
  auto msg = input_error([] { build("prometheus", {"scaleup.gpus=7"}); });
  EXPECT_NE(msg.find("--set scaleup.gpus=7: impossible topology"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(key 'scaleup.gpus' = '7')"), std::string::npos) << msg;
  // Both given: the first of the constraint's keys is named at its place, the other after it.
  msg = input_error([] { build("prometheus", {"scaleup.gpus=7", "building.gpus=16"}); });
  EXPECT_NE(msg.find("--set building.gpus=16: impossible topology"), std::string::npos) << msg;
  EXPECT_NE(msg.find("with key 'scaleup.gpus' = '7' at --set scaleup.gpus=7"), std::string::npos) << msg;
  // fabric.planes=3 leaves prometheus' 4 NIC ports unevenly over the planes: the planes were the user's.
  msg = input_error([] { build("prometheus", {"fabric.planes=3"}); });
  EXPECT_NE(msg.find("--set fabric.planes=3"), std::string::npos) << msg;
}

TEST(Builder, FailuresThatDisconnectAreDetected) {
  // k=4 fat-tree: an edge switch is the only way out for its two hosts.
  auto f = build("fat-tree", {"fat_tree.k=4"});
  EXPECT_NO_THROW(check_connected(f));
  f.fail("r0.b0.p0.leaf0");
  EXPECT_NE(input_error([&] { check_connected(f); }).find("disconnected"), std::string::npos);
  // One aggregation switch down leaves every host connected.
  auto g = build("fat-tree", {"fat_tree.k=4"});
  g.fail("r0.b0.p0.spine0");
  EXPECT_NO_THROW(check_connected(g));
  EXPECT_NE(input_error([&] { g.fail("r0.b0.p0.spine99"); }).find("no such node"), std::string::npos);
  EXPECT_NE(input_error([&] { g.fail("r0.b0.gpu0"); }).find("only scale-out"), std::string::npos);
  EXPECT_NE(input_error([&] { g.fail("r0.b0.gpu0->r0.b0.nic0"); }).find("only scale-out"), std::string::npos);
  auto p = build("prometheus", {"building.gpus=1024"});
  EXPECT_NE(input_error([&] { p.fail("r0.b0.nvs0"); }).find("only scale-out"), std::string::npos);
  EXPECT_NE(input_error([&] { g.fail("r0.b0.p0.leaf0->r0.b0.p0.leaf1"); }).find("no such link"),
            std::string::npos);
}

TEST(Builder, FailingASwitchFailsEveryParallelCable) {
  // 8 ports on 4 planes: each NIC has 2 parallel cables to its plane-0 leaf (36 NICs on a 72-port leaf).
  // Failing the leaf fails its 72 access cables, 16 fabric cables: 88 cables = 176 directed links.
  auto f = build("prometheus", {"nic.ports=8", "building.gpus=1024"});
  f.fail("r0.b0.p0.leaf0");
  EXPECT_EQ(f.num_failed_links(), 2u * (72 + 16));
  for (LinkId l = 0; l < f.num_links(); ++l)
    if (f.link(l).src == f.find_node("r0.b0.p0.leaf0") || f.link(l).dst == f.find_node("r0.b0.p0.leaf0")) {
      EXPECT_TRUE(f.link(l).failed) << f.link_name(l);
    }
  // A cable named A->B fails every parallel cable between A and B (both ports of NIC 0 on plane 0).
  auto g = build("prometheus", {"nic.ports=8", "building.gpus=1024"});
  g.fail("r0.b0.nic0->r0.b0.p0.leaf0");
  EXPECT_EQ(g.num_failed_links(), 4u);
}

TEST(Builder, NicPortsOfAPlaneShareALeaf) {
  // 3 ports per plane on 16-port leaves would split a NIC's ports over two leaves.
  auto msg = input_error([] { build("llama3-24k", {"nic.ports=3"}); });
  EXPECT_NE(msg.find("multiple of nic.ports / fabric.planes = 3"), std::string::npos) << msg;
}

TEST(Builder, EdgeLeavesSitAboveTheFabricElements) {
  // Direction "up" leads away from the GPUs: GPU -> leaf -> FE -> edge leaf -> BAG.
  auto f = build("prometheus", {"building.gpus=1024"});
  int seen = 0;
  for (const Link& l : f.links())
    if (l.tier == LinkTier::EdgeFabric && l.up) {
      EXPECT_EQ(f.node(l.src).kind, NodeKind::FabricElement);
      EXPECT_EQ(f.node(l.dst).kind, NodeKind::EdgeLeaf);
      ++seen;
    }
  EXPECT_GT(seen, 0);
}

TEST(Builder, BisectionAcrossRegionsIsTheInterRegionCut) {
  // Two regions of 2 buildings; 1 Tbps between them, far below each region's BAG capacity: the bisection of
  // region 0's buildings to region 1's is the inter-region capacity, 1e12 / 8 B/s.
  auto s = summarize(build("prometheus", {"regions=2", "bag.region_capacity=1Tbps"}));
  ASSERT_TRUE(s.bag_bisection_Bps);
  EXPECT_NEAR(*s.bag_bisection_Bps, 1.25e11, 1);
}

// Inter-region capacity of each BAG switch of region 1 toward region 0, bytes/s over live links.
std::vector<double> inter_region_per_switch(const Fabric& f) {
  const auto &r0 = f.layout.regions[0], &r1 = f.layout.regions[1];
  std::vector<double> out(r1.n_bag, 0.0);
  for (std::uint32_t i = 0; i < r1.n_bag; ++i)
    for (LinkId l : f.out_links_to(r1.bag_base + i, r0.bag_base, r0.n_bag))
      if (!f.link(l).failed) out[i] += f.link(l).capacity_Bps;
  return out;
}

TEST(Builder, PlanarAndSpreadInterRegionWiring) {
  // Two regions, 16 Pbps per pair (FABRIC.md: 16-48 Pbps). Each region's BAG needs 5.825 Pbps for its buildings
  // + 16 Pbps toward the other region = 21.825 Pbps / 345.6 Tbps = 63.2 -> 64 switches (a multiple of 4).
  for (const char* wiring : {"planar", "spread"}) {
    auto f = build("prometheus", {"regions=2", std::string("bag.wiring=") + wiring});
    auto s = summarize(f);
    const std::size_t n = f.layout.regions[0].n_bag;
    EXPECT_EQ(n, 64u);
    ASSERT_EQ(s.inter_region.size(), 2u);
    EXPECT_NEAR(s.inter_region[0].capacity_Bps, 2e15, 1);  // 16 Pbps = 2e15 B/s, per direction
    const bool planar = std::string(wiring) == "planar";
    EXPECT_EQ(tier(s, LinkTier::InterRegion)->cables, planar ? n : n * n);

    // Fail BAG switch 0 of region 0: which region-1 switches lose inter-region capacity?
    const auto before = inter_region_per_switch(f);
    f.fail("r0.bag0");
    const auto after = inter_region_per_switch(f);
    for (std::size_t i = 0; i < n; ++i) {
      if (planar) {
        // Planar: switch 0 of region 1 shares the whole failure (it loses all of it); the others none.
        EXPECT_NEAR(after[i], i == 0 ? 0.0 : before[i], 1e-3) << i;
      } else {
        // Spread: every switch of region 1 loses 1/n of its inter-region capacity; none is cut off.
        EXPECT_NEAR(after[i], before[i] * (n - 1) / n, 1e-3 * before[i]) << i;
      }
    }
    EXPECT_NEAR(summarize(f).inter_region[0].capacity_Bps, 2e15 * (n - 1) / n, 1);
  }
}

TEST(Builder, DistanceBecomesLatency) {
  // 5 us per km of fibre: 10 km from building to BAG -> 50 us on every BAG link; 100 km between regions -> 500 us.
  auto f = build("prometheus", {"regions=2", "building.distance=10km", "region.distance=100km"});
  for (const Link& l : f.links()) {
    if (l.tier == LinkTier::Bag) {
      EXPECT_NEAR(l.latency_s, 50e-6, 1e-12);
    } else if (l.tier == LinkTier::InterRegion) {
      EXPECT_NEAR(l.latency_s, 500e-6, 1e-12);
    }
  }
}

TEST(Builder, MemoryIsLinearInGpus) {
  // Doubling the GPUs (same structure) must not more than double the graph's memory (+ small constant).
  auto small = build("prometheus", {"building.gpus=4096"});
  auto large = build("prometheus", {"building.gpus=8192"});
  EXPECT_LT(large.memory_bytes(), 2.2 * small.memory_bytes());
  // Per GPU: 2 NVLink + 2 GPU-NIC + 8 access directed links (4 ports) + its share of the fabric links (leaf and
  // edge uplinks, BAG) = ~15.2 links x (32 B record + 4 B id + 4 B destination in the index), plus ~2.2 nodes (GPU, NIC, 1/8 NVSwitch,
  // switches) x (16 B record + 8 B index offset): ~15.2 x 40 + 2.2 x 24 = ~660 B.
  EXPECT_LT(large.memory_bytes() / (8192 * 2), 700u);
}

}  // namespace
}  // namespace collemu::models
