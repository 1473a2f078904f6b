// Builds the prometheus preset at 100,000 GPUs (4 buildings x 25,000: DSF, NSF, DSF, NSF) and answers 1M path
// queries between random GPU pairs. Reports wall time per phase and the process's peak resident memory.
// Target (issue 2): under 10 s and 4 GB on a 2-core machine. Run: build/bench/topo_benchmark
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <memory>
#include <random>

#include "models/builder.hpp"
#include "models/router.hpp"

namespace {

using namespace collemu::models;

double peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024.0;  // Linux reports kilobytes
}

FabricConfig prometheus_100k() {
  auto c = FabricConfig::from_preset("prometheus");
  c.set_assignment("region.buildings=4");
  c.set_assignment("building.gpus=25000");
  return c;
}

std::unique_ptr<Fabric> g_fabric;

void BM_BuildPrometheus100k(benchmark::State& state) {
  for (auto _ : state) {
    g_fabric = std::make_unique<Fabric>(build_fabric(prometheus_100k()));
    benchmark::DoNotOptimize(g_fabric.get());
  }
  state.counters["gpus"] = static_cast<double>(g_fabric->layout.gpus_per_building * g_fabric->layout.buildings.size());
  state.counters["nodes"] = static_cast<double>(g_fabric->num_nodes());
  state.counters["links"] = static_cast<double>(g_fabric->num_links());
  state.counters["graph_bytes"] = static_cast<double>(g_fabric->memory_bytes());
  state.counters["peak_rss_bytes"] = peak_rss_bytes();
}
BENCHMARK(BM_BuildPrometheus100k)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_Route1M(benchmark::State& state) {
  if (!g_fabric) g_fabric = std::make_unique<Fabric>(build_fabric(prometheus_100k()));
  const Fabric& f = *g_fabric;
  Router router(f);
  const auto n = static_cast<std::uint64_t>(f.layout.gpus_per_building) * f.layout.buildings.size();
  constexpr int kQueries = 1'000'000;
  double entries = 0, cross_building = 0;
  for (auto _ : state) {
    std::mt19937_64 rng(1);
    Route route;
    for (int i = 0; i < kQueries; ++i) {
      NodeId a = static_cast<NodeId>(rng() % n), b = static_cast<NodeId>(rng() % n);
      if (a == b) b = static_cast<NodeId>((b + 1) % n);
      router.route({a, b, static_cast<std::uint32_t>(i & 7)}, route);
      entries += static_cast<double>(route.size());
      cross_building += router.building_of(a) != router.building_of(b);
    }
  }
  state.counters["queries"] = kQueries;
  state.counters["mean_links_per_route"] = entries / kQueries;
  state.counters["cross_building_share"] = cross_building / kQueries;
  state.counters["peak_rss_bytes"] = peak_rss_bytes();
}
BENCHMARK(BM_Route1M)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
