// FabricConfig: presets, overrides, YAML/JSON files, and the errors a user sees for bad keys and values (each
// must name the source: file and line, or the --set option, and the key).
#include "models/config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.hpp"
#include "fabric_test_util.hpp"
#include "models/builder.hpp"

namespace collemu::models {
namespace {

// A file in the temporary folder holding `text`, removed when the test process ends. The process id keeps two test
// runs on one machine off each other's files.
std::string write_temp(const std::string& name, const std::string& text) {
  struct Cleanup {
    std::vector<std::filesystem::path> paths;
    ~Cleanup() {
      std::error_code ignored;
      for (const auto& p : paths) std::filesystem::remove(p, ignored);
    }
  };
  static Cleanup cleanup;
  auto path = std::filesystem::temp_directory_path() /
              ("collemu_config_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  cleanup.paths.push_back(path);
  return path.string();
}

using testing::input_error;

TEST(Config, PresetDefaultsAndOverrides) {
  auto c = FabricConfig::from_preset("prometheus");
  EXPECT_DOUBLE_EQ(c.ratio("bag.oversubscription"), 4.5);  // FABRIC.md: typical L2->BAG 4.5:1
  EXPECT_EQ(c.choice("fabric.kind"), "mixed");
  c.set_assignment("bag.oversubscription=7:1");
  EXPECT_DOUBLE_EQ(c.ratio("bag.oversubscription"), 7.0);
  EXPECT_EQ(c.where("bag.oversubscription"), "--set bag.oversubscription=7:1");
  EXPECT_EQ(c.where("nic.speed"), "preset prometheus");
}

TEST(Config, FatTreeDefaultsFollowK) {
  auto c = FabricConfig::from_preset("fat-tree");
  c.set_assignment("fat_tree.k=16");
  EXPECT_EQ(c.count("building.gpus"), 16 * 16 * 16 / 4);  // k^3/4 hosts
  EXPECT_EQ(c.count("nsf.spines"), 8);                    // k/2 aggregation switches per pod
}

TEST(Config, GpuTypeSetsTheNvlinkBandwidthUnlessItIsGiven) {
  // NVIDIA datasheets: A100 NVLink3 12 x 25 GB/s, H100 NVLink4 18 x 25, B200 NVLink5 18 x 50 per direction.
  auto c = FabricConfig::from_preset("prometheus");
  EXPECT_EQ(c.choice("gpu.type"), "h100");
  EXPECT_DOUBLE_EQ(c.bandwidth_Bps("scaleup.bandwidth"), 450e9);
  c.set_assignment("gpu.type=b200");
  EXPECT_DOUBLE_EQ(c.bandwidth_Bps("scaleup.bandwidth"), 900e9);
  EXPECT_EQ(c.where("scaleup.bandwidth"), "--set gpu.type=b200 (gpu.type b200)");
  c.set_assignment("gpu.type=a100");
  EXPECT_DOUBLE_EQ(c.bandwidth_Bps("scaleup.bandwidth"), 300e9);
  c.set_assignment("scaleup.bandwidth=600GB/s");  // given: it wins over the GPU's
  EXPECT_DOUBLE_EQ(c.bandwidth_Bps("scaleup.bandwidth"), 600e9);
  auto msg = input_error([&] { c.set_assignment("gpu.type=mi300x"); });
  EXPECT_NE(msg.find("key 'gpu.type'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a100|h100|h200|h20|b200|gb200|gb300"), std::string::npos) << msg;
  c.set_assignment("region.buildings=1");
  c.set_assignment("building.gpus=16");
  c.set_assignment("bag.enabled=false");
  EXPECT_EQ(build_fabric(c).layout.gpu, GpuType::A100);
}

TEST(Config, UnknownPresetAndKey) {
  EXPECT_NE(input_error([] { FabricConfig::from_preset("jupiter"); }).find("unknown preset 'jupiter'"),
            std::string::npos);
  auto c = FabricConfig::from_preset("prometheus");
  auto msg = input_error([&] { c.set_assignment("bag.oversub=4:1"); });
  EXPECT_NE(msg.find("--set bag.oversub=4:1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key 'bag.oversub'"), std::string::npos) << msg;
  EXPECT_NE(input_error([&] { c.set_assignment("nonsense"); }).find("KEY=VALUE"), std::string::npos);
}

TEST(Config, BadValuesNameKeyAndExpectation) {
  auto c = FabricConfig::from_preset("prometheus");
  auto unitless = input_error([&] { c.set_assignment("nic.speed=400"); });
  EXPECT_NE(unitless.find("key 'nic.speed'"), std::string::npos) << unitless;
  EXPECT_NE(unitless.find("has no unit"), std::string::npos) << unitless;
  EXPECT_NE(input_error([&] { c.set_assignment("nic.speed=0Gbps"); }).find("greater than zero"), std::string::npos);
  EXPECT_NE(input_error([&] { c.set_assignment("nic.speed=-400Gbps"); }).find("greater than zero"),
            std::string::npos);
  EXPECT_NE(input_error([&] { c.set_assignment("bag.oversubscription=0.5:1"); }).find("below 1:1"),
            std::string::npos);
  EXPECT_NE(input_error([&] { c.set_assignment("fabric.kind=torus"); }).find("dsf|nsf|mixed"), std::string::npos);
  EXPECT_NE(input_error([&] { c.set_assignment("fabric.planes=0"); }).find("at least 1"), std::string::npos);
}

TEST(Config, ValuesOutsidePhysicsAreRefusedWithTheRangeAndWhy) {
  // A unit slip or a typo, never a fabric: nic.speed=1e-300Gbps printed 300-digit times; 1e12 km of fibre is 25
  // million times around the Earth.
  auto c = FabricConfig::from_preset("prometheus");
  auto msg = input_error([&] { c.set_assignment("nic.speed=1e-300Gbps"); });
  EXPECT_NE(msg.find("--set nic.speed=1e-300Gbps: key 'nic.speed': 1e-300Gbps is outside 1Gbps to 100Tbps"),
            std::string::npos) << msg;
  msg = input_error([&] { c.set_assignment("building.distance=1e12km"); });
  EXPECT_NE(msg.find("outside 0km to 20000km (half the Earth's circumference)"), std::string::npos) << msg;
  EXPECT_NE(input_error([&] { c.set_assignment("bag.oversubscription=5000:1"); }).find("1:1 to 1000:1"),
            std::string::npos);
  EXPECT_NE(input_error([&] { c.set_assignment("fabric.hop_latency=2s"); }).find("0s to 1ms"), std::string::npos);
  EXPECT_NE(input_error([&] { c.set_assignment("scaleup.bandwidth=1PB/s"); }).find("1GB/s to 100TB/s"),
            std::string::npos);
  // An achieved share is a share of the payload rate, with its unit: more than all of it is no link.
  EXPECT_NE(input_error([&] { c.set_assignment("nic.efficiency=150%"); }).find("outside 1% to 100%"),
            std::string::npos);
  EXPECT_NE(input_error([&] { c.set_assignment("scaleup.efficiency=0.5"); }).find("'0.5' has no unit"),
            std::string::npos);
  // The edges are inside, and a file's value is blamed on its line.
  c.set_assignment("nic.speed=1.6Tbps");
  c.set_assignment("region.distance=20000km");
  const auto path = write_temp("far.yaml", "preset: prometheus\nnic:\n  speed: 0.5Gbps\n");
  msg = input_error([&] { FabricConfig::from_file(path); });
  EXPECT_NE(msg.find("far.yaml:3: key 'nic.speed': 0.5Gbps is outside"), std::string::npos) << msg;
}

TEST(Config, YamlFileNestedAndDotted) {
  auto path = write_temp("ok.yaml",
                         "preset: llama3-24k\n"
                         "nic:\n"
                         "  speed: 800Gbps\n"
                         "nsf.spine_oversubscription: 4:1\n");
  auto c = FabricConfig::from_file(path);
  EXPECT_EQ(c.preset(), "llama3-24k");
  EXPECT_DOUBLE_EQ(c.bandwidth_Bps("nic.speed"), 100e9);
  EXPECT_DOUBLE_EQ(c.ratio("nsf.spine_oversubscription"), 4.0);
  EXPECT_EQ(c.where("nic.speed"), path + ":3");
}

TEST(Config, JsonFile) {
  auto path = write_temp("ok.json", R"({"preset": "fat-tree", "fat_tree": {"k": 4}})");
  auto c = FabricConfig::from_file(path);
  EXPECT_EQ(c.count("building.gpus"), 16);
}

TEST(Config, FileErrorsNameTheLine) {
  auto path = write_temp("bad.yaml",
                         "preset: prometheus\n"
                         "bag:\n"
                         "  oversubscription: 4.5:1\n"
                         "  wirring: planar\n");
  auto msg = input_error([&] { FabricConfig::from_file(path); });
  EXPECT_NE(msg.find(path + ":4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key 'bag.wirring'"), std::string::npos) << msg;

  auto unitless = write_temp("unitless.yaml", "nic:\n  speed: 400\n");
  msg = input_error([&] { FabricConfig::from_file(unitless); });
  EXPECT_NE(msg.find(unitless + ":2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("has no unit"), std::string::npos) << msg;

  auto broken = write_temp("broken.yaml", "nic: [speed\n");
  msg = input_error([&] { FabricConfig::from_file(broken); });
  EXPECT_NE(msg.find("not valid YAML"), std::string::npos) << msg;

  auto list = write_temp("list.yaml", "nic:\n  speed: [1, 2]\n");
  EXPECT_NE(input_error([&] { FabricConfig::from_file(list); }).find("not a list"), std::string::npos);

  auto preset = write_temp("preset.yaml", "preset: dragonfly\n");
  msg = input_error([&] { FabricConfig::from_file(preset); });
  EXPECT_NE(msg.find(preset + ":1"), std::string::npos) << msg;

  EXPECT_NE(input_error([] { FabricConfig::from_file("/nonexistent/fabric.yaml"); }).find("cannot open"),
            std::string::npos);
  EXPECT_NE(input_error([] { FabricConfig::from_preset_or_file("/nonexistent/x.yaml"); }).find("neither a preset"),
            std::string::npos);
}

TEST(Config, EveryKeyHasADefaultInEveryPreset) {
  for (auto preset : preset_names()) {
    auto c = FabricConfig::from_preset(preset);
    for (const auto& k : config_keys()) EXPECT_FALSE(c.text(k.name).empty()) << preset << " " << k.name;
  }
}

}  // namespace
}  // namespace collemu::models
