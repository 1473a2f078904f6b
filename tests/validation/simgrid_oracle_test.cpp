// SimGrid 3.32 as an independent oracle for max-min rates (issue 3). The same links and single-path flows are built
// in SimGrid through its public s4u API: a full zone, one host pair per flow with an explicit route over the flow's
// links, latency 0, the CM02 max-min model with bandwidth and latency factors 1, no TCP window bound (TCP-gamma 0),
// no cross-traffic. Every flow sends its bytes from time 0; the completion times must agree with ours to 1e-6.
#include <gtest/gtest.h>
#include <simgrid/s4u.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "models/solver/completion.hpp"
#include "models/solver/rate_solver.hpp"
#include "models/solver_instances.hpp"

namespace collemu::models::solver {
namespace {

namespace sg4 = simgrid::s4u;

// SimGrid has one engine per process: every instance is simulated in a child process, which reports its
// completion times through a pipe.
std::vector<double> simgrid_completion_times(const RateProblem& p, const std::vector<double>& sizes) {
  int fd[2];
  if (pipe(fd) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);  // the child must not inherit (and flush again) the parent's buffered output
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    int argc = 2;
    char name[] = "collemu-simgrid-oracle";
    char quiet[] = "--log=root.thres:warning";
    char* argv[] = {name, quiet, nullptr};
    sg4::Engine e(&argc, argv);
    sg4::Engine::set_config("network/model:CM02");
    sg4::Engine::set_config("network/crosstraffic:0");
    sg4::Engine::set_config("network/TCP-gamma:0");
    sg4::Engine::set_config("network/bandwidth-factor:1");
    sg4::Engine::set_config("network/latency-factor:1");
    sg4::Engine::set_config("network/weight-S:0");
    sg4::Engine::set_config("maxmin/precision:1e-12");
    sg4::Engine::set_config("surf/precision:1e-12");
    auto* zone = sg4::create_full_zone("world");
    std::vector<sg4::Link*> links;
    for (LinkIndex l = 0; l < p.num_links(); ++l)
      links.push_back(zone->create_link("l" + std::to_string(l), p.capacity_Bps(l))->set_latency(0)->seal());
    std::vector<std::pair<sg4::Host*, sg4::Host*>> hosts;
    for (FlowIndex f = 0; f < p.num_flows(); ++f) {
      auto* a = zone->create_host("s" + std::to_string(f), 1e9)->seal();
      auto* b = zone->create_host("d" + std::to_string(f), 1e9)->seal();
      std::vector<sg4::LinkInRoute> route;
      for (LinkIndex l : p.links(f)) route.emplace_back(links[l]);
      zone->add_route(a->get_netpoint(), b->get_netpoint(), nullptr, nullptr, route, false);
      hosts.emplace_back(a, b);
    }
    zone->seal();
    std::vector<double> finish(p.num_flows(), -1.0);
    for (FlowIndex f = 0; f < p.num_flows(); ++f)
      sg4::Actor::create("flow" + std::to_string(f), hosts[f].first, [&, f] {
        sg4::Comm::sendto(hosts[f].first, hosts[f].second, static_cast<std::uint64_t>(sizes[f]));
        finish[f] = sg4::Engine::get_clock();
      });
    e.run();
    const auto bytes = static_cast<ssize_t>(finish.size() * sizeof(double));
    _exit(write(fd[1], finish.data(), finish.size() * sizeof(double)) == bytes ? 0 : 1);
  }
  close(fd[1]);
  std::vector<double> finish(p.num_flows());
  std::size_t got = 0;
  auto* out = reinterpret_cast<char*>(finish.data());
  while (got < finish.size() * sizeof(double)) {
    const ssize_t n = read(fd[0], out + got, finish.size() * sizeof(double) - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != finish.size() * sizeof(double) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the SimGrid child process failed");
  return finish;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / b[i]);
  return worst;
}

TEST(SimGridOracle, FatTreeK8AllToAllWithRandomEcmp) {
  // 128 hosts, 16,256 flows of 1 MB, one random ECMP path each, 100 Gbps (12.5 GB/s) links.
  auto inst = fat_tree_all_to_all(8, 3);
  for (LinkIndex l = 0; l < inst.problem.num_links(); ++l) inst.problem.set_capacity_Bps(l, 12.5e9);
  std::vector<double> sizes(inst.problem.num_flows(), 1e6);
  auto solver = make_rate_solver("cpu");
  auto ours = run_to_completion(*solver, inst.problem, sizes);
  auto theirs = simgrid_completion_times(inst.problem, sizes);
  const double diff = max_rel_diff(ours.finish_s, theirs);
  std::printf("k=8 all-to-all: %zu flows, %zu solves, max relative difference vs SimGrid %.3g\n",
              inst.problem.num_flows(), ours.solves, diff);
  EXPECT_LT(diff, 1e-6);
}

TEST(SimGridOracle, RandomInstances) {
  // Random single-path flows with random sizes over links of random capacities.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> cap(1e9, 1e11), size(1e5, 1e8);
    RateProblem p;
    const int nl = 30 + 10 * static_cast<int>(seed);
    for (int l = 0; l < nl; ++l) p.add_link(cap(rng));
    std::vector<double> sizes;
    for (int f = 0; f < 200 * static_cast<int>(seed); ++f) {
      std::vector<LinkIndex> ls;
      const int k = 1 + static_cast<int>(rng() % 5);
      while (static_cast<int>(ls.size()) < k) {
        const auto l = static_cast<LinkIndex>(rng() % nl);
        if (std::find(ls.begin(), ls.end(), l) == ls.end()) ls.push_back(l);
      }
      p.add_flow(1.0, kNoCap, ls, std::vector<double>(ls.size(), 1.0));
      sizes.push_back(std::floor(size(rng)));
    }
    auto solver = make_rate_solver("cpu");
    auto ours = run_to_completion(*solver, p, sizes);
    auto theirs = simgrid_completion_times(p, sizes);
    const double diff = max_rel_diff(ours.finish_s, theirs);
    std::printf("seed %llu: %zu flows, max relative difference vs SimGrid %.3g\n",
                static_cast<unsigned long long>(seed), p.num_flows(), diff);
    EXPECT_LT(diff, 1e-6) << "seed " << seed;
  }
}

}  // namespace
}  // namespace collemu::models::solver
