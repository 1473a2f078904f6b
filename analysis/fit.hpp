// Bounded nonlinear least squares (collemu calibrate): minimise the sum of squared residuals r(theta) over a box of
// parameters, by a projected Levenberg-Marquardt on Eigen's dense linear algebra, with each fitted value's standard
// error and the parameters the data cannot tell apart.
//
// - Each parameter works in the unit box u = (theta - lower) / (upper - lower) in [0, 1], so that the damping treats
//   parameters of different units alike. The Jacobian is by finite differences (forward, stepping inwards at a bound).
// - A step solves (J'J + lambda diag(J'J)) d = -J'r for the parameters not held at a bound and is projected into the
//   box; lambda shrinks after a step that lowers the sum and grows after one that does not (Marquardt's rule).
// - A parameter that ends at a bound with the gradient pushing it outwards is reported as held there (at_bound), not
//   silently kept: the data want a value outside what the bounds allow.
// - Standard errors: the square roots of the diagonal of s^2 (J'J)^-1 over the free parameters, s^2 = sum r^2 /
//   (residuals - free parameters), the linearised covariance of least squares; a parameter whose Jacobian column is
//   (near) zero is not determined, and two whose correlation is above 0.99 in magnitude cannot be told apart.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

namespace collemu::analysis {

struct FitParam {
  std::string name;
  double lower = 0, upper = 1, start = 0.5;
};

struct FitOptions {
  int max_iterations = 100;
  double tolerance = 1e-10;  // relative decrease of the sum of squares (and step size in the unit box) that ends it
  double diff_step = 1e-5;   // finite-difference step in the unit box
  // Called after each iteration (its number from 1, the sum of squares, the evaluations so far): progress on long fits.
  std::function<void(int iteration, double rss, int evaluations)> progress;
};

struct FitResult {
  Eigen::VectorXd value;       // fitted parameters
  Eigen::VectorXd std_error;   // +inf where not determined or confounded; 0 where held at a bound
  Eigen::MatrixXd correlation; // of the free parameters (NaN rows and columns elsewhere)
  std::vector<int> at_bound;   // -1 held at its lower bound, +1 at its upper bound, 0 free
  std::vector<bool> determined;  // false: the residuals do not depend on it
  std::vector<std::pair<int, int>> confounded;  // pairs with |correlation| > 0.99
  double rss = 0, start_rss = 0;
  int iterations = 0, evaluations = 0;
  bool converged = false;
};

using Residuals = std::function<Eigen::VectorXd(const Eigen::VectorXd& theta)>;

// Throws common::UserError for an empty box (lower >= upper), a start outside it, or residuals that are not finite at
// the start; a fit that reaches max_iterations returns converged = false (the caller says so).
FitResult fit_least_squares(const std::vector<FitParam>& params, const Residuals& residuals,
                            const FitOptions& options = {});

}  // namespace collemu::analysis
