// CudaRateSolver ("cuda"): the exact local-minimum rule of "cpu-rounds" as CUDA kernels, the state kept on the device
// across re-solves (DESIGN.md §4, §6).
//
// Each round is three kernels over compacted lists: (1) every active link's fair share; (2) every active variable's
// smallest share along its links (its cap per weight a private link), folded into a per-link minimum by atomicMin on
// the bits of non-negative doubles (order-free); (3) every active variable on a link whose share is no larger than
// that minimum, or at its cap, freezes at its smallest share, and the others are compacted into the next list.
//
// Determinism: the links' remaining capacity and unfrozen weight are 64-bit fixed-point integers (capacity and the
// link's initial weight scaled to 2^61), so the atomic additions of many threads give the same bits in any order: the
// same input gives the same rates, bit for bit, and removing flows leaves other components untouched. The fixed-point
// resolution (2^-61 of the link's capacity) is finer than a double's rounding of the same sums.
//
// Merging identical flows, components and the incremental bookkeeping are the CPU's (Variables); the device holds the
// variable CSR, the per-variable and per-link state and the active lists. CUDA errors throw CudaError naming the call.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "models/solver/rate_solver.hpp"

namespace collemu::models::solver {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether a CUDA device can run the backend; when not, `why` says what is missing (no driver, no device, ...).
bool cuda_device_available(std::string* why = nullptr);

// The backend; construction throws CudaError when no device is usable.
std::unique_ptr<RateSolver> make_cuda_rate_solver();

}  // namespace collemu::models::solver
