#include "analysis/summary.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "collectives/nccl.hpp"

namespace collemu::analysis {

StepSummary summarize_step(const emulator::ReplayReport& rep, const models::Network& net, std::size_t busiest_links) {
  StepSummary s;
  s.step_time_s = rep.end_s;
  const double step = rep.end_s;
  std::vector<TierUse> tiers(models::kNumLinkTiers);
  std::vector<std::pair<double, models::EngineLink>> used;
  for (models::EngineLink l = 0; l < rep.link_bytes.size(); ++l) {
    TierUse& t = tiers[static_cast<int>(net.tier(l))];
    t.bytes += rep.link_bytes[l];
    t.capacity_Bps += net.capacity_Bps(l);
    ++t.links;
    if (net.tier(l) == models::LinkTier::Bag && net.up(l)) s.bag_bytes += rep.link_bytes[l];
    if (rep.link_bytes[l] > 0 && net.capacity_Bps(l) > 0 && step > 0)
      used.emplace_back(rep.link_bytes[l] / (net.capacity_Bps(l) * step), l);
  }
  for (int k = 0; k < models::kNumLinkTiers; ++k) {
    TierUse& t = tiers[k];
    if (!t.links) continue;
    t.tier = static_cast<models::LinkTier>(k);
    t.utilisation = step > 0 && t.capacity_Bps > 0 ? t.bytes / (t.capacity_Bps * step) : 0;
    s.tiers.push_back(t);
  }
  const std::size_t top = std::min(busiest_links, used.size());
  std::partial_sort(used.begin(), used.begin() + static_cast<std::ptrdiff_t>(top), used.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (std::size_t i = 0; i < top; ++i) {
    const models::EngineLink l = used[i].second;
    s.busiest.push_back({l, net.fabric().link_name(net.representative(l)), net.tier(l), rep.link_bytes[l], used[i].first});
  }
  std::map<std::tuple<int, int, double>, CollGroup> groups;
  std::map<std::tuple<int, int, double>, double> busbw_sum;
  for (const auto& c : rep.colls) {
    const auto key = std::make_tuple(static_cast<int>(c.kind), c.ranks, c.bytes);
    auto [it, fresh] = groups.try_emplace(key);
    CollGroup& g = it->second;
    if (fresh) {
      g.kind = c.kind;
      g.bytes = c.bytes;
      g.ranks = c.ranks;
      g.algo = c.kind == common::CollKind::Send ? "P2P" : collectives::algo_name(c.kind, c.algo);
      g.proto = collectives::to_string(c.proto);
      g.binding_tier = c.binding_tier;
    }
    const double d = c.end_s - c.start_s;
    ++g.count;
    g.mean_s += d;
    busbw_sum[key] += c.busbw_Bps;
    if (d > g.max_s) {
      g.max_s = d;
      g.binding_tier = c.binding_tier;
    }
  }
  for (auto& [key, g] : groups) {
    g.mean_s /= static_cast<double>(g.count);
    g.mean_busbw_Bps = busbw_sum[key] / static_cast<double>(g.count);
    s.slowest.push_back(g);
  }
  std::stable_sort(s.slowest.begin(), s.slowest.end(), [](const CollGroup& a, const CollGroup& b) { return a.max_s > b.max_s; });
  return s;
}

}  // namespace collemu::analysis
