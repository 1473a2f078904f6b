#include "analysis/fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.hpp"

namespace collemu::analysis {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEdge = 1e-12;  // in the unit box: at a bound

struct Problem {
  const std::vector<FitParam>& params;
  const Residuals& residuals;
  int evaluations = 0;

  Eigen::VectorXd theta(const Eigen::VectorXd& u) const {
    Eigen::VectorXd t(u.size());
    for (Eigen::Index j = 0; j < u.size(); ++j) t[j] = params[j].lower + u[j] * (params[j].upper - params[j].lower);
    return t;
  }
  Eigen::VectorXd eval(const Eigen::VectorXd& u) {
    ++evaluations;
    return residuals(theta(u));
  }
  // Forward differences in the unit box, stepping inwards at the upper bound.
  Eigen::MatrixXd jacobian(const Eigen::VectorXd& u, const Eigen::VectorXd& r, double step) {
    Eigen::MatrixXd J(r.size(), u.size());
    for (Eigen::Index j = 0; j < u.size(); ++j) {
      Eigen::VectorXd v = u;
      const double h = u[j] + step <= 1 ? step : -step;
      v[j] += h;
      const Eigen::VectorXd rj = eval(v);
      J.col(j) = rj.size() == r.size() && rj.allFinite() ? Eigen::VectorXd((rj - r) / h) : Eigen::VectorXd::Zero(r.size());
    }
    return J;
  }
};

double sum_squares(const Eigen::VectorXd& r) { return r.allFinite() ? r.squaredNorm() : kInf; }

// Held at a bound: at it, with the gradient g of the sum of squares pushing outwards.
int held(double u, double g) {
  if (u <= kEdge && g > 0) return -1;
  if (u >= 1 - kEdge && g < 0) return 1;
  return 0;
}

}  // namespace

FitResult fit_least_squares(const std::vector<FitParam>& params, const Residuals& residuals, const FitOptions& options) {
  const auto n = static_cast<Eigen::Index>(params.size());
  if (n == 0) throw common::UserError("nothing to fit: no parameter given");
  Eigen::VectorXd u(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const FitParam& p = params[j];
    if (!(p.lower < p.upper))
      throw common::UserError("parameter " + p.name + ": empty bounds [" + std::to_string(p.lower) + ", " +
                              std::to_string(p.upper) + "]");
    if (!(p.start >= p.lower && p.start <= p.upper))
      throw common::UserError("parameter " + p.name + ": start " + std::to_string(p.start) + " outside its bounds");
    u[j] = (p.start - p.lower) / (p.upper - p.lower);
  }
  Problem pb{params, residuals};
  // The start exactly as given (not through the unit box, which may round it): a caller that has already evaluated
  // its model there can recognise it.
  Eigen::VectorXd start(n);
  for (Eigen::Index j = 0; j < n; ++j) start[j] = params[j].start;
  ++pb.evaluations;
  Eigen::VectorXd r = residuals(start);
  if (!r.allFinite() || r.size() == 0)
    throw common::UserError("the residuals at the start are not finite numbers (or there are none)");
  FitResult out;
  out.start_rss = sum_squares(r);
  double rss = out.start_rss, lambda = 1e-3;
  for (out.iterations = 0; out.iterations < options.max_iterations; ++out.iterations) {
    if (rss == 0) {
      out.converged = true;
      break;
    }
    const Eigen::MatrixXd J = pb.jacobian(u, r, options.diff_step);
    const Eigen::VectorXd g = J.transpose() * r;
    std::vector<Eigen::Index> free;
    for (Eigen::Index j = 0; j < n; ++j)
      if (!held(u[j], g[j])) free.push_back(j);
    if (free.empty()) {
      out.converged = true;
      break;
    }
    const auto k = static_cast<Eigen::Index>(free.size());
    Eigen::MatrixXd A(k, k);
    Eigen::VectorXd b(k);
    for (Eigen::Index a = 0; a < k; ++a) {
      b[a] = -g[free[a]];
      for (Eigen::Index c = 0; c < k; ++c) A(a, c) = J.col(free[a]).dot(J.col(free[c]));
    }
    const double floor = std::max(1e-12 * A.diagonal().maxCoeff(), 1e-300);
    bool moved = false;
    double step = 0, next_rss = rss;
    while (lambda < 1e12) {
      Eigen::MatrixXd M = A;
      for (Eigen::Index a = 0; a < k; ++a) M(a, a) += lambda * std::max(A(a, a), floor);
      const Eigen::VectorXd d = M.ldlt().solve(b);
      Eigen::VectorXd v = u;
      for (Eigen::Index a = 0; a < k; ++a) v[free[a]] = std::clamp(u[free[a]] + d[a], 0.0, 1.0);
      const Eigen::VectorXd rv = pb.eval(v);
      const double s = rv.size() == r.size() ? sum_squares(rv) : kInf;
      if (s < rss) {
        step = (v - u).lpNorm<Eigen::Infinity>();
        u = v;
        r = rv;
        next_rss = s;
        lambda = std::max(lambda / 10, 1e-12);
        moved = true;
        break;
      }
      lambda *= 10;
    }
    if (!moved) {  // no step lowers the sum: a (projected) stationary point
      out.converged = true;
      break;
    }
    const double drop = (rss - next_rss) / rss;
    rss = next_rss;
    if (options.progress) options.progress(out.iterations + 1, rss, pb.evaluations);
    if (drop < options.tolerance || step < options.tolerance) {
      out.converged = true;
      ++out.iterations;
      break;
    }
  }
  out.rss = rss;

  // At the solution: which parameters are held at a bound, which the data determine, their errors and correlations.
  out.value = pb.theta(u);
  const Eigen::MatrixXd J = pb.jacobian(u, r, options.diff_step);
  const Eigen::VectorXd g = J.transpose() * r;
  out.at_bound.assign(n, 0);
  out.determined.assign(n, true);
  out.std_error = Eigen::VectorXd::Constant(n, kInf);
  out.correlation = Eigen::MatrixXd::Constant(n, n, std::numeric_limits<double>::quiet_NaN());
  double widest = 0;
  for (Eigen::Index j = 0; j < n; ++j) widest = std::max(widest, J.col(j).norm());
  std::vector<Eigen::Index> est;
  for (Eigen::Index j = 0; j < n; ++j) {
    out.at_bound[j] = held(u[j], g[j]);
    if (out.at_bound[j]) {
      out.std_error[j] = 0;
      continue;
    }
    if (J.col(j).norm() <= 1e-9 * widest || widest == 0) {
      out.determined[j] = false;
      continue;
    }
    est.push_back(j);
  }
  const auto m = r.size();
  const auto k = static_cast<Eigen::Index>(est.size());
  if (k > 0) {
    Eigen::MatrixXd Jk(m, k);
    for (Eigen::Index a = 0; a < k; ++a) Jk.col(a) = J.col(est[a]);
    const Eigen::MatrixXd cov_u = Eigen::MatrixXd(Jk.transpose() * Jk).completeOrthogonalDecomposition().pseudoInverse();
    const double s2 = m > k ? rss / static_cast<double>(m - k) : kInf;
    for (Eigen::Index a = 0; a < k; ++a) {
      const FitParam& p = params[est[a]];
      out.std_error[est[a]] = std::sqrt(s2 * cov_u(a, a)) * (p.upper - p.lower);
      for (Eigen::Index c = 0; c < k; ++c) {
        const double den = std::sqrt(cov_u(a, a) * cov_u(c, c));
        out.correlation(est[a], est[c]) = den > 0 ? cov_u(a, c) / den : 0;
      }
    }
    for (Eigen::Index a = 0; a < k; ++a)
      for (Eigen::Index c = a + 1; c < k; ++c)
        if (std::abs(out.correlation(est[a], est[c])) > 0.99)
          out.confounded.emplace_back(static_cast<int>(est[a]), static_cast<int>(est[c]));
    // The data fix only a combination of confounded parameters: each one's own error is unbounded (the pseudo-inverse
    // would print a small, meaningless one).
    for (const auto& [a, c] : out.confounded) out.std_error[a] = out.std_error[c] = kInf;
  }
  out.evaluations = pb.evaluations;
  return out;
}

}  // namespace collemu::analysis
