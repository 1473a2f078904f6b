// Placements of a job's ranks on a fabric's GPUs (models/placement.hpp). Label: unit.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/config.hpp"
#include "models/placement.hpp"

namespace collemu::models {
namespace {

// Two buildings of 64 GPUs in NVLink domains of 8.
Fabric small_fabric() {
  auto c = FabricConfig::from_preset("prometheus");
  c.set_assignment("building.gpus=64");
  return build_fabric(c);
}

TEST(Placement, WithNothingTakenPackedAndSpreadAreTheClassicOnes) {
  const Fabric f = small_fabric();
  for (Placement p : {Placement::Packed, Placement::Spread})
    EXPECT_EQ(place_job(f, 40, {p, 0, ""}), place_ranks(f.layout, 40, p)) << to_string(p);
}

TEST(Placement, LaterJobsTakeWhatEarlierOnesLeft) {
  const Fabric f = small_fabric();
  std::vector<std::uint8_t> taken(128, 0);
  for (NodeId g = 0; g < 12; ++g) taken[g] = 1;  // a job on GPUs 0-11: domain 0 whole, domain 1 half
  const auto packed = place_job(f, 4, {Placement::Packed, 0, ""}, taken);
  EXPECT_EQ(packed, (std::vector<NodeId>{12, 13, 14, 15}));
  // Spread uses wholly free domains only: building 0's first is domain 2 (GPU 16), building 1's its first (GPU 64).
  const auto spread = place_job(f, 16, {Placement::Spread, 0, ""}, taken);
  EXPECT_EQ(spread.front(), 16u);
  EXPECT_EQ(spread[8], 64u);
  EXPECT_THROW(place_job(f, 117, {Placement::Packed, 0, ""}, taken), common::InputError);  // 116 free
}

TEST(Placement, RandomIsASeededDrawOfDistinctFreeGpus) {
  const Fabric f = small_fabric();
  std::vector<std::uint8_t> taken(128, 0);
  for (NodeId g = 0; g < 128; g += 2) taken[g] = 1;
  const auto a = place_job(f, 32, {Placement::Random, 42, ""}, taken);
  EXPECT_EQ(a, place_job(f, 32, {Placement::Random, 42, ""}, taken));  // the same seed, the same GPUs
  EXPECT_NE(a, place_job(f, 32, {Placement::Random, 43, ""}, taken));
  EXPECT_EQ(std::set<NodeId>(a.begin(), a.end()).size(), 32u);
  for (NodeId g : a) EXPECT_EQ(g % 2, 1u);  // free ones only
  EXPECT_FALSE(std::is_sorted(a.begin(), a.end()));
  // All 64 free GPUs: a permutation of them.
  auto all = place_job(f, 64, {Placement::Random, 1, ""}, taken);
  std::sort(all.begin(), all.end());
  for (NodeId i = 0; i < 64; ++i) EXPECT_EQ(all[i], 2 * i + 1);
}

TEST(Placement, SpecsParse) {
  EXPECT_EQ(parse_placement_spec("random:17").seed, 17u);
  EXPECT_EQ(parse_placement_spec("random").kind, Placement::Random);
  EXPECT_EQ(parse_placement_spec("file:/a/b.txt").file, "/a/b.txt");
  for (const char* bad : {"random:", "random:-1", "random:1x", "file:", "diagonal"})
    EXPECT_THROW(parse_placement_spec(bad), common::InputError) << bad;
}

}  // namespace
}  // namespace collemu::models
