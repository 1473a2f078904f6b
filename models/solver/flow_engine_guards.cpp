// FlowEngine's guards (flow_engine.hpp, "Guards"): links whose constraint others imply, left out of the rate problems
// while every flow on them keeps the condition.
#include <algorithm>
#include <cstdio>
#include <string>

#include "models/solver/flow_engine.hpp"

namespace collemu::models::solver {

namespace {
// Guards compare shares and capacity sums made by different roundings of the same value (a sprayed share summed over
// the k links of a group, 36 ports of 200G against 9 NICs of 800G): within this relative slack they hold.
constexpr double kGuardSlack = 1e-12;

std::string share_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
}  // namespace

bool FlowEngine::guard(LinkIndex l, std::span<const LinkIndex> by, double share) {
  const std::size_t nl = capacity_Bps_.size();
  if (num_flows_ > 0) throw SolverInputError("guard of link " + std::to_string(l) + ": after flows were added");
  if (l >= nl) throw SolverInputError("guard of link " + std::to_string(l) + ": there is no such link");
  if (!(share > 0 && share <= 1))
    throw SolverInputError("guard of link " + std::to_string(l) + ": share " + share_text(share) + "; expected (0, 1]");
  for (LinkIndex g : by)
    if (g >= nl)
      throw SolverInputError("guard of link " + std::to_string(l) + ": by link " + std::to_string(g) +
                             ", which does not exist");
  if (guard_of_.empty()) {
    guard_of_.assign(nl, kNone);
    is_guard_.assign(nl, 0);
  }
  if (by.empty() || guard_of_[l] != kNone || is_guard_[l]) return false;
  for (LinkIndex g : by)
    if (g == l || guard_of_[g] != kNone) return false;
  const auto begin = static_cast<std::uint32_t>(guard_by_.size());
  guard_by_.insert(guard_by_.end(), by.begin(), by.end());
  std::sort(guard_by_.begin() + begin, guard_by_.end());
  guard_by_.erase(std::unique(guard_by_.begin() + begin, guard_by_.end()), guard_by_.end());
  guards_.push_back({l, begin, static_cast<std::uint32_t>(guard_by_.size()), share});
  if (!guard_capacity_holds(static_cast<std::uint32_t>(guards_.size() - 1))) {
    guards_.pop_back();
    guard_by_.resize(begin);
    return false;
  }
  guard_of_[l] = static_cast<std::uint32_t>(guards_.size() - 1);
  guard_flows_.push_back(0);
  for (std::uint32_t i = begin; i < guard_by_.size(); ++i) is_guard_[guard_by_[i]] = 1;
  ++stats_.guards;
  return true;
}

bool FlowEngine::guard_capacity_holds(std::uint32_t g) const {
  const Guard& gd = guards_[g];
  double sum = 0;
  for (std::uint32_t i = gd.by_begin; i < gd.by_end; ++i) sum += capacity_Bps_[guard_by_[i]];
  return gd.share * sum <= capacity_Bps_[gd.link] * (1 + kGuardSlack);
}

void FlowEngine::check_guards(std::span<const LinkIndex> links, std::span<const double> coefficients,
                              std::vector<LinkIndex>& broken) const {
  if (guards_.empty()) return;
  auto coeff = [&](std::size_t i) { return coefficients.empty() ? 1.0 : coefficients[i]; };
  for (std::size_t i = 0; i < links.size(); ++i) {
    const std::uint32_t g = guard_of_[links[i]];
    if (g == kNone) continue;
    const Guard& gd = guards_[g];
    bool kept = false;
    for (std::size_t j = 0; j < links.size() && !kept; ++j)
      kept = is_guard_[links[j]] && coeff(i) <= gd.share * coeff(j) * (1 + kGuardSlack) &&
             std::binary_search(guard_by_.begin() + gd.by_begin, guard_by_.begin() + gd.by_end, links[j]);
    if (!kept) broken.push_back(links[i]);
  }
}

void FlowEngine::release_guards(std::vector<LinkIndex>& links, std::vector<std::uint32_t>& comps) {
  std::sort(links.begin(), links.end());
  links.erase(std::unique(links.begin(), links.end()), links.end());
  links.erase(std::remove_if(links.begin(), links.end(), [&](LinkIndex l) { return guard_of_[l] == kNone; }),
              links.end());
  if (links.empty()) return;
  bool used = false;
  for (LinkIndex l : links) {
    used = used || guard_flows_[guard_of_[l]] > 0;
    guard_of_[l] = kNone;
  }
  stats_.guards_broken += links.size();
  if (!used) return;
  // The sending flows on them (rare: a scan of every flow not freed).
  for (FlowId f = 0; f < num_flows_; ++f) {
    const Flow* fl = find(f);
    if (!fl || fl->comp == kNone) continue;
    for (std::uint32_t e = 0; e < fl->entries; ++e)
      if (std::binary_search(links.begin(), links.end(), fl->links[e])) {
        comps.push_back(fl->comp);
        break;
      }
  }
}

void FlowEngine::count_guard_flows(const Flow& fl, int delta) {
  if (guards_.empty()) return;
  for (std::uint32_t e = 0; e < fl.entries; ++e)
    if (const std::uint32_t g = guard_of_[fl.links[e]]; g != kNone) guard_flows_[g] += delta;
}

LinkIndex FlowEngine::first_constraining(const Flow& fl) const {
  for (std::uint32_t e = 0; e < fl.entries; ++e)
    if (constrains(fl.links[e])) return fl.links[e];
  return fl.links[0];  // not reached: a guarded link's flows cross its guard, which constrains
}

}  // namespace collemu::models::solver
