// NCCL collectives on fabrics, against closed-form formulas and published measurements (sources in comments and
// FABRIC.md). Label: validation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>

#include "collectives/coll.hpp"
#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "models/placement.hpp"

namespace collemu::collectives {
namespace {

using models::Placement;

// A communicator of `ranks` ranks placed on a fabric, and one collective run alone on it.
struct Comm {
  models::Network net;
  Communicator comm;
  Comm(const models::Fabric& f, int ranks, Placement p)
      : net(f, payload_efficiency(f)), comm(net, models::place_ranks(f.layout, ranks, p)) {}
  CollResult run(const CollSpec& spec) const {
    return run_collective(comm, spec, models::solver::rate_solver_factory("cpu"));
  }
};

models::Fabric fabric(const std::string& preset, std::initializer_list<const char*> sets) {
  auto c = models::FabricConfig::from_preset(preset);
  for (const char* s : sets) c.set_assignment(s);
  return models::build_fabric(c);
}

CollSpec ring_simple(CollKind op, double bytes, int channels = 0) {
  CollSpec s;
  s.op = op;
  s.bytes = bytes;
  s.algo = Algo::Ring;
  s.proto = Proto::Simple;
  s.channels = channels;
  return s;
}

// One rank per NVLink domain on a DSF building (sprayed, non-blocking, no hop latency): the ideal fabric of the
// alpha-beta model. B = one NIC's payload rate: 800 Gbps x RoCEv2's 4096/4178; alpha = NCCL's per-step network
// latency with one rank per node (Tree NET Simple, 14 us); base = Ring Simple's 8.4 us (tuning.cc).
class IdealFabric : public ::testing::Test {
 protected:
  models::Fabric f = fabric("prometheus", {"scaleup.gpus=1", "region.buildings=1", "bag.enabled=false"});
  const double B = 800e9 / 8 * kRoceV2PayloadEfficiency;
  const double alpha = 14e-6, base = 8.4e-6;
};

TEST_F(IdealFabric, RingAllReduceIsTwoNMinusOneAlphaBetaSteps) {
  const int n = 16;
  const double S = 256.0 * (1 << 20);
  Comm comm(f, n, Placement::Packed);
  for (auto g : {Granularity::Pipelined, Granularity::Step}) {
    auto spec = ring_simple(CollKind::AllReduce, S, 4);
    spec.granularity = g;
    const auto r = comm.run(spec);
    const double expected = base + 2 * (n - 1) * (alpha + S / (n * B));
    EXPECT_NEAR(r.time_s, expected, 0.01 * expected) << to_string(g);
  }
}

// The achieved shares (nic.efficiency, scaleup.efficiency) scale what collectives see of a link's payload rate: the
// same ring at 80% of the NIC's rate is n - 1 steps of S/n at 0.8 B; a ring inside one NVLink domain of 8 H100s at
// 50% of NVLink's modelled payload rate takes twice its bandwidth term (its latency unchanged: the run at 100% minus
// its alpha-beta bandwidth term is the latency, and the term doubles).
TEST_F(IdealFabric, AchievedSharesScaleTheLinksCollectivesSee) {
  const int n = 12;
  const double S = 96.0 * (1 << 20);
  const models::Fabric slow =
      fabric("prometheus", {"scaleup.gpus=1", "region.buildings=1", "bag.enabled=false", "nic.efficiency=80%"});
  Comm comm(slow, n, Placement::Packed);
  const auto r = comm.run(ring_simple(CollKind::AllGather, S, 4));
  const double expected = base + (n - 1) * (alpha + r.bytes / (n * 0.8 * B));
  EXPECT_NEAR(r.time_s, expected, 0.01 * expected);
  EXPECT_EQ(r.binding_tier, models::LinkTier::HostNic);

  // One domain of 8 H100s: NVLink 450 GB/s per GPU at NCCL's Hopper payload model, 20.6 of 25 GB/s per link.
  const double Snv = 1024.0 * (1 << 20), Bnv = 450e9 * 20.6 / 25.0;
  auto nvlink = [&](const char* share) {
    const models::Fabric f8 = fabric("prometheus", {"region.buildings=1", "bag.enabled=false", share});
    return Comm(f8, 8, Placement::Packed).run(ring_simple(CollKind::AllGather, Snv, 16)).time_s;
  };
  const double full = nvlink("scaleup.efficiency=100%"), half = nvlink("scaleup.efficiency=50%");
  const double term = 7.0 / 8 * Snv / Bnv;  // the alpha-beta bandwidth term at the full rate
  EXPECT_NEAR(half - full, term, 0.01 * term);
}

// The transport sets the network links' payload share: InfiniBand at 94% of the line rate (what NCCL reaches per NDR
// NIC, 47 of 50 GB/s: NVIDIA/nccl-tests#290), RoCE at its framing's 4096 of 4178 bytes; nic.efficiency multiplies
// either. The same alpha-beta ring AllGather as above, n - 1 steps of S/n, at 0.94 x 100 GB/s per 800G NIC, then at
// 90% of that; NVLink is not a network link and keeps its rate (a ring inside one domain of 8 H100s times the same).
TEST_F(IdealFabric, TransportSetsTheNetworkPayloadShare) {
  const int n = 12;
  const double S = 96.0 * (1 << 20), Bib = 800e9 / 8 * 0.94;
  for (auto [share, key] : {std::pair{1.0, "nic.efficiency=100%"}, std::pair{0.9, "nic.efficiency=90%"}}) {
    const models::Fabric ib =
        fabric("prometheus", {"scaleup.gpus=1", "region.buildings=1", "bag.enabled=false", "nic.transport=ib", key});
    const auto r = Comm(ib, n, Placement::Packed).run(ring_simple(CollKind::AllGather, S, 4));
    const double expected = base + (n - 1) * (alpha + r.bytes / (n * share * Bib));
    EXPECT_NEAR(r.time_s, expected, 0.01 * expected) << key;
    EXPECT_EQ(r.binding_tier, models::LinkTier::HostNic);
  }
  // Inside one NVLink domain the transport changes nothing.
  auto nvlink = [&](const char* transport) {
    const models::Fabric f8 = fabric("prometheus", {"region.buildings=1", "bag.enabled=false", transport});
    return Comm(f8, 8, Placement::Packed).run(ring_simple(CollKind::AllGather, 1024.0 * (1 << 20), 16)).time_s;
  };
  EXPECT_EQ(nvlink("nic.transport=ib"), nvlink("nic.transport=roce"));
}

// nccl.extra_latency and nccl.extra_hop_latency add to NCCL's modelled latency, once per collective: E + h x H, h the
// network steps on its critical path in NCCL's model (tuning.cc): a Ring AllReduce over n nodes 2 (n - 1), a Ring
// AllGather n - 1, a Tree AllReduce 2 log2(n), NVLS inside one node none. Pipelined and step-by-step rings alike
// (a step's flows wait for the previous step's, so only the first pays it).
TEST_F(IdealFabric, ExtraLatenciesAddOncePerCollective) {
  const int n = 16;
  const double S = 64.0 * (1 << 20), E = 100e-6, H = 7e-6;
  const models::Fabric late = fabric("prometheus", {"scaleup.gpus=1", "region.buildings=1", "bag.enabled=false",
                                                    "nccl.extra_latency=100us", "nccl.extra_hop_latency=7us"});
  Comm plain(f, n, Placement::Packed), slow(late, n, Placement::Packed);
  for (auto g : {Granularity::Pipelined, Granularity::Step}) {
    for (auto [op, hops] : {std::pair{CollKind::AllReduce, 2 * (n - 1)}, std::pair{CollKind::AllGather, n - 1},
                            std::pair{CollKind::Broadcast, n - 1}}) {
      auto spec = ring_simple(op, S, 4);
      spec.granularity = g;
      EXPECT_NEAR(slow.run(spec).time_s - plain.run(spec).time_s, E + hops * H, 1e-9) << to_string(g);
    }
    auto tree = ring_simple(CollKind::AllReduce, S, 4);
    tree.algo = Algo::Tree;
    tree.granularity = g;
    EXPECT_NEAR(slow.run(tree).time_s - plain.run(tree).time_s, E + 2 * 4 * H, 1e-9) << to_string(g);  // log2 16 = 4
  }
  // One H100 node, NVLS: no network step.
  const models::Fabric node = fabric("prometheus", {"region.buildings=1", "bag.enabled=false"});
  const models::Fabric node_late = fabric("prometheus", {"region.buildings=1", "bag.enabled=false",
                                                         "nccl.extra_latency=100us", "nccl.extra_hop_latency=7us"});
  CollSpec nvls;
  nvls.op = CollKind::AllReduce;
  nvls.bytes = S;
  nvls.algo = Algo::Nvls;
  const double t0 = Comm(node, 8, Placement::Packed).run(nvls).time_s;
  EXPECT_NEAR(Comm(node_late, 8, Placement::Packed).run(nvls).time_s - t0, E, 1e-9);
}

TEST_F(IdealFabric, AllGatherAndReduceScatterAreNMinusOneSteps) {
  // n - 1 steps of S/n each (S: the gathered size, nccl-tests' convention).
  const int n = 12;
  const double S = 96.0 * (1 << 20);
  Comm comm(f, n, Placement::Packed);
  for (CollKind op : {CollKind::AllGather, CollKind::ReduceScatter}) {
    const auto r = comm.run(ring_simple(op, S, 4));
    const double expected = base + (n - 1) * (alpha + r.bytes / (n * B));
    EXPECT_NEAR(r.time_s, expected, 0.01 * expected) << common::to_string(op);
    EXPECT_NEAR(r.busbw_Bps, r.bytes / r.time_s * (n - 1) / n, 1e-6 * r.busbw_Bps);
  }
}

TEST_F(IdealFabric, AllToAllIsEveryRankSendingNMinusOneNthsThroughItsNic) {
  // Each rank sends S/n to each of n - 1 peers, all at once, through its own NIC (receiving likewise):
  // t = latency + (n - 1)/n S / B, the latency being one base and one network step (p2p; docs/collectives.md).
  // With 16 channels NCCL 2.28 runs the remote traffic of a rank on min(16, 31 x 2) = 16 p2p channels (224 GB/s,
  // nccl.hpp): the NIC binds.
  const int n = 32;
  const double S = 64.0 * (1 << 20);
  Comm comm(f, n, Placement::Packed);
  CollSpec spec;
  spec.op = CollKind::AllToAll;
  spec.bytes = S;
  spec.channels = 16;
  const auto r = comm.run(spec);
  const double expected = base + alpha + (n - 1.0) / n * r.bytes / B;
  EXPECT_NEAR(r.time_s, expected, 0.01 * expected);
  EXPECT_EQ(r.proto, Proto::Simple);
  // With the default 2 channels of one rank per node, all 31 remote nodes' peers share those 2 channels: 28 GB/s,
  // below the 800G NIC's 98.
  spec.channels = 0;
  const auto two = comm.run(spec);
  const double capped = base + alpha + (n - 1.0) / n * two.bytes / (2 * kP2pChannelNet_Bps);
  EXPECT_NEAR(two.time_s, capped, 0.01 * capped);
}

TEST_F(IdealFabric, TreeAllReduceMovesTwiceTheSizeThroughEachNic) {
  // Double binary tree, one rank per node: a node inside one tree (2 children) is a leaf of the other. Per channel of
  // D = S/nch: inside, it sends D up and D to each child (3D); as a leaf, D up: over the two trees' channels its NIC
  // sends (nch/2)(3D + D) = 2S, and receives as much. t = latency + 2S/B, latency = Tree Simple base 8.4 us +
  // 2 log2(n) x 14 us (tuning.cc; one rank per node: no intra-node part).
  const int n = 16;
  const double S = 256.0 * (1 << 20);
  Comm comm(f, n, Placement::Packed);
  auto spec = ring_simple(CollKind::AllReduce, S, 8);
  spec.algo = Algo::Tree;
  const auto r = comm.run(spec);
  const double expected = 8.4e-6 + 2 * 4 * 14e-6 + 2 * S / B;
  EXPECT_NEAR(r.time_s, expected, 0.01 * expected);
}

TEST_F(IdealFabric, BroadcastIsOnePipelinedPassOfTheSize) {
  // A pipelined chain from the root: every rank but the last forwards S; t = latency + S/B. The first chunk crosses
  // the chain's n - 1 edges, here all between nodes: latency = Ring Simple base + (n - 1) network steps (tuning.cc's
  // ring step latencies, one rank per node: Tree's network latency).
  const int n = 8;
  const double S = 512.0 * (1 << 20);
  Comm comm(f, n, Placement::Packed);
  for (CollKind op : {CollKind::Broadcast, CollKind::Reduce}) {
    auto spec = ring_simple(op, S, 4);
    spec.root = 3;
    const auto r = comm.run(spec);
    const double expected = base + (n - 1) * alpha + S / B;
    EXPECT_NEAR(r.time_s, expected, 0.01 * expected) << common::to_string(op);
    EXPECT_NEAR(r.busbw_Bps, r.algbw_Bps, 1e-9 * r.algbw_Bps);  // nccl-tests' factor 1
  }
}

// LL across nodes: NCCL caps its total bandwidth by the hosts' CPU vendor (tuning.cc llMaxBws, "for multi-node, we
// look at CPU type"): 39.0 GB/s on 2 Intel (or Arm) nodes and 20.4 on more, 22.5 and 19.0 on AMD ones. One rank per
// node, a Ring LL AllGather well above LL's half of the NIC (0.5 x 98 GB/s): its bandwidth term is (n-1)/n S / cap.
// The latency (tens of us) is under 1% of the term at 256 MiB.
TEST_F(IdealFabric, LlAcrossNodesIsCappedByTheHostsCpuVendor) {
  const double S = 256.0 * (1 << 20);
  for (auto [cpu, n, cap] : {std::tuple{"host.cpu=intel", 2, 39.0e9}, std::tuple{"host.cpu=arm", 2, 39.0e9},
                             std::tuple{"host.cpu=amd", 2, 22.5e9}, std::tuple{"host.cpu=intel", 4, 20.4e9},
                             std::tuple{"host.cpu=amd", 4, 19.0e9}}) {
    const models::Fabric g = fabric("prometheus", {"scaleup.gpus=1", "region.buildings=1", "bag.enabled=false", cpu});
    Comm comm(g, n, Placement::Packed);
    auto spec = ring_simple(CollKind::AllGather, S, 4);
    spec.proto = Proto::LL;
    const double expected = (n - 1.0) / n * S / cap;
    EXPECT_NEAR(comm.run(spec).time_s, expected, 0.01 * expected) << cpu << " on " << n << " nodes";
  }
}

// NCCL's network post overhead (tuning.cc getNetOverhead: 1 us on Intel, 2 us on AMD, x3 for Simple) is the least an
// intra-node ring step costs across nodes: 2 nodes of 8 GPUs, a Ring Simple AllGather of 15 steps, 14 of them inside
// a node at max(NVLink's Ring Simple 3.4 us, 3 x 1 us on Intel or 3 x 2 us on AMD): AMD hosts are 14 x 2.6 us slower,
// the bytes alike.
TEST(HostCpu, AmdHostsPostSlowerAndRingStepsInsideANodeWaitForIt) {
  auto on = [](const char* cpu) {
    const models::Fabric g = fabric("prometheus", {"region.buildings=1", "bag.enabled=false", cpu});
    Comm comm(g, 16, Placement::Packed);
    return comm.run(ring_simple(CollKind::AllGather, 1 << 20, 4)).time_s;
  };
  EXPECT_NEAR(on("host.cpu=amd") - on("host.cpu=intel"), 14 * (6.0 - 3.4) * 1e-6, 1e-9);
  EXPECT_NEAR(on("host.cpu=arm"), on("host.cpu=intel"), 1e-12);
}

TEST_F(IdealFabric, PatAllGatherSendsNMinusOneChunksAtThreeQuartersEfficiency) {
  // PAT, one rank per node: every rank sends (n - 1) chunks of S/n over log2(n) doubling steps, pipelined; NCCL's
  // model counts PAT at 0.75 of the bus bandwidth: t = latency + (n - 1)/n S / (0.75 B); latency = 8 us +
  // log2(n) x 14/3.5 us + n x 2.8 us (tuning.cc).
  const int n = 16;
  const double S = 256.0 * (1 << 20);
  Comm comm(f, n, Placement::Packed);
  for (CollKind op : {CollKind::AllGather, CollKind::ReduceScatter}) {
    auto spec = ring_simple(op, S);
    spec.algo = Algo::Pat;
    const auto r = comm.run(spec);
    const double expected = (8 + 4 * 14 / 3.5 + n * 2.8) * 1e-6 + (n - 1.0) / n * r.bytes / (0.75 * B);
    EXPECT_NEAR(r.time_s, expected, 0.01 * expected) << common::to_string(op);
  }
}

TEST(DoubleBinaryTree, EveryNodeReachesTheRootAndInnerNodesAreLeavesOfTheOtherTree) {
  for (int n = 2; n <= 70; ++n) {
    std::vector<int> children[2];
    for (int t = 0; t < 2; ++t) {
      children[t].assign(n, 0);
      int roots = 0;
      for (int i = 0; i < n; ++i) {
        const int p = dtree_parent(n, i, t);
        if (p < 0) {
          ++roots;
          continue;
        }
        ASSERT_LT(p, n);
        ++children[t][p];
        int hops = 0, at = i;  // walk to the root: no cycle
        while (at >= 0 && hops <= n) at = dtree_parent(n, at, t), ++hops;
        ASSERT_LE(hops, n) << "n " << n << " tree " << t << " node " << i;
      }
      ASSERT_EQ(roots, 1);
      for (int i = 0; i < n; ++i) ASSERT_LE(children[t][i], 2);
    }
    int inner_in_both = 0;
    for (int i = 0; i < n; ++i) inner_in_both += children[0][i] > 0 && children[1][i] > 0;
    EXPECT_LE(inner_in_both, 2) << "n " << n;
  }
}

TEST(NvlinkDomain, EightH100RingAndNvlsBusbwMatchPublishedFigures) {
  // 8 x H100 in one NVLink domain (450 GB/s per GPU per direction). nccl-tests, large messages: Ring AllReduce busbw
  // 340-380 GB/s ("360 GB/s is exactly what we'd expect"); NVLS 450-490 GB/s (FABRIC.md).
  auto f = fabric("prometheus", {});
  Comm comm(f, 8, Placement::Packed);
  const double S = 8.0 * (1 << 30);
  const auto ring = comm.run(ring_simple(CollKind::AllReduce, S));
  EXPECT_GE(ring.busbw_Bps, 340e9);
  EXPECT_LE(ring.busbw_Bps, 380e9);
  EXPECT_EQ(ring.binding_tier, models::LinkTier::NvLink);
  CollSpec nvls;
  nvls.bytes = S;
  const auto auto_choice = comm.run(nvls);  // NCCL's model picks NVLS for large AllReduce on an NVSwitch
  EXPECT_EQ(auto_choice.algo, Algo::Nvls);
  EXPECT_GE(auto_choice.busbw_Bps, 450e9);
  EXPECT_LE(auto_choice.busbw_Bps, 490e9);
  // Small messages: NCCL's model picks LL, whose latency is the smallest (tuning.cc).
  nvls.bytes = 1024;
  EXPECT_EQ(comm.run(nvls).proto, Proto::LL);
}

TEST(NvlinkDomain, GpuGenerationsTakeNcclsConstantsOfTheirArchitecture) {
  // 8 GPUs in one NVLink domain, 16 channels, NVLS forced, a size where latency is negligible (25 us of ~10 ms).
  // NVLS moves S (1 + 1/8) each way on each NVLink at NVLink x NCCL's link efficiency x nvlsEfficiency x 15/16
  // (tuning.cc: Hopper 20.6/25 and 0.85, Blackwell 40.1/50 and 0.74; topo.h SM90/SM100_NVLINK_BW).
  const double S = 4.0 * (1 << 30);
  CollSpec spec;
  spec.bytes = S;
  spec.algo = Algo::Nvls;
  for (const auto& [gpu, nvlink, eff] : {std::tuple{"h100", 450e9, 20.6 / 25 * 0.85},
                                         std::tuple{"b200", 900e9, 40.1 / 50 * 0.74}}) {
    auto f = fabric("prometheus", {"region.buildings=1", "building.gpus=8", "bag.enabled=false",
                                   (std::string("gpu.type=") + gpu).c_str()});
    Comm comm(f, 8, Placement::Packed);
    const auto r = comm.run(spec);
    const double expected = 25e-6 + S * (1 + 1.0 / 8) / (nvlink * eff * 15 / 16);
    EXPECT_NEAR(r.time_s, expected, 1e-3 * expected) << gpu;
    EXPECT_EQ(comm.comm.shape().arch, std::string(gpu) == "h100" ? Arch::Hopper : Arch::Blackwell);
  }
  // A100: no NVLS (nvlsEfficiency 0 on Ampere: its NVSwitch has no multicast), so the default is not NVLS and
  // forcing it is refused; its NVLink is 300 GB/s at NCCL's 20 of 25 GB/s.
  auto f = fabric("prometheus", {"region.buildings=1", "building.gpus=8", "bag.enabled=false", "gpu.type=a100"});
  Comm comm(f, 8, Placement::Packed);
  EXPECT_THROW(comm.run(spec), common::InputError);
  spec.algo.reset();
  EXPECT_NE(comm.run(spec).algo, Algo::Nvls);
  // Ring Simple AllReduce over NVLink: 2 (n-1)/n S through each GPU's link at 300 GB/s x 0.8, plus latency.
  const auto ring = comm.run(ring_simple(CollKind::AllReduce, S, 16));
  const double link = 300e9 * 0.8;
  EXPECT_NEAR(ring.busbw_Bps, link, 0.01 * link);
}

TEST(MultiHost, AllToAllAcrossTwoNodesRunsOnTwoP2pChannelsPerRank) {
  // 2 hosts x 8 H100, 400G NICs, 16 channels. NCCL 2.28 gives a remote peer 2 p2p channels (2 x 16 <= 4 x 16), and
  // the 8 peers of the other node share one base channel (channel.h), so each rank receives from the other node on
  // 2 channels of 14 GB/s: 28 GB/s, below its NIC's 49. Each rank gets S/2 from the other node: t = latency +
  // (S/2) / 28 GB/s (the NVLink half is faster), busbw = S / t x 15/16. With NCCL_NCHANNELS_PER_NET_PEER=4, 56 GB/s:
  // the NIC binds (S/2 at 400 Gbps x 4096/4178).
  auto f = fabric("prometheus", {"nic.speed=400Gbps", "region.buildings=1", "building.gpus=16", "bag.enabled=false"});
  Comm comm(f, 16, Placement::Packed);
  const double S = 1.0 * (1 << 30);
  CollSpec spec;
  spec.op = CollKind::AllToAll;
  spec.bytes = S;
  const auto r = comm.run(spec);
  const double lat = (8.4 + 14.0) * 1e-6;  // Ring Simple base + one network step (nccl.cpp, p2p)
  EXPECT_NEAR(r.time_s, lat + (S / 2) / 28e9, 1e-3 * r.time_s);
  spec.net_channels_per_peer = 4;
  const auto four = comm.run(spec);
  const double nic = 400e9 / 8 * kRoceV2PayloadEfficiency;
  EXPECT_NEAR(four.time_s, lat + (S / 2) / nic, 1e-3 * four.time_s);
  // At 8 nodes (64 ranks) a remote peer gets 1 channel (2 x 64 > 4 x 16: halved) and the 7 other nodes' peers sit on
  // 7 base channels: 7 x 14 = 98 GB/s, above the NIC again.
  EXPECT_EQ(p2p_remote_channels(64, 8, 16), 7);
  EXPECT_EQ(p2p_net_channels_per_peer(1024, 16), 1);  // 2 x 1024 > 4 x 16: halved
}

TEST(MultiHost, P2pChannelsPerRemotePeerFollowTheNcclVersion) {
  // src/graph/paths.cc of each version (nccl.hpp). 2.19: NCCL_NCHANNELS_PER_NET_PEER's default, 2, at any scale.
  // 2.20-2.28: 2, halved while 2 x ranks > 4 x p2p channels. 2.29+: ceil(NIC GB/s / 14) rounded up to a power of two
  // (a 400G NIC: 50 GB/s -> 4; 200G: 25 -> 2), halved across nodes while per_peer x ceil(ranks / 8) > p2p channels.
  using P = P2pContext;
  EXPECT_EQ(p2p_net_channels_per_peer(P{1024, 128, 16, 0, 19}), 2);
  EXPECT_EQ(p2p_net_channels_per_peer(P{1024, 128, 16, 0, 28}), 1);  // 2 x 1024 > 4 x 16
  EXPECT_EQ(p2p_net_channels_per_peer(P{16, 2, 16, 0, 29, 50e9}), 4);  // 4 x 2 <= 16
  EXPECT_EQ(p2p_net_channels_per_peer(P{16, 2, 16, 0, 29, 25e9}), 2);
  EXPECT_EQ(p2p_net_channels_per_peer(P{64, 8, 16, 0, 29, 50e9}), 2);  // 4 x 8 > 16, 2 x 8 <= 16
  EXPECT_EQ(p2p_remote_channels(P{64, 8, 16, 0, 29, 50e9}), 14);       // 7 remote nodes x 2
  EXPECT_EQ(p2p_remote_channels(P{64, 8, 16, 0, 28, 50e9}), 7);        // x 1
  EXPECT_EQ(p2p_net_channels_per_peer(P{1024, 128, 16, 0, 29, 50e9}), 1);
  EXPECT_EQ(p2p_net_channels_per_peer(P{16, 2, 16, 3, 29, 50e9}), 4);  // NCCL_NCHANNELS_PER_NET_PEER=3: 4
  // So on 2 hosts of 8 H100 with 400G NICs, NCCL 2.29 drives a rank's remote traffic on 4 channels (56 GB/s): the NIC
  // binds, as NCCL_NCHANNELS_PER_NET_PEER=4 does under 2.28 (AllToAllAcrossTwoNodesRunsOnTwoP2pChannelsPerRank).
  auto f = fabric("prometheus", {"nic.speed=400Gbps", "region.buildings=1", "building.gpus=16", "bag.enabled=false"});
  Comm comm(f, 16, Placement::Packed);
  CollSpec spec;
  spec.op = CollKind::AllToAll;
  spec.bytes = 1.0 * (1 << 30);
  spec.nccl_minor = 29;
  const auto v29 = comm.run(spec);
  spec.nccl_minor = 28;
  spec.net_channels_per_peer = 4;
  EXPECT_EQ(v29.time_s, comm.run(spec).time_s);
  EXPECT_EQ(parse_nccl_minor("2.29.2-1"), 29);
  EXPECT_EQ(parse_nccl_minor("2.28"), 28);
  for (const char* bad : {"3.1", "2.", "2.x", "2.5", "2.29x", "v2.29"})
    EXPECT_THROW(parse_nccl_minor(bad), common::InputError) << bad;
}

TEST(MultiHost, SendRecvToAnotherHostRunsOnItsPeersP2pChannels) {
  // nccl-tests' sendrecv on 2 hosts x 8 H100 with 400G NICs: 7 -> 8 and 15 -> 0 cross the hosts, one remote peer each.
  // NCCL 2.28 gives a remote peer 2 p2p channels (16 ranks: 2 x 16 <= 4 x 16 p2p channels, no halving), each driving
  // NCCL's 14 GB/s (NCCL_P2P_PER_CHANNEL_NET_BW): the crossing sends run at 28 GB/s, below the NIC's 49 GB/s, and
  // the sends inside a host are faster (NVLink), so t = lat + S / 28 GB/s, lat one p2p step (base 8.4 + 14 us).
  // NCCL_NCHANNELS_PER_NET_PEER=4 (NVIDIA/nccl#1272, which restored sendrecv bandwidth): 56 GB/s, the NIC binds,
  // t = lat + S / nic.
  auto f = fabric("prometheus", {"nic.speed=400Gbps", "region.buildings=1", "building.gpus=16", "bag.enabled=false"});
  Comm comm(f, 16, Placement::Packed);
  const double S = 1.0 * (1 << 30), lat = (8.4 + 14.0) * 1e-6, nic = 400e9 / 8 * kRoceV2PayloadEfficiency;
  CollSpec spec;
  spec.op = CollKind::SendRecv;
  spec.bytes = S;
  spec.channels = 16;
  const auto two = comm.run(spec);
  EXPECT_NEAR(two.time_s, lat + S / (2 * kP2pChannelNet_Bps), 1e-6 * two.time_s);
  spec.net_channels_per_peer = 4;
  const auto four = comm.run(spec);
  EXPECT_NEAR(four.time_s, lat + S / nic, 1e-6 * four.time_s);
  EXPECT_EQ(four.binding_tier, models::LinkTier::HostNic);
  // Inside one host no p2p channel ceiling applies: the same sendrecv on 8 ranks moves at NVLink's rate.
  Comm host(f, 8, Placement::Packed);
  spec.net_channels_per_peer = 0;
  EXPECT_EQ(host.run(spec).binding_tier, models::LinkTier::NvLink);
  // 4 NICs for the 8 GPUs (nic.gpus_per_nic=2): a GPU's share of its NIC is 24.5 GB/s, below the 28, but each crossing
  // send is alone on its NIC (PXN hands it to the GPU on the destination's rail, whose NIC-mate sends over NVLink):
  // still 28 GB/s.
  auto shared = fabric("prometheus", {"nic.speed=400Gbps", "region.buildings=1", "building.gpus=16",
                                      "bag.enabled=false", "nic.gpus_per_nic=2"});
  const auto sh = Comm(shared, 16, Placement::Packed).run(spec);
  EXPECT_NEAR(sh.time_s, lat + S / (2 * kP2pChannelNet_Bps), 1e-6 * sh.time_s);
}

TEST(MultiHost, AdaptiveRoutingFillsTheSpinesThatEcmpCollidesOn) {
  // One NSF building, one plane: 2 leaves of 16 single-GPU hosts (400G NICs), 16 spines, leaves at 4:1: a leaf's
  // uplinks carry U = 16 x 400G / 4 per direction. An AllToAll of the 32 ranks (16 channels: the p2p ceiling does
  // not bind) sends S/32 from each rank to each other; across the leaves L^2 S/n = 16^2 S/32 = 8S per direction,
  // through U = 4B (B one NIC's payload rate): 2S/B, while each NIC's own S (n-1)/n fits in S/B. With adaptive
  // routing (InfiniBand AR, nsf.routing=adaptive) every flow is spread over all 16 spines, so the uplinks bind
  // together: t = p2p latency (8.4 + 14 us) + 2S/B exactly. ECMP hashes each connection onto one spine; some spines
  // get more than their share and the collective ends later (deterministic: the hash is seeded).
  auto run = [](const char* routing) {
    auto f = fabric("prometheus", {"region.buildings=1", "bag.enabled=false", "fabric.kind=nsf", "nsf.tiers=2",
                                   "fabric.planes=1", "nic.ports=1", "scaleup.gpus=1", "building.gpus=32",
                                   "nsf.leaf_ports=16", "nsf.spines=16", "nsf.leaf_oversubscription=4:1",
                                   "nic.speed=400Gbps", "fabric.hop_latency=0ns", routing});
    Comm comm(f, 32, Placement::Packed);
    CollSpec spec;
    spec.op = CollKind::AllToAll;
    spec.bytes = 1.0 * (1 << 30);
    spec.channels = 16;
    return comm.run(spec);
  };
  const double S = 1.0 * (1 << 30), B = 400e9 / 8 * kRoceV2PayloadEfficiency;
  const auto ar = run("nsf.routing=adaptive");
  EXPECT_NEAR(ar.time_s, 22.4e-6 + 2 * S / B, 1e-9 * ar.time_s);
  EXPECT_EQ(ar.binding_tier, models::LinkTier::L1L2);
  EXPECT_GT(run("nsf.routing=ecmp").time_s, 1.1 * ar.time_s);
}

TEST(MultiHost, WithoutPxnSendsToAnotherHostCrossRailsThroughTheSpines) {
  // 2 hosts x 8 H100, 400G NICs with one port on one plane, attached by rail (GPU l of both hosts on leaf l: 2 NIC
  // ports per leaf), one spine, leaves 4:1 oversubscribed: a leaf's uplink is 2 x 400 / 4 = 200 Gbps, half a NIC.
  // NCCL_NCHANNELS_PER_NET_PEER=4: 56 GB/s of p2p channels, so that ceiling does not bind.
  // With PXN a rank's bytes to the other host go over NVLink to the GPU on the destination's rail and out of its NIC,
  // so every byte between the hosts stays on its rail's leaf: each NIC sends S/2 (8 sources x S/16), t = lat + (S/2)
  // / nic. Without PXN (NCCL_PXN_DISABLE=1) rank s sends S/16 to each rank of the other host out of its own NIC; 7 of
  // the 8 are on other rails, so leaf l's uplink carries 2 x 7 x S/16 = 7S/8 at nic / 2: t = lat + 7S / (4 nic), 3.5
  // times the PXN transfer (the NIC, with S/2, binds less).
  auto f = fabric("prometheus", {"nic.speed=400Gbps", "region.buildings=1", "building.gpus=16", "bag.enabled=false",
                                 "fabric.kind=nsf", "fabric.attach=rail", "fabric.planes=1", "nic.ports=1",
                                 "nsf.leaf_ports=2", "nsf.leaf_oversubscription=4:1", "nsf.spines=1"});
  Comm comm(f, 16, Placement::Packed);
  const double S = 1.0 * (1 << 30);
  CollSpec spec;
  spec.op = CollKind::AllToAll;
  spec.bytes = S;
  spec.net_channels_per_peer = 4;
  const double lat = (8.4 + 14.0) * 1e-6;  // as in AllToAllAcrossTwoNodesRunsOnTwoP2pChannelsPerRank
  const double nic = 400e9 / 8 * kRoceV2PayloadEfficiency;
  const auto pxn = comm.run(spec);
  EXPECT_NEAR(pxn.time_s, lat + (S / 2) / nic, 1e-6 * pxn.time_s);
  EXPECT_EQ(pxn.binding_tier, models::LinkTier::HostNic);
  spec.pxn = false;
  const auto direct = comm.run(spec);
  EXPECT_NEAR(direct.time_s, lat + 7 * S / (4 * nic), 1e-6 * direct.time_s);
  EXPECT_EQ(direct.binding_tier, models::LinkTier::L1L2);
  // nccl-tests' sendrecv (rank s to s + 1): 7 -> 8 and 15 -> 0 cross the hosts, both from rail 7 to rail 0. With PXN
  // each goes over NVLink to GPU 0 of its host and out of that NIC: S at nic. Without, both leave from rail 7's NICs
  // and share leaf 7's uplink (nic / 2): S at nic / 4 each. The latency is the same, so the times differ by 3S / nic.
  spec.op = CollKind::SendRecv;
  spec.pxn = true;
  const auto sr_pxn = comm.run(spec);
  spec.pxn = false;
  const auto sr_direct = comm.run(spec);
  EXPECT_NEAR(sr_direct.time_s - sr_pxn.time_s, 3 * S / nic, 1e-6 * sr_direct.time_s);
}

TEST(MultiHost, GpusSharingNicsHalveTheNodesNetworkBandwidth) {
  // 2 hosts x 8 H100 with 4 NICs of 400G each (nic.gpus_per_nic=2: GPUs 2j and 2j+1 share NIC j), one DSF building.
  // nic = 400 Gbps x RoCEv2's 4096/4178 of payload.
  auto f = fabric("prometheus", {"nic.speed=400Gbps", "region.buildings=1", "building.gpus=16", "bag.enabled=false",
                                 "nic.gpus_per_nic=2"});
  Comm comm(f, 16, Placement::Packed);
  const double nic = 400e9 / 8 * kRoceV2PayloadEfficiency;
  EXPECT_NEAR(comm.comm.shape().nic_Bps, nic / 2, 1e-6 * nic);  // a GPU's share of its NIC, for NCCL's model
  // Ring AllReduce: every ring edge between the hosts carries 2 (n-1)/n S, so each direction carries that much over
  // the host's 4 NICs (16 channels enter on the 8 rails, 2 rails per NIC): busbw = S/t x 2(n-1)/n = 4 nic, half of
  // what 8 NICs would give (NVLink's 370 GB/s of payload is above 4 nic = 196 GB/s). Latency is < 1% at 8 GiB.
  const auto ring = comm.run(ring_simple(CollKind::AllReduce, 8.0 * (1 << 30)));
  EXPECT_NEAR(ring.busbw_Bps, 4 * nic, 0.01 * 4 * nic);
  // The NIC binds: its ports, or the PCIe link of the GPU that hands both rails' edges to it (as fast as the NIC).
  EXPECT_TRUE(ring.binding_tier == models::LinkTier::Access || ring.binding_tier == models::LinkTier::HostNic)
      << models::to_string(ring.binding_tier);
  // AllToAll with NCCL_NCHANNELS_PER_NET_PEER=4 (so that the 56 GB/s of p2p channels per rank stay above the rate a
  // rank gets): each rank sends S/2 to the other host, through the NIC on the destination's rail (PXN; a GPU already
  // on that NIC sends itself), so each NIC sends 2 x S/2 = S: t = lat + S / nic, twice the 1:1 time of
  // AllToAllAcrossTwoNodesRunsOnTwoP2pChannelsPerRank.
  CollSpec spec;
  spec.op = CollKind::AllToAll;
  spec.bytes = 1.0 * (1 << 30);
  spec.net_channels_per_peer = 4;
  const double lat = (8.4 + 14.0) * 1e-6;  // Ring Simple base + one network step (nccl.cpp, p2p)
  const auto a2a = comm.run(spec);
  EXPECT_NEAR(a2a.time_s, lat + spec.bytes / nic, 1e-6 * a2a.time_s);
  EXPECT_TRUE(a2a.binding_tier == models::LinkTier::Access || a2a.binding_tier == models::LinkTier::HostNic)
      << models::to_string(a2a.binding_tier);
}

TEST(MultiHost, TwoNicsPerGpuDoubleItsNetworkBandwidth) {
  // 2 hosts x 8 H100, each GPU with 2 NICs of 400G (nic.per_gpu=2), 4 channels per net peer: the AllToAll of
  // GpusSharingNicsHalveTheNodesNetworkBandwidth at 4x the NIC bandwidth per GPU: each GPU's NICs send S/2 at 2 nic
  // unless the 4 p2p channels of 14 GB/s (56 GB/s per rank, NVIDIA/nccl#1272) bind first: they do (2 nic = 98 GB/s).
  auto f = fabric("prometheus", {"nic.speed=400Gbps", "region.buildings=1", "building.gpus=16", "bag.enabled=false",
                                 "nic.per_gpu=2", "fabric.planes=1", "nic.ports=1", "dsf.leaf_ports=36"});
  Comm comm(f, 16, Placement::Packed);
  const double nic = 400e9 / 8 * kRoceV2PayloadEfficiency;
  EXPECT_NEAR(comm.comm.shape().nic_Bps, 2 * nic, 1e-6 * nic);
  CollSpec spec;
  spec.op = CollKind::AllToAll;
  spec.bytes = 1.0 * (1 << 30);
  spec.net_channels_per_peer = 4;
  const double lat = (8.4 + 14.0) * 1e-6;
  const auto a2a = comm.run(spec);
  EXPECT_NEAR(a2a.time_s, lat + (spec.bytes / 2) / 56e9, 1e-6 * a2a.time_s);
}

TEST(MultiHost, RingBusbwPerNic400GMatchesPublished) {
  // Hosts of 8 H100 with one 400G NIC per GPU: large-message Ring AllReduce busbw per NIC 46-48 GB/s (FABRIC.md,
  // nccl-tests). Within 5%: [0.95 x 46, 1.05 x 48].
  auto f = fabric("prometheus", {"nic.speed=400Gbps"});
  Comm comm(f, 32, Placement::Packed);
  const auto r = comm.run(ring_simple(CollKind::AllReduce, 8.0 * (1 << 30)));
  const double per_nic = r.busbw_Bps / 8;
  EXPECT_GE(per_nic, 0.95 * 46e9);
  EXPECT_LE(per_nic, 1.05 * 48e9);
  // With rail-aligned rings every GPU also hands one edge per channel over NVLink (PXN), so NVLink (370.8 GB/s of
  // payload) and the NICs (8 x 49 GB/s) are both near their limit; either may bind.
  EXPECT_TRUE(r.binding_tier == models::LinkTier::NvLink || r.binding_tier == models::LinkTier::HostNic)
      << models::to_string(r.binding_tier);
}

TEST(MultiHost, NvlsTreeIsNvlsInsideAndATreeOfNicsAcross) {
  // 4 hosts x 8 H100, 400G NICs. Inside: NVLS moves S (1 + 1/8) each way on each NVLink at 370.8 GB/s x 0.85 x
  // 15/16 (16 channels). Across: GPU l of each host all-reduces its shard S/8 over a double binary tree of NICs;
  // with 4 nodes the busiest NIC (inside one tree with two children, a leaf of the other) sends 2 x S/8 (Tree's 2S
  // on the shard). t = latency + max of the two; latency = 25 us + 2 log2(4) x 20.9 us (tuning.cc NVLSTree).
  auto f = fabric("prometheus", {"nic.speed=400Gbps"});
  Comm comm(f, 32, Placement::Packed);
  const double S = 4.0 * (1 << 30);
  CollSpec spec;
  spec.bytes = S;
  spec.algo = Algo::NvlsTree;
  const auto r = comm.run(spec);
  const double nvl = 450e9 * kNvlinkPayloadEfficiency * kNvlsEfficiency * 15 / 16;
  const double nic = 400e9 / 8 * kRoceV2PayloadEfficiency;
  const double expected = (25 + 2 * 2 * 20.9) * 1e-6 + std::max(S * (1 + 1.0 / 8) / nvl, 2 * S / 8 / nic);
  EXPECT_NEAR(r.time_s, expected, 0.01 * expected);
  EXPECT_EQ(r.proto, Proto::Simple);
}

TEST(MultiHost, PipelinedAndStepGranularitiesAgreeWithinTwoPercent) {
  // The same ring, as whole-share flows and as dependent per-step chunks, on a uniform fabric (DESIGN.md §4).
  auto f = fabric("prometheus", {"nic.speed=400Gbps"});
  Comm comm(f, 16, Placement::Packed);
  auto spec = ring_simple(CollKind::AllReduce, 2.0 * (1 << 30), 8);
  const auto p = comm.run(spec);
  spec.granularity = Granularity::Step;
  const auto s = comm.run(spec);
  EXPECT_NEAR(s.time_s, p.time_s, 0.02 * p.time_s);
  EXPECT_GT(s.flows, p.flows);
  // The same for Tree: whole-share flows per edge and direction, against 512 KiB chunks that wait for their children
  // (up) or their parent (down); the chunks' pipeline fill is what separates them.
  spec.algo = Algo::Tree;
  spec.bytes = 4.0 * (1 << 30);
  spec.granularity = Granularity::Pipelined;
  const auto tp = comm.run(spec);
  spec.granularity = Granularity::Step;
  const auto ts = comm.run(spec);
  EXPECT_NEAR(ts.time_s, tp.time_s, 0.02 * tp.time_s);
  EXPECT_GT(ts.flows, 100 * tp.flows);
}

TEST(LoadBalancing, NsfHashCollisionsSlowAllToAllAndQpScalingRecoversPart) {
  // 128 ranks (16 hosts) on 8 leaves per plane, 16 spines, 1:1. A DSF sprays every flow over the whole fabric: only
  // the NICs bind. An NSF with RoCE 5-tuple ECMP puts each connection on one spine: hash collisions overload some
  // uplinks (Meta, SIGCOMM'24: "5-tuple ECMP poor"). Hashing the QP (E-ECMP) with 4 QPs per connection spreads the
  // load: faster, though not as fast as the DSF (Meta reports up to +40% AllReduce from E-ECMP + QP scaling).
  auto time_of = [](const char* kind, const char* hash, int qps) {
    auto f = fabric("prometheus", {"region.buildings=1", "bag.enabled=false", "building.gpus=1024",
                                   "nsf.leaf_ports=16", "nsf.spines=16", "nsf.spine_ports=64", kind, hash});
    Comm comm(f, 128, Placement::Packed);
    CollSpec spec;
    spec.op = CollKind::AllToAll;
    spec.bytes = 256.0 * (1 << 20);
    spec.qps = qps;
    const auto r = comm.run(spec);
    return std::pair{r.time_s, r.binding_tier};
  };
  const auto [dsf, dsf_tier] = time_of("fabric.kind=dsf", "nsf.hash=qp", 1);
  const auto [five, five_tier] = time_of("fabric.kind=nsf", "nsf.hash=five-tuple", 1);
  const auto [five4, five4_tier] = time_of("fabric.kind=nsf", "nsf.hash=five-tuple", 4);
  const auto [qp4, qp4_tier] = time_of("fabric.kind=nsf", "nsf.hash=qp", 4);
  EXPECT_EQ(dsf_tier, models::LinkTier::HostNic);
  EXPECT_EQ(five_tier, models::LinkTier::L1L2);
  EXPECT_GT(five, 1.2 * dsf);
  EXPECT_DOUBLE_EQ(five4, five);  // QPs of one connection share its 5-tuple: the same path, the same collisions
  EXPECT_LT(qp4, five);
  EXPECT_GT(qp4, dsf);
}

TEST(Bag, CrossBuildingAllReduceSlowsAsOversubscriptionGrows) {
  // Hosts dealt over two buildings, so every ring edge between hosts crosses the BAG: from 1:1 to 7:1 the BAG's
  // capacity falls 7x and the collective slows; at 7:1 the BAG is the tier that binds.
  double last = 0;
  for (const char* ratio : {"bag.oversubscription=1:1", "bag.oversubscription=4.5:1", "bag.oversubscription=7:1"}) {
    auto f = fabric("prometheus", {"building.gpus=1024", ratio});
    Comm comm(f, 2048, Placement::Spread);
    const auto r = comm.run(ring_simple(CollKind::AllReduce, 8.0 * (1 << 30)));
    EXPECT_GT(r.time_s, last) << ratio;
    last = r.time_s;
    if (std::string(ratio).ends_with("7:1")) {
      EXPECT_EQ(r.binding_tier, models::LinkTier::Bag);
    }
  }
}

TEST(Errors, BadRequestsAreClear) {
  auto f = fabric("prometheus", {"building.gpus=64", "region.buildings=1", "bag.enabled=false"});
  EXPECT_THROW(models::place_ranks(f.layout, 65, Placement::Packed), common::InputError);
  EXPECT_THROW(parse_collective("allreduxe"), common::InputError);
  EXPECT_THROW(parse_algo("CollNetDirect"), common::InputError);
  EXPECT_THROW(parse_proto("LL64"), common::InputError);
  Comm comm(f, 16, Placement::Packed);
  CollSpec s;
  s.bytes = 1 << 20;
  s.algo = Algo::Nvls;  // 16 ranks in 2 NVLink domains: NCCL has no single-node NVLS here
  EXPECT_THROW(comm.run(s), common::InputError);
  s.algo.reset();
  s.root = 16;
  EXPECT_THROW(comm.run(s), common::InputError);
}

}  // namespace
}  // namespace collemu::collectives
