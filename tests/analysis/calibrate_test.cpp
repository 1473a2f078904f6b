// collemu calibrate against synthetic ground truth: times made by the emulator with known parameters (nic.efficiency,
// scaleup.efficiency, nccl.extra_latency, nccl.extra_hop_latency), perturbed by multiplicative noise of a stated size,
// are fitted back to those parameters; and the fitter itself on closed forms (a line, two parameters that only
// appear as their sum, a bound the data push against).
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <random>

#include "analysis/calibrate.hpp"
#include "analysis/fit.hpp"
#include "collectives/coll.hpp"
#include "models/builder.hpp"
#include "models/placement.hpp"
#include "tests/analysis/node_trace.hpp"
#include "emulator/replay.hpp"

namespace collemu::analysis {
namespace {

// The fitter on a closed form: y = a + b x, exact data, recovers a and b to the solver's tolerance; with noise of
// standard deviation sigma the reported standard errors are ordinary least squares' own (sigma^2 (X'X)^-1, with
// sigma estimated from the residuals), which for x = 0..9 are s sqrt(0.3455) for a and s sqrt(1/82.5) for b.
TEST(Fit, RecoversALineWithLeastSquaresErrors) {
  std::vector<double> x, y;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10; ++i) {
    x.push_back(i);
    y.push_back(2.0 + 0.5 * i + ((rng() % 2001) / 1000.0 - 1.0) * 0.1);
  }
  const Residuals r = [&](const Eigen::VectorXd& t) {
    Eigen::VectorXd out(10);
    for (int i = 0; i < 10; ++i) out[i] = t[0] + t[1] * x[i] - y[i];
    return out;
  };
  FitOptions opt;
  int calls = 0;
  double last_rss = 1e300;
  opt.progress = [&](int it, double rss, int) {  // one call per iteration that moved, the sum falling
    EXPECT_EQ(it, ++calls);
    EXPECT_LT(rss, last_rss);
    last_rss = rss;
  };
  const auto fit = fit_least_squares({{"a", -10, 10, 0}, {"b", -10, 10, 0}}, r, opt);
  ASSERT_TRUE(fit.converged);
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last_rss, fit.rss);
  // The exact least-squares solution (normal equations for x = 0..9: mean x 4.5, Sxx 82.5).
  double mx = 4.5, my = 0, sxy = 0;
  for (double v : y) my += v / 10;
  for (int i = 0; i < 10; ++i) sxy += (x[i] - mx) * (y[i] - my);
  const double b = sxy / 82.5, a = my - b * mx;
  EXPECT_NEAR(fit.value[0], a, 1e-6);
  EXPECT_NEAR(fit.value[1], b, 1e-6);
  const double s = std::sqrt(fit.rss / 8);
  EXPECT_NEAR(fit.std_error[0], s * std::sqrt(1.0 / 10 + mx * mx / 82.5), 1e-4 * s);
  EXPECT_NEAR(fit.std_error[1], s * std::sqrt(1.0 / 82.5), 1e-4 * s);
  EXPECT_TRUE(fit.confounded.empty());
}

// Two parameters that only appear as their sum cannot be told apart: reported as confounded; a parameter the residuals
// do not depend on is not determined; a minimum outside the bounds is held at the bound and said so.
TEST(Fit, ReportsWhatTheDataCannotTell) {
  const Residuals sum = [](const Eigen::VectorXd& t) {
    Eigen::VectorXd out(3);
    out << t[0] + t[1] - 1, 2 * (t[0] + t[1]) - 2.1, 0 * t[2] + 3 * (t[0] + t[1]) - 2.9;
    return out;
  };
  const auto fit = fit_least_squares({{"p", 0, 1, 0.2}, {"q", 0, 1, 0.2}, {"z", 0, 1, 0.5}}, sum);
  ASSERT_EQ(fit.confounded.size(), 1u);
  EXPECT_EQ(fit.confounded[0], std::make_pair(0, 1));
  EXPECT_FALSE(fit.determined[2]);
  EXPECT_TRUE(std::isinf(fit.std_error[0]) && std::isinf(fit.std_error[1]));  // only their sum is known
  EXPECT_NEAR(fit.value[0] + fit.value[1], (1 + 2 * 2.1 + 3 * 2.9) / 14, 1e-6);  // the sum's least squares

  const Residuals far = [](const Eigen::VectorXd& t) { return Eigen::VectorXd::Constant(2, t[0] - 3); };
  const auto held = fit_least_squares({{"w", 0, 2, 1}}, far);
  EXPECT_EQ(held.at_bound[0], 1);
  EXPECT_EQ(held.value[0], 2);
}

// Ground truth from the emulator itself.
struct Truth {
  double nic = 0.85, scaleup = 0.9, extra_s = 30e-6, hop_s = 4e-6;
};

const char* kMachine[] = {"region.buildings=1", "bag.enabled=false", "fabric.kind=nsf", "fabric.attach=rail"};

// Measurements on three machines: one 8-GPU H100 node (NVLink-bound: scaleup.efficiency), and 4, 8 and 16 nodes of one
// GPU (NIC-bound, with 3, 7 and 15 network steps per AllGather ring: extra latency and hop latency apart), sizes 64 KiB
// to 1 GiB, their times made with the true values times exp(noise), noise ~ N(0, sigma).
std::vector<Measurement> synthetic(const Truth& t, double sigma, std::uint64_t seed) {
  std::vector<Measurement> ms;
  std::mt19937_64 rng(seed);
  auto normal = [&] {  // Box-Muller on the standard's fixed mt19937_64 sequence
    const double u1 = (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0;
    const double u2 = static_cast<double>(rng() >> 11) / 9007199254740992.0;
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  };
  struct M {
    int gpus, per_node;
    common::CollKind op;
  };
  for (const M& m : {M{8, 8, common::CollKind::AllReduce}, M{4, 1, common::CollKind::AllGather},
                     M{8, 1, common::CollKind::AllGather}, M{16, 1, common::CollKind::AllGather}}) {
    std::vector<std::string> sets(std::begin(kMachine), std::end(kMachine));
    sets.push_back("building.gpus=" + std::to_string(m.gpus));
    sets.push_back("scaleup.gpus=" + std::to_string(m.per_node));
    auto c = models::FabricConfig::from_preset("prometheus");
    for (const auto& s : sets) c.set_assignment(s);
    c.set("nic.efficiency", key_text(*models::find_key("nic.efficiency"), t.nic), "truth");
    c.set("scaleup.efficiency", key_text(*models::find_key("scaleup.efficiency"), t.scaleup), "truth");
    c.set("nccl.extra_latency", key_text(*models::find_key("nccl.extra_latency"), t.extra_s), "truth");
    c.set("nccl.extra_hop_latency", key_text(*models::find_key("nccl.extra_hop_latency"), t.hop_s), "truth");
    const models::Fabric f = models::build_fabric(c);
    const models::Network net(f, collectives::payload_efficiency(f));
    const collectives::Communicator comm(net, models::place_ranks(f.layout, m.gpus, models::Placement::Packed));
    for (double bytes = 64 << 10; bytes <= (1 << 30); bytes *= 4) {
      Measurement x;
      x.spec.op = m.op;
      x.spec.bytes = bytes;
      x.spec.algo = collectives::Algo::Ring;
      x.spec.proto = collectives::Proto::Simple;
      x.ranks = m.gpus;
      x.sets = sets;
      x.time_s = collectives::run_collective(comm, x.spec, models::solver::rate_solver_factory("cpu")).time_s *
                 std::exp(sigma * normal());
      x.source = "synthetic " + std::to_string(m.gpus) + " " + std::to_string(bytes);
      x.group = std::to_string(m.gpus) + " GPUs, bucket " + std::to_string(static_cast<int>(std::log2(bytes) / 4));
      x.kind = common::to_string(m.op);
      x.origin = std::to_string(m.gpus) + " GPUs";
      ms.push_back(x);
    }
  }
  return ms;
}

CalibrateOptions all_four() {
  CalibrateOptions o;
  for (const char* k : {"nic.efficiency", "scaleup.efficiency", "nccl.extra_latency", "nccl.extra_hop_latency"})
    o.params.push_back(default_param(*models::find_key(k)));
  o.params[2].upper = 500e-6;  // the default 2 ms box works too; a smaller one needs fewer iterations
  o.params[3].upper = 100e-6;
  o.holdout = 0;
  return o;
}

TEST(Calibrate, NoiseFreeTimesGiveTheirParametersBack) {
  const Truth t;
  const auto ms = synthetic(t, 0, 1);
  const auto cal = calibrate(models::FabricConfig::from_preset("prometheus"), ms, all_four());
  ASSERT_TRUE(cal.fit.converged);
  // Keys are written with 6 decimals (key_text: 1e-8 of a share, 1e-12 s): the fit is exact to that and the solver.
  EXPECT_NEAR(cal.fit.value[0], t.nic, 1e-5);
  EXPECT_NEAR(cal.fit.value[1], t.scaleup, 1e-5);
  EXPECT_NEAR(cal.fit.value[2], t.extra_s, 1e-8);
  EXPECT_NEAR(cal.fit.value[3], t.hop_s, 1e-9);
  EXPECT_LT(error_stats(ms, cal.points, false, true).max_abs, 1e-5);
}

// With multiplicative noise of 2% (sigma = 0.02 in log time), least squares on log time gives each parameter within a
// few standard errors, and those errors are sigma's: the residuals' own spread estimates sigma (within 30% for 24
// points), and every fitted value lies within 4 standard errors of the truth.
TEST(Calibrate, NoisyTimesGiveTheirParametersBackWithinTheirErrors) {
  const Truth t;
  const double sigma = 0.02;
  const auto ms = synthetic(t, sigma, 2);
  const auto cal = calibrate(models::FabricConfig::from_preset("prometheus"), ms, all_four());
  ASSERT_TRUE(cal.fit.converged);
  const double s = std::sqrt(cal.fit.rss / (static_cast<double>(ms.size()) - 4));
  EXPECT_NEAR(s, sigma, 0.3 * sigma);
  const double truth[] = {t.nic, t.scaleup, t.extra_s, t.hop_s};
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(cal.fit.at_bound[j], 0) << j;
    ASSERT_TRUE(std::isfinite(cal.fit.std_error[j])) << j;
    EXPECT_GT(cal.fit.std_error[j], 0) << j;
    EXPECT_LE(std::abs(cal.fit.value[j] - truth[j]), 4 * cal.fit.std_error[j]) << j;
  }
  // A share scales the bandwidth-bound times: its relative error is about sigma / sqrt(its points), far below 1%.
  EXPECT_LT(cal.fit.std_error[0] / t.nic, 0.01);
}

// The truth outside the bounds: nic.efficiency 85% fitted within 90%..100% ends at 90%, reported as held there.
TEST(Calibrate, AParameterPushedPastItsBoundIsReported) {
  const Truth t;
  const auto ms = synthetic(t, 0, 3);
  auto o = all_four();
  o.params[0].lower = 0.9;
  const auto cal = calibrate(models::FabricConfig::from_preset("prometheus"), ms, o);
  EXPECT_EQ(cal.fit.at_bound[0], -1);
  EXPECT_EQ(cal.fit.value[0], 0.9);
  EXPECT_EQ(cal.fit.std_error[0], 0);
}

// Held-out groups: a fifth of the groups by a seed, whole groups only, the same for the same seed.
TEST(Calibrate, HoldsOutWholeGroupsBySeed) {
  const auto ms = synthetic(Truth{}, 0.01, 4);
  auto o = all_four();
  o.holdout = 0.2;
  o.seed = 11;
  const auto a = calibrate(models::FabricConfig::from_preset("prometheus"), ms, o);
  const auto b = calibrate(models::FabricConfig::from_preset("prometheus"), ms, o);
  EXPECT_EQ(a.held_groups, b.held_groups);
  ASSERT_FALSE(a.held_groups.empty());
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const bool in = std::find(a.held_groups.begin(), a.held_groups.end(), ms[i].group) != a.held_groups.end();
    EXPECT_EQ(a.points[i].held_out, in);
  }
  EXPECT_EQ(a.fit.value, b.fit.value);
  // By machine (source): one of the four machines, all of its points.
  o.holdout_by = CalibrateOptions::HoldoutBy::Source;
  const auto c = calibrate(models::FabricConfig::from_preset("prometheus"), ms, o);
  ASSERT_EQ(c.held_groups.size(), 1u);  // a fifth of 4, at least one
  for (std::size_t i = 0; i < ms.size(); ++i) EXPECT_EQ(c.points[i].held_out, ms[i].origin == c.held_groups[0]);
}

// From a trace: 4 ranks on one H100 node computing (rank r: (1 + r) ms) then an AllReduce of 16 MiB and an AllGather
// of 4 MiB, three times. Its measured times are the replay's own with scaleup.efficiency 85%, nccl.extra_latency 20 us
// and gpu.compute_time 120%; fitted from 100%, 0 us and 100% by replaying, they come back (exactly: no noise).
TEST(Calibrate, ATracesMeasuredTimesGiveTheirParametersBack) {
  traces::Trace t = testing::node_trace(3);
  auto base = models::FabricConfig::from_preset("prometheus");
  base.set_assignment("region.buildings=1");
  base.set_assignment("bag.enabled=false");
  // The truth, replayed with every rank recorded.
  const auto rep = testing::replay_on_building(
      t, {"scaleup.efficiency=85%", "nccl.extra_latency=20us", "gpu.compute_time=120%"}, {0, 1, 2, 3});
  t.measured.assign(4, std::vector<traces::OpTime>(9));
  for (const auto& o : rep.rank_ops) t.measured[o.rank][o.op] = {o.start_s, o.end_s - o.start_s};

  CalibrateOptions o;
  for (const char* k : {"scaleup.efficiency", "nccl.extra_latency", "gpu.compute_time"})
    o.params.push_back(default_param(*models::find_key(k)));
  o.params[1].upper = 500e-6;
  o.holdout = 0;
  std::vector<Measurement> ms;
  const auto cal = calibrate_trace(base, t, TraceReplay{}, o, ms);
  ASSERT_TRUE(cal.fit.converged);
  EXPECT_EQ(ms.size(), 4u * 6 + 4);  // every collective of every rank, and each rank's span
  EXPECT_NEAR(cal.fit.value[0], 0.85, 1e-4);
  EXPECT_NEAR(cal.fit.value[1], 20e-6, 1e-8);
  EXPECT_NEAR(cal.fit.value[2], 1.2, 1e-4);
  EXPECT_GT(error_stats(ms, cal.points, false, false).max_abs, 0.05);  // the start was off
  EXPECT_LT(error_stats(ms, cal.points, false, true).max_abs, 1e-4);
}

// How the trace ran is part of its replay: 16 ranks on 2 nodes all-to-all 64 MiB under NCCL 2.29 (4 p2p channels per
// remote peer where 2.28 gives 2: the NIC binds instead of the channels; nccl.hpp) with 2 QPs per connection. Its
// measured times, replayed as it ran (TraceReplay's qps and nccl_minor), are met at the start (nic.efficiency 100%);
// replayed as 2.28 with 1 QP they are not (the remote traffic on 2 channels of 14 GB/s is slower).
TEST(Calibrate, ATraceIsReplayedWithTheNcclSettingsItRanWith) {
  traces::Trace t;
  t.source = "test trace";
  t.reset_ranks(16, "test");
  std::vector<std::uint32_t> all(16);
  for (std::uint32_t r = 0; r < 16; ++r) all[r] = r;
  t.comms = {{"world", all, 16}};
  for (std::uint32_t r = 0; r < 16; ++r) {
    t.slot_for(r, 0);
    traces::Op a2a;
    a2a.kind = traces::OpKind::Collective;
    a2a.coll = common::CollKind::AllToAll;
    a2a.dtype = common::DataType::Float32;
    a2a.count = 1 << 20;  // per peer: 16 x 4 MiB = 64 MiB per rank
    t.programs[r].ops.push_back(a2a);
  }
  auto base = models::FabricConfig::from_preset("prometheus");
  base.set_assignment("region.buildings=1");
  base.set_assignment("bag.enabled=false");
  base.set_assignment("nic.speed=400Gbps");
  emulator::ReplayOptions ran;
  ran.nccl_minor = 29;
  ran.qps = 2;
  const auto rep = testing::replay_on_building(t, {"nic.speed=400Gbps"}, all, ran);
  t.measured.assign(16, std::vector<traces::OpTime>(1));
  for (const auto& o : rep.rank_ops) t.measured[o.rank][o.op] = {o.start_s, o.end_s - o.start_s};

  CalibrateOptions o;
  o.params.push_back(default_param(*models::find_key("nic.efficiency")));
  o.holdout = 0;
  TraceReplay how;
  how.nccl_minor = 29;
  how.qps = 2;
  std::vector<Measurement> ms;
  const auto as_ran = calibrate_trace(base, t, how, o, ms);
  EXPECT_LT(error_stats(ms, as_ran.points, false, false).max_abs, 1e-9);
  ms.clear();
  const auto as_28 = calibrate_trace(base, t, TraceReplay{}, o, ms);
  EXPECT_GT(error_stats(ms, as_28.points, false, false).max_abs, 0.1);
}

}  // namespace
}  // namespace collemu::analysis
