// Rate-solver instances built from fabrics, for benchmarks and validation.
#pragma once

#include <cstdint>
#include <vector>

#include "models/fabric.hpp"
#include "models/solver/rate_problem.hpp"

namespace collemu::models {

struct SolverInstance {
  solver::RateProblem problem;
  std::vector<LinkId> fabric_link;  // problem link index -> fabric link
};

// The solver benchmark's reference instance (issue 3): all-to-all between the k^3/4 hosts of a k-ary fat-tree, one
// ECMP path per flow (the router's hash of a random QP number drawn from `seed`), unit link capacities. GPU-NIC links
// are left out: in a fat-tree they are in series with the host's access link and carry the same flows.
// k = 16: 1,047,552 flows over about 6.1M flow-link entries. Flow f goes from host f / (H - 1) to the f-th other
// host in order (H = k^3/4). k must be even and at most 24 (12M flows); common::InputError otherwise.
SolverInstance fat_tree_all_to_all(std::uint32_t k, std::uint64_t seed);

}  // namespace collemu::models
