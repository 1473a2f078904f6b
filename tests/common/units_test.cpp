// Unit parsing: values are checked against the definitions (decimal prefixes, 8 bits per byte, nccl-tests'
// binary K/M/G), and every malformed or unit-less input must be refused with a message saying what was expected.
#include "common/units.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace collemu::common {
namespace {

TEST(Units, BandwidthBitsAndBytes) {
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("400Gbps"), 400e9 / 8);  // 50 GB/s
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("800G"), 100e9);         // a port speed: bits
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("3.2Tbps"), 400e9);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("25GB/s"), 25e9);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("450 GBps"), 450e9);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("16Pbps"), 2e15);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("1e12bps"), 1.25e11);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("100Mb/s"), 12.5e6);
}

TEST(Units, BandwidthRejectsWhatIsNotABandwidth) {
  EXPECT_THROW(parse_bandwidth_Bps("400"), UnitError);      // no unit
  EXPECT_THROW(parse_bandwidth_Bps("8 GB"), UnitError);     // a size, not a rate
  EXPECT_THROW(parse_bandwidth_Bps("0Gbps"), UnitError);    // zero capacity
  EXPECT_THROW(parse_bandwidth_Bps("-1Gbps"), UnitError);   // negative
  EXPECT_THROW(parse_bandwidth_Bps("fast"), UnitError);
  EXPECT_THROW(parse_bandwidth_Bps(""), UnitError);
  EXPECT_THROW(parse_bandwidth_Bps("nanGbps"), UnitError);
  try {
    parse_bandwidth_Bps("400");
    FAIL();
  } catch (const UnitError& e) {
    EXPECT_NE(std::string(e.what()).find("has no unit"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("400Gbps"), std::string::npos) << e.what();
  }
}

TEST(Units, Durations) {
  EXPECT_DOUBLE_EQ(parse_duration_s("1.5us"), 1.5e-6);
  EXPECT_DOUBLE_EQ(parse_duration_s("1.5\xC2\xB5s"), 1.5e-6);
  EXPECT_DOUBLE_EQ(parse_duration_s("200 ns"), 200e-9);
  EXPECT_DOUBLE_EQ(parse_duration_s("2ms"), 2e-3);
  EXPECT_DOUBLE_EQ(parse_duration_s("0s"), 0.0);
  EXPECT_THROW(parse_duration_s("5"), UnitError);
  EXPECT_THROW(parse_duration_s("-1us"), UnitError);
  EXPECT_THROW(parse_duration_s("3 hours"), UnitError);
}

TEST(Units, DistancesAndFibreDelay) {
  EXPECT_DOUBLE_EQ(parse_distance_m("10km"), 10e3);
  EXPECT_DOUBLE_EQ(parse_distance_m("300m"), 300.0);
  EXPECT_THROW(parse_distance_m("10"), UnitError);
  // ~5 us per km of fibre (DESIGN.md §1): 10 km -> 50 us.
  EXPECT_NEAR(parse_distance_m("10km") * kFibreDelay_s_per_m, 50e-6, 1e-12);
}

TEST(Units, Ratios) {
  EXPECT_DOUBLE_EQ(parse_ratio("4.5:1"), 4.5);
  EXPECT_DOUBLE_EQ(parse_ratio("7:1"), 7.0);
  EXPECT_DOUBLE_EQ(parse_ratio("9:2"), 4.5);
  EXPECT_DOUBLE_EQ(parse_ratio("1:1"), 1.0);
  EXPECT_THROW(parse_ratio("0.5:1"), UnitError);  // below 1:1
  EXPECT_THROW(parse_ratio("1:2"), UnitError);
  EXPECT_THROW(parse_ratio("4.5"), UnitError);    // not a ratio
  EXPECT_THROW(parse_ratio("4.5:0"), UnitError);
  EXPECT_THROW(parse_ratio("a:1"), UnitError);
}

TEST(Units, Percents) {
  EXPECT_DOUBLE_EQ(parse_percent("90%"), 0.9);
  EXPECT_DOUBLE_EQ(parse_percent("100 %"), 1.0);
  EXPECT_DOUBLE_EQ(parse_percent("12.5%"), 0.125);
  EXPECT_THROW(parse_percent("0.9"), UnitError);  // a share needs its unit
  EXPECT_THROW(parse_percent("0%"), UnitError);
  EXPECT_THROW(parse_percent("-5%"), UnitError);
  EXPECT_THROW(parse_percent("90 percent"), UnitError);
}

TEST(Units, Sizes) {
  EXPECT_DOUBLE_EQ(parse_size_B("8", true), 8.0);  // nccl-tests: a bare number is bytes
  EXPECT_DOUBLE_EQ(parse_size_B("8G", true), 8.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(parse_size_B("1K", true), 1024.0);
  EXPECT_DOUBLE_EQ(parse_size_B("1KB", false), 1000.0);
  EXPECT_DOUBLE_EQ(parse_size_B("4MiB", false), 4.0 * 1024 * 1024);
  EXPECT_THROW(parse_size_B("8", false), UnitError);  // configs need a unit
  EXPECT_THROW(parse_size_B("-1", true), UnitError);
  EXPECT_THROW(parse_size_B("8 GB/s", true), UnitError);
}

TEST(Units, CountsAndBools) {
  EXPECT_EQ(parse_count("16"), 16);
  EXPECT_THROW(parse_count("0"), UnitError);
  EXPECT_THROW(parse_count("1.5"), UnitError);
  EXPECT_THROW(parse_count("16GPUs"), UnitError);
  EXPECT_THROW(parse_count("-3"), UnitError);
  EXPECT_TRUE(parse_bool("true"));
  EXPECT_FALSE(parse_bool("off"));
  EXPECT_THROW(parse_bool("maybe"), UnitError);
}

TEST(Units, Formatting) {
  EXPECT_EQ(format_bandwidth(50e9), "400 Gbps");
  EXPECT_EQ(format_ratio(4.5), "4.50:1");
  EXPECT_EQ(format_duration(1.5e-6), "1.5 us");
}

}  // namespace
}  // namespace collemu::common
