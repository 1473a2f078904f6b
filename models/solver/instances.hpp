// Rate problems for tests and benchmarks, standard library only (so that the solver's checks and benchmark build on a
// GPU machine with nothing but a compiler, CMake and the CUDA toolkit).
#pragma once

#include <cstdint>

#include "models/solver/rate_problem.hpp"

namespace collemu::models::solver {

// Random links (capacities 1-100 B/s) and flows over 1-5 distinct links, half of the coefficients 1 and the rest in
// [0.05, 1), weights in [0.5, 4), 30% of the flows capped at a quarter of a random capacity.
RateProblem random_rate_problem(std::uint64_t seed, int links, int flows);

// The all-to-all between the k^3/4 hosts of a k-ary fat-tree (Al-Fares et al., SIGCOMM'08), one uniformly random
// ECMP path per flow, unit capacities, host NIC links left out: a flow crosses 2 links within an edge switch, 4 within
// a pod and 6 across pods. k = 16: 1,047,552 flows, 6,141,952 entries (the reference instance of DESIGN.md §6).
// Links are numbered per direction: access (host <-> edge), edge <-> aggregation, aggregation <-> core.
RateProblem fat_tree_all_to_all_problem(std::uint32_t k, std::uint64_t seed);

}  // namespace collemu::models::solver
