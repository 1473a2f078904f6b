#include "models/solver/rate_problem.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

namespace collemu::models::solver {

namespace {
std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}
}  // namespace

bool RateProblem::check_flow(std::size_t f, std::size_t num_links, double weight, double cap_Bps,
                             std::span<const LinkIndex> links, std::span<const double> coefficients) {
  auto who = [f] { return "flow " + std::to_string(f) + ": "; };  // built only for an error
  if (!std::isfinite(weight) || !(weight > 0))
    throw SolverInputError(who() + "weight " + num(weight) + "; expected a finite weight > 0");
  if (std::isnan(cap_Bps) || !(cap_Bps > 0))
    throw SolverInputError(who() + "rate cap " + num(cap_Bps) + " B/s; expected a cap > 0 (or none)");
  bool unit = true;
  for (std::size_t i = 0; i < links.size(); ++i) {
    const LinkIndex l = links[i];
    if (l >= num_links)
      throw SolverInputError(who() + "link " + std::to_string(l) + " does not exist (" + std::to_string(num_links) +
                             " links)");
    if (coefficients.empty()) continue;
    const double a = coefficients[i];
    if (!(a > 0 && a <= 1))
      throw SolverInputError(who() + "coefficient " + num(a) + " on link " + std::to_string(l) +
                             "; expected a value in (0, 1]");
    unit = unit && a == 1.0;
  }
  // Each link once: pairwise for short paths, sorted otherwise.
  auto twice = [&](LinkIndex l) { throw SolverInputError(who() + "lists link " + std::to_string(l) + " twice"); };
  if (links.size() <= 32) {
    for (std::size_t i = 1; i < links.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (links[i] == links[j]) twice(links[i]);
  } else {
    std::vector<LinkIndex> sorted(links.begin(), links.end());
    std::sort(sorted.begin(), sorted.end());
    if (auto it = std::adjacent_find(sorted.begin(), sorted.end()); it != sorted.end()) twice(*it);
  }
  return unit;
}

LinkIndex RateProblem::add_link(double capacity_Bps) {
  capacity_Bps_.push_back(capacity_Bps);
  return static_cast<LinkIndex>(capacity_Bps_.size() - 1);
}

FlowIndex RateProblem::add_flow(double weight, double cap_Bps, std::span<const LinkIndex> links,
                                std::span<const double> coefficients) {
  const std::size_t f = weight_.size();
  auto who = [f] { return "flow " + std::to_string(f) + ": "; };  // built only for an error
  if (links.size() != coefficients.size())
    throw SolverInputError(who() + std::to_string(links.size()) + " links but " +
                           std::to_string(coefficients.size()) + " coefficients");
  if (f >= std::numeric_limits<FlowIndex>::max()) throw SolverInputError(who() + "too many flows for 32-bit indices");
  if (links.empty()) throw SolverInputError(who() + "crosses no link; expected at least one");
  const bool unit = check_flow(f, capacity_Bps_.size(), weight, cap_Bps, links, coefficients);
  // `links` or `coefficients` may be another flow's entries of this problem (a copy of a flow): appending them to the
  // vector they live in would read freed memory if it grows, so such spans are copied first.
  auto inside = [](const auto& vec, const auto* ptr) {
    return !vec.empty() && std::less_equal<>()(vec.data(), ptr) && std::less<>()(ptr, vec.data() + vec.size());
  };
  std::vector<LinkIndex> link_copy;
  if (inside(entry_link_, links.data())) {
    link_copy.assign(links.begin(), links.end());
    links = link_copy;
  }
  std::vector<double> coeff_copy;
  if (!unit && inside(coeff_, coefficients.data())) {
    coeff_copy.assign(coefficients.begin(), coefficients.end());
    coefficients = coeff_copy;
  }
  // Room first (growing geometrically), so that running out of memory leaves the problem as it was.
  auto room = [](auto& vec, std::size_t extra) {
    if (vec.size() + extra > vec.capacity()) vec.reserve(std::max(2 * vec.capacity(), vec.size() + extra));
  };
  room(weight_, 1);
  room(cap_Bps_, 1);
  room(flow_begin_, 1);
  room(coeff_begin_, 1);
  room(entry_link_, links.size());
  if (!unit) room(coeff_, coefficients.size());
  if (unit && ones_.size() < links.size()) ones_.reserve(links.size());
  weight_.push_back(weight);
  cap_Bps_.push_back(cap_Bps);
  entry_link_.insert(entry_link_.end(), links.begin(), links.end());
  flow_begin_.push_back(entry_link_.size());
  if (unit) {
    coeff_begin_.push_back(kUnit);
    if (ones_.size() < links.size()) ones_.assign(links.size(), 1.0);
  } else {
    coeff_begin_.push_back(coeff_.size());
    coeff_.insert(coeff_.end(), coefficients.begin(), coefficients.end());
  }
  return static_cast<FlowIndex>(f);
}

void RateProblem::reserve(std::size_t links, std::size_t flows, std::size_t entries) {
  capacity_Bps_.reserve(links);
  weight_.reserve(flows);
  cap_Bps_.reserve(flows);
  flow_begin_.reserve(flows + 1);
  coeff_begin_.reserve(flows);
  entry_link_.reserve(entries);
}

void RateProblem::validate() const {
  for (LinkIndex l = 0; l < capacity_Bps_.size(); ++l) {
    const double c = capacity_Bps_[l];
    if (!std::isfinite(c) || c < 0)
      throw SolverInputError("link " + std::to_string(l) + ": capacity " + num(c) +
                             " B/s; expected a finite capacity >= 0");
  }
}

std::size_t RateProblem::memory_bytes() const {
  return capacity_Bps_.capacity() * sizeof(double) + weight_.capacity() * sizeof(double) +
         cap_Bps_.capacity() * sizeof(double) + flow_begin_.capacity() * sizeof(std::uint64_t) +
         entry_link_.capacity() * sizeof(LinkIndex) + coeff_begin_.capacity() * sizeof(std::uint64_t) +
         coeff_.capacity() * sizeof(double) + ones_.capacity() * sizeof(double);
}

std::string check_max_min(const RateProblem& p, std::span<const double> rates, double tol) {
  if (rates.size() != p.num_flows()) return "rates has " + std::to_string(rates.size()) + " entries, not one per flow";
  std::vector<double> load(p.num_links(), 0.0), max_norm(p.num_links(), 0.0);
  for (FlowIndex f = 0; f < p.num_flows(); ++f) {
    if (!std::isfinite(rates[f]) || rates[f] < 0) return "flow " + std::to_string(f) + ": rate " + num(rates[f]);
    if (rates[f] > p.cap_Bps(f) * (1 + tol)) return "flow " + std::to_string(f) + " exceeds its cap";
    auto links = p.links(f);
    auto a = p.coefficients(f);
    for (std::size_t i = 0; i < links.size(); ++i) {
      load[links[i]] += a[i] * rates[f];
      max_norm[links[i]] = std::max(max_norm[links[i]], rates[f] / p.weight(f));
    }
  }
  // Absolute slack for links of zero or tiny capacity: loads are sums of rates as large as the largest capacity,
  // so their rounding is a few ulps (1e-16 relative) of it; 1e-15 of the largest capacity covers that.
  double scale = 0;
  for (LinkIndex l = 0; l < p.num_links(); ++l) scale = std::max(scale, p.capacity_Bps(l));
  const double abs_tol = 1e-15 * scale;
  for (LinkIndex l = 0; l < p.num_links(); ++l)
    if (load[l] > p.capacity_Bps(l) * (1 + tol) + abs_tol)
      return "link " + std::to_string(l) + " carries " + num(load[l]) + " > capacity " + num(p.capacity_Bps(l));
  for (FlowIndex f = 0; f < p.num_flows(); ++f) {
    if (rates[f] >= p.cap_Bps(f) * (1 - tol)) continue;
    bool ok = false;
    for (LinkIndex l : p.links(f)) {
      const bool saturated = load[l] >= p.capacity_Bps(l) * (1 - tol) - abs_tol;
      if (saturated && rates[f] / p.weight(f) >= max_norm[l] * (1 - tol)) {
        ok = true;
        break;
      }
    }
    if (!ok)
      return "flow " + std::to_string(f) + " (rate " + num(rates[f]) +
             ") has no saturated link on which it has the largest rate per weight";
  }
  return "";
}

}  // namespace collemu::models::solver
