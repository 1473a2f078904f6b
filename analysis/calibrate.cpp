#include "analysis/calibrate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>

#include "collectives/coll.hpp"
#include "common/error.hpp"
#include "models/builder.hpp"
#include "models/placement.hpp"
#include "analysis/validate.hpp"
#include "emulator/replay.hpp"

namespace collemu::analysis {

using common::InputError;

bool fittable(const models::KeySpec& key) {
  return key.kind == models::KeyKind::Percent || key.kind == models::KeyKind::Duration;
}

std::string key_text(const models::KeySpec& key, double value) {
  char text[64];
  // 9 decimals: well below the fit's finite-difference steps in any box a user gives.
  if (key.kind == models::KeyKind::Percent)
    std::snprintf(text, sizeof text, "%.9f%%", value * 100);
  else
    std::snprintf(text, sizeof text, "%.9fus", std::max(value, 0.0) * 1e6);
  return text;
}

FitParam default_param(const models::KeySpec& key) {
  FitParam p;
  p.name = std::string(key.name);
  if (key.name == "gpu.compute_time") {  // a share of the trace's compute time either way
    p.lower = 0.25;
    p.upper = 4;
  } else if (key.kind == models::KeyKind::Percent) {
    p.lower = 0.2;
    p.upper = 1;
  } else {
    p.lower = 0;
    p.upper = 2e-3;
  }
  p.start = std::nan("");
  return p;
}

namespace {

// The base config with the parameters at theta.
models::FabricConfig with_params(const models::FabricConfig& base, const std::vector<FitParam>& params,
                                 const Eigen::VectorXd& theta) {
  models::FabricConfig c = base;
  for (std::size_t j = 0; j < params.size(); ++j)
    c.set(params[j].name, key_text(*models::find_key(params[j].name), theta[static_cast<Eigen::Index>(j)]), "calibrate");
  return c;
}

// Predicts every measurement with the parameters at `theta`: one fabric per machine (distinct sets).
class Model {
 public:
  Model(const models::FabricConfig& base, const std::vector<Measurement>& ms, const CalibrateOptions& o)
      : base_(base), ms_(ms), o_(o), solver_(models::solver::rate_solver_factory(o.solver)) {
    for (std::size_t i = 0; i < ms.size(); ++i) {
      std::string key;
      for (const auto& s : ms[i].sets) key += s + "\n";
      machines_[key].push_back(i);
    }
  }

  std::vector<double> predict(const Eigen::VectorXd& theta) const {
    std::vector<double> t(ms_.size());
    for (const auto& [key, idx] : machines_) {
      models::FabricConfig c = with_params(base_, o_.params, theta);
      const Measurement& first = ms_[idx.front()];
      models::Fabric fabric;
      try {
        for (const auto& s : first.sets) c.set_assignment(s);
        fabric = models::build_fabric(c);
      } catch (const common::UserError& e) {
        throw InputError(first.source, std::string("its machine: ") + e.what());
      }
      const models::Network net(fabric, collectives::payload_efficiency(fabric));
      std::map<int, collectives::Communicator> comms;
      for (std::size_t i : idx) {
        const Measurement& m = ms_[i];
        try {
          auto it = comms.find(m.ranks);
          if (it == comms.end())
            it = comms.emplace(m.ranks, collectives::Communicator(
                                            net, models::place_ranks(fabric.layout, m.ranks, models::Placement::Packed)))
                     .first;
          t[i] = collectives::run_collective(it->second, m.spec, solver_).time_s;
        } catch (const common::UserError& e) {
          throw InputError(m.source, e.what());
        }
      }
    }
    return t;
  }

 private:
  const models::FabricConfig& base_;
  const std::vector<Measurement>& ms_;
  const CalibrateOptions& o_;
  models::solver::SolverFactory solver_;
  std::map<std::string, std::vector<std::size_t>> machines_;
};

// Fisher-Yates with mt19937_64 (whose sequence the standard fixes; std::shuffle's use of it is not): the same seed
// holds out the same groups everywhere.
std::vector<std::string> pick_held(std::vector<std::string> groups, double share, std::uint64_t seed) {
  if (share <= 0 || groups.size() < 2) return {};
  std::mt19937_64 rng(seed);
  for (std::size_t i = groups.size() - 1; i > 0; --i) std::swap(groups[i], groups[rng() % (i + 1)]);
  const auto n = std::clamp<std::size_t>(static_cast<std::size_t>(std::lround(share * groups.size())), 1,
                                         groups.size() - 1);
  groups.resize(n);
  std::sort(groups.begin(), groups.end());
  return groups;
}

}  // namespace

ErrorStats error_stats(const std::vector<Measurement>& ms, const std::vector<PointResult>& pts, bool held, bool after) {
  std::vector<double> e;
  for (std::size_t i = 0; i < ms.size(); ++i)
    if (pts[i].held_out == held) e.push_back(ms[i].time_s / (after ? pts[i].after_s : pts[i].before_s) - 1);
  return summarize_errors(e);
}

namespace {

// The parameters' values in `base` (the uncalibrated model), checking that each can be fitted.
Eigen::VectorXd base_values(const models::FabricConfig& base, const std::vector<FitParam>& params) {
  Eigen::VectorXd now(static_cast<Eigen::Index>(params.size()));
  for (std::size_t j = 0; j < params.size(); ++j) {
    const FitParam& p = params[j];
    const models::KeySpec* k = models::find_key(p.name);
    if (!k || !fittable(*k))
      throw common::UserError("'" + p.name + "' cannot be fitted: expected a fabric key that is a share (%) or a "
                              "duration (collemu topo --list-keys)");
    if (!(p.lower < p.upper))
      throw common::UserError("'" + p.name + "': empty bounds, the lower one must be below the upper one");
    // Both bounds must be values the key takes (its range), or the fit would fail only when a step reaches one.
    for (double b : {p.lower, p.upper}) {
      models::FabricConfig probe = base;
      try {
        probe.set(p.name, key_text(*k, b), "the bound");
      } catch (const common::UserError& e) {
        throw common::UserError("'" + p.name + "': a bound of " + key_text(*k, b) + " is outside the key's range (" +
                                e.what() + ")");
      }
    }
    now[static_cast<Eigen::Index>(j)] = base.number(p.name);
  }
  return now;
}

// The fit itself, whatever predicts the measurements: hold-out, before, fit on ln(predicted / measured), after.
// `known`: a prediction already made at `now` (calibrate_trace's first replay), not made again.
Calibration fit_measurements(const std::vector<Measurement>& ms,
                             const std::function<std::vector<double>(const Eigen::VectorXd&)>& model,
                             const Eigen::VectorXd& now, CalibrateOptions o, std::vector<double> known = {}) {
  // The last predictions by their parameters, exactly: the uncalibrated model at `now` is also the fit's start when
  // `now` lies within the bounds, and the fit's last accepted point (kept past the final Jacobian's evaluations) is
  // usually its result; a replay is not cheap.
  std::vector<std::pair<Eigen::VectorXd, std::vector<double>>> recent;
  if (!known.empty()) recent.emplace_back(now, std::move(known));
  auto predict = [&](const Eigen::VectorXd& theta) {
    for (const auto& [at, values] : recent)
      if (at == theta) return values;
    auto values = model(theta);
    if (recent.size() == o.params.size() + 3) recent.erase(recent.begin());  // the last accepted point, past a Jacobian
    recent.emplace_back(theta, values);
    return values;
  };
  if (ms.empty()) throw common::UserError("no measurement to fit");
  for (const Measurement& m : ms)
    if (!(m.time_s > 0) || !std::isfinite(m.time_s))
      throw InputError(m.source, "measured time " + std::to_string(m.time_s) + " s; expected above 0 s");
  Calibration out;
  for (std::size_t j = 0; j < o.params.size(); ++j) {
    FitParam& p = o.params[j];
    if (std::isnan(p.start)) p.start = std::clamp(now[static_cast<Eigen::Index>(j)], p.lower, p.upper);
    out.start.push_back(p.start);
  }
  auto unit = [&](const Measurement& m) -> const std::string& {
    using By = CalibrateOptions::HoldoutBy;
    return o.holdout_by == By::Collective ? m.kind : o.holdout_by == By::Source ? m.origin : m.group;
  };
  std::vector<std::string> groups;
  for (const Measurement& m : ms) groups.push_back(unit(m));
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  out.held_groups = pick_held(groups, o.holdout, o.seed);
  out.points.resize(ms.size());
  std::vector<std::size_t> fitted;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    out.points[i].held_out = std::binary_search(out.held_groups.begin(), out.held_groups.end(), unit(ms[i]));
    if (!out.points[i].held_out) fitted.push_back(i);
  }
  const auto before = predict(now);  // the uncalibrated model: the base config's own values
  for (std::size_t i = 0; i < ms.size(); ++i) out.points[i].before_s = before[i];
  // Residuals: ln(predicted / measured) of the fitted points (every point is predicted: the machines are built once).
  out.fit = fit_least_squares(
      o.params,
      [&](const Eigen::VectorXd& theta) {
        const auto t = predict(theta);
        Eigen::VectorXd r(static_cast<Eigen::Index>(fitted.size()));
        for (std::size_t a = 0; a < fitted.size(); ++a)
          r[static_cast<Eigen::Index>(a)] = std::log(t[fitted[a]] / ms[fitted[a]].time_s);
        return r;
      },
      o.fit);
  const auto after = predict(out.fit.value);
  for (std::size_t i = 0; i < ms.size(); ++i) out.points[i].after_s = after[i];
  return out;
}

}  // namespace

Calibration calibrate(const models::FabricConfig& base, const std::vector<Measurement>& ms,
                      const CalibrateOptions& options) {
  const Eigen::VectorXd now = base_values(base, options.params);
  const Model model(base, ms, options);
  return fit_measurements(ms, [&](const Eigen::VectorXd& theta) { return model.predict(theta); }, now, options);
}

Calibration calibrate_trace(const models::FabricConfig& base, const traces::Trace& t, const TraceReplay& how,
                            const CalibrateOptions& options, std::vector<Measurement>& ms) {
  const Eigen::VectorXd now = base_values(base, options.params);
  // Each evaluation: the fabric with the parameters, the trace replayed on it, its measured ops and spans compared.
  auto replayed = [&](const Eigen::VectorXd& theta) {
    const models::Fabric fabric = [&] {
      try {
        return models::build_fabric(with_params(base, options.params, theta));
      } catch (const common::UserError& e) {
        throw InputError("the fabric", e.what());
      }
    }();
    const models::Network net(fabric, collectives::payload_efficiency(fabric));
    emulator::Job job;
    job.name = "job";
    job.trace = &t;
    job.compute_scale = how.compute_scale * fabric.layout.compute_time;
    job.gpus = models::place_ranks(fabric.layout, static_cast<int>(t.world_size), how.placement);
    emulator::ReplayOptions ro;
    ro.solver = models::solver::rate_solver_factory(options.solver);
    ro.finish_tolerance = how.finish_tolerance;
    ro.qps = how.qps;
    ro.nccl_minor = how.nccl_minor;
    ro.record_ranks = measured_ranks(t);
    return compare_measured(t, emulator::replay(net, {job}, ro));
  };
  // The measurements, in the order compare_measured gives them (ranks, then ops; then each rank's span).
  const Validation first = replayed(now);
  ms.clear();
  for (const OpPair& p : first.ops) {
    Measurement m;
    m.source = t.rank_name(p.rank) + " op " + std::to_string(p.op);
    m.kind = p.kind == traces::OpKind::Collective ? std::string(common::to_string(p.coll)) : traces::to_string(p.kind);
    m.group = m.kind + " " + size_bucket(p.bytes);
    m.origin = t.source;
    m.spec.op = p.coll;
    m.spec.bytes = p.bytes;
    m.ranks = static_cast<int>(t.world_size);
    m.time_s = p.measured_s;
    ms.push_back(std::move(m));
  }
  for (const SpanPair& s : first.spans) {
    Measurement m;
    m.source = t.rank_name(s.rank) + " span";
    m.group = m.kind = "span";
    m.origin = t.source;
    m.ranks = static_cast<int>(t.world_size);
    m.time_s = s.measured_s;
    ms.push_back(std::move(m));
  }
  auto predictions = [](const Validation& v) {
    std::vector<double> out;
    for (const OpPair& p : v.ops) out.push_back(p.predicted_s);
    for (const SpanPair& s : v.spans) out.push_back(s.predicted_s);
    return out;
  };
  auto predict = [&](const Eigen::VectorXd& theta) {
    const Validation v = replayed(theta);
    COLLEMU_ASSERT(v.ops.size() + v.spans.size() == ms.size(), "a replay paired other ops than the first");
    return predictions(v);
  };
  return fit_measurements(ms, predict, now, options, predictions(first));
}

std::string overlay_yaml(const std::vector<FitParam>& params, const FitResult& fit, const std::string& header) {
  std::string y = header;
  for (std::size_t j = 0; j < params.size(); ++j) {
    const models::KeySpec* k = models::find_key(params[j].name);
    const auto J = static_cast<Eigen::Index>(j);
    y += params[j].name + ": " + key_text(*k, fit.value[J]);
    if (fit.at_bound[j])
      y += "  # held at its " + std::string(fit.at_bound[j] < 0 ? "lower" : "upper") + " bound";
    else if (!fit.determined[j])
      y += "  # not determined by the data (its start)";
    else if (!std::isfinite(fit.std_error[J]))
      y += "  # not told apart from another fitted key: only their combination is fitted";
    else
      y += "  # +/- " + key_text(*k, fit.std_error[J]);
    y += "\n";
  }
  return y;
}

}  // namespace collemu::analysis
