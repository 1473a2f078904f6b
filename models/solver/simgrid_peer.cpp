#include "models/solver/simgrid_peer.hpp"

#include <simgrid/s4u.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace collemu::models::solver {

namespace sg4 = simgrid::s4u;

namespace {

// In the child: build the platform, run, write finish times and the run's wall time to `out`.
[[noreturn]] void child(const RateProblem& p, const std::vector<double>& sizes, int out) {
  int argc = 2;
  char name[] = "collemu-simgrid-peer";
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
  std::vector<double> result(p.num_flows() + 1, -1.0);
  for (FlowIndex f = 0; f < p.num_flows(); ++f)
    sg4::Actor::create("flow" + std::to_string(f), hosts[f].first, [&, f] {
      sg4::Comm::sendto(hosts[f].first, hosts[f].second, static_cast<std::uint64_t>(sizes[f]));
      result[f] = sg4::Engine::get_clock();
    });
  const auto t = std::chrono::steady_clock::now();
  e.run();
  result.back() = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  const auto bytes = static_cast<ssize_t>(result.size() * sizeof(double));
  _exit(write(out, result.data(), result.size() * sizeof(double)) == bytes ? 0 : 1);
}

}  // namespace

SimGridRun simgrid_run_to_completion(const RateProblem& p, const std::vector<double>& sizes) {
  p.validate();
  if (sizes.size() != p.num_flows()) throw SolverInputError("simgrid_run_to_completion: one size per flow expected");
  for (FlowIndex f = 0; f < p.num_flows(); ++f)
    for (double a : p.coefficients(f))
      if (a != 1.0)
        throw SolverInputError("flow " + std::to_string(f) + ": SimGrid routes are single paths (coefficient 1)");
  int fd[2];
  if (pipe(fd) != 0) throw std::runtime_error("simgrid peer: pipe failed");
  std::fflush(nullptr);  // the child must not inherit (and flush again) the parent's buffered output
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("simgrid peer: fork failed");
  if (pid == 0) {
    close(fd[0]);
    child(p, sizes, fd[1]);
  }
  close(fd[1]);
  std::vector<double> result(p.num_flows() + 1);
  std::size_t got = 0;
  auto* out = reinterpret_cast<char*>(result.data());
  const std::size_t want = result.size() * sizeof(double);
  while (got < want) {
    const ssize_t n = read(fd[0], out + got, want - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != want || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("simgrid peer: the SimGrid child process failed");
  SimGridRun run;
  run.run_wall_s = result.back();
  result.pop_back();
  run.finish_s = std::move(result);
  return run;
}

}  // namespace collemu::models::solver
