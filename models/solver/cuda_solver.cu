#include "models/solver/cuda_solver.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "models/solver/variables.hpp"

namespace collemu::models::solver {

namespace {

void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so that later calls can go on
  throw CudaError(std::string("CUDA error in ") + call + " at " + file + ":" + std::to_string(line) + ": " +
                  cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}
#define COLLEMU_CUDA(call) check((call), #call, __FILE__, __LINE__)
#define COLLEMU_CUDA_LAUNCH() check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

// Fixed point: a link's remaining capacity is rem_q * capacity / kOne, its unfrozen weight wsum_q * weight0 / kOne,
// weight0 being the weight of every variable on it at the last full solve. Sums stay below 2^62 (< 2^63).
constexpr double kOne = 2305843009213693952.0;  // 2^61
constexpr unsigned long long kInfBits = 0x7FF0000000000000ULL;  // +inf as a double's bits

// A device array that frees itself.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (p_ != nullptr) cudaFree(p_);
  }
  void resize(std::size_t n) {
    if (n <= capacity_) {
      size_ = n;
      return;
    }
    if (p_ != nullptr) COLLEMU_CUDA(cudaFree(p_));
    p_ = nullptr;
    COLLEMU_CUDA(cudaMalloc(&p_, std::max<std::size_t>(1, n) * sizeof(T)));
    size_ = capacity_ = n;
  }
  void upload(const T* host, std::size_t n) {
    resize(n);
    if (n > 0) COLLEMU_CUDA(cudaMemcpy(p_, host, n * sizeof(T), cudaMemcpyHostToDevice));
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  void download(T* host, std::size_t n) const {
    if (n > 0) COLLEMU_CUDA(cudaMemcpy(host, p_, n * sizeof(T), cudaMemcpyDeviceToHost));
  }
  T* get() const { return p_; }
  std::size_t bytes() const { return capacity_ * sizeof(T); }

 private:
  T* p_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
};

struct DeviceState {
  // Variables (CSR, variable-major).
  const std::uint64_t* var_begin;
  const std::uint32_t* var_link;
  const double* var_coeff;
  const double* weight;     // per variable, the sum of its live flows' weights
  const double* cap_share;  // per variable, cap / weight (+inf: none)
  const std::uint32_t* live;
  const std::uint32_t* var_component;
  double* level;
  double* var_min;
  // Links.
  const double* capacity;
  const double* weight0;
  const std::uint32_t* link_component;
  long long* rem_q;
  long long* wsum_q;
  std::uint32_t* nvars;
  double* share;
  unsigned long long* link_min;  // bits of a non-negative double
  // Scope of a re-solve: components to rebuild (all when null).
  const std::uint8_t* in_scope;
  std::uint32_t num_links, num_vars;
};

__device__ double link_share(const DeviceState& s, std::uint32_t l) {
  const long long rem = s.rem_q[l];
  if (rem <= 0 || s.capacity[l] <= 0) return 0.0;
  const long long w = s.wsum_q[l] > 0 ? s.wsum_q[l] : 1;  // a free variable is on it: its weight is positive
  return (static_cast<double>(rem) * s.capacity[l]) / (static_cast<double>(w) * s.weight0[l]);
}
__device__ long long rem_units(const DeviceState& s, std::uint32_t l, double amount) {
  return s.capacity[l] > 0 ? llrint(amount / s.capacity[l] * kOne) : 0;
}
__device__ long long weight_units(const DeviceState& s, std::uint32_t l, double aw) {
  return s.weight0[l] > 0 ? llrint(aw / s.weight0[l] * kOne) : 0;
}

// The state at `from_level` for the components in scope: links reset to full capacity, then every live variable
// below the level frozen there (its load taken off its links), the others free (their weight on their links).
__global__ void reset_links(DeviceState s) {
  for (std::uint32_t l = blockIdx.x * blockDim.x + threadIdx.x; l < s.num_links; l += gridDim.x * blockDim.x) {
    if (s.in_scope != nullptr && !s.in_scope[s.link_component[l]]) continue;
    s.rem_q[l] = s.capacity[l] > 0 ? static_cast<long long>(kOne) : 0;
    s.wsum_q[l] = 0;
    s.nvars[l] = 0;
  }
}

__global__ void place_variables(DeviceState s, double from_level, std::uint32_t* active, std::uint32_t* count) {
  for (std::uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < s.num_vars; v += gridDim.x * blockDim.x) {
    if (s.in_scope != nullptr && !s.in_scope[s.var_component[v]]) continue;
    const std::uint64_t b = s.var_begin[v], e = s.var_begin[v + 1];
    if (s.live[v] == 0) continue;  // every flow of it has finished: it stays out
    if (s.level[v] < from_level) {
      for (auto i = b; i < e; ++i) {
        const std::uint32_t l = s.var_link[i];
        atomicAdd(reinterpret_cast<unsigned long long*>(&s.rem_q[l]),
                  static_cast<unsigned long long>(-rem_units(s, l, s.var_coeff[i] * s.weight[v] * s.level[v])));
      }
    } else {
      for (auto i = b; i < e; ++i) {
        const std::uint32_t l = s.var_link[i];
        atomicAdd(reinterpret_cast<unsigned long long*>(&s.wsum_q[l]),
                  static_cast<unsigned long long>(weight_units(s, l, s.var_coeff[i] * s.weight[v])));
        atomicAdd(&s.nvars[l], 1u);
      }
      active[atomicAdd(count, 1u)] = v;
    }
  }
}

// Round, step 1: shares of the links that still carry free variables; the next list's count starts at 0.
__global__ void round_links(DeviceState s, const std::uint32_t* count, std::uint32_t* next_count,
                            unsigned long long* rounds) {
  const std::uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t == 0) {
    *next_count = 0;
    if (*count > 0) ++*rounds;
  }
  if (*count == 0) return;
  for (std::uint32_t l = t; l < s.num_links; l += gridDim.x * blockDim.x) {
    if (s.nvars[l] == 0) continue;
    s.share[l] = link_share(s, l);
    s.link_min[l] = kInfBits;
  }
}

// Step 2: each free variable's smallest share (its cap per weight included); each link's smallest of those.
__global__ void round_var_min(DeviceState s, const std::uint32_t* active, const std::uint32_t* count) {
  const std::uint32_t n = *count;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const std::uint32_t v = active[i];
    const std::uint64_t b = s.var_begin[v], e = s.var_begin[v + 1];
    double m = s.cap_share[v];
    for (auto j = b; j < e; ++j) m = fmin(m, s.share[s.var_link[j]]);
    s.var_min[v] = m;
    const auto bits = static_cast<unsigned long long>(__double_as_longlong(m));
    for (auto j = b; j < e; ++j) atomicMin(&s.link_min[s.var_link[j]], bits);
  }
}

// Step 3: a variable at its cap, or on a link whose share is the smallest along every variable crossing it, freezes
// at its smallest share; the others go to the next list.
__global__ void round_freeze(DeviceState s, const std::uint32_t* active, const std::uint32_t* count,
                             std::uint32_t* next_active, std::uint32_t* next_count) {
  const std::uint32_t n = *count;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const std::uint32_t v = active[i];
    const std::uint64_t b = s.var_begin[v], e = s.var_begin[v + 1];
    const double m = s.var_min[v];
    bool freeze = s.cap_share[v] <= m;
    for (auto j = b; j < e && !freeze; ++j) {
      const std::uint32_t l = s.var_link[j];
      freeze = s.share[l] <= __longlong_as_double(static_cast<long long>(s.link_min[l]));
    }
    if (!freeze) {
      next_active[atomicAdd(next_count, 1u)] = v;
      continue;
    }
    s.level[v] = m;
    for (auto j = b; j < e; ++j) {
      const std::uint32_t l = s.var_link[j];
      const double aw = s.var_coeff[j] * s.weight[v];
      atomicAdd(reinterpret_cast<unsigned long long*>(&s.rem_q[l]),
                static_cast<unsigned long long>(-rem_units(s, l, aw * m)));
      atomicAdd(reinterpret_cast<unsigned long long*>(&s.wsum_q[l]),
                static_cast<unsigned long long>(-weight_units(s, l, aw)));
      atomicSub(&s.nvars[l], 1u);
    }
  }
}

__global__ void set_variables(const std::uint32_t* vars, const double* weights, const std::uint32_t* live_counts,
                              std::uint32_t n, double* weight, std::uint32_t* live) {
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    weight[vars[i]] = weights[i];
    live[vars[i]] = live_counts[i];
  }
}

class CudaRateSolver final : public RateSolver {
 public:
  CudaRateSolver() {
    std::string why;
    if (!cuda_device_available(&why)) throw CudaError("cuda rate solver: " + why);
    COLLEMU_CUDA(cudaGetDevice(&device_));
    cudaDeviceProp prop{};
    COLLEMU_CUDA(cudaGetDeviceProperties(&prop, device_));
    blocks_ = static_cast<unsigned>(prop.multiProcessorCount) * 4;
    COLLEMU_CUDA(cudaMallocHost(&host_count_, sizeof(std::uint32_t)));
    COLLEMU_CUDA(cudaEventCreate(&start_));
    COLLEMU_CUDA(cudaEventCreate(&stop_));
  }
  ~CudaRateSolver() override {
    cudaFreeHost(host_count_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  std::string name() const override { return "cuda"; }
  std::size_t memory_bytes() const override {
    return var_begin_.bytes() + var_link_.bytes() + var_coeff_.bytes() + weight_.bytes() + cap_share_.bytes() +
           live_.bytes() + var_component_.bytes() + level_.bytes() + var_min_.bytes() +
           capacity_.bytes() + weight0_.bytes() + link_component_.bytes() + rem_q_.bytes() + wsum_q_.bytes() +
           nvars_.bytes() + share_.bytes() + link_min_.bytes() + in_scope_.bytes() + active_[0].bytes() +
           active_[1].bytes() + counts_.bytes() + rounds_.bytes();
  }

 private:
  void do_solve(const RateProblem& p, std::span<double> rates) override {
    vars_.build(p);
    vars_.index(p.num_flows());  // the components scope the re-solves
    const auto nv = static_cast<std::uint32_t>(vars_.size());
    const auto nl = static_cast<std::uint32_t>(p.num_links());
    // The variables as a plain CSR with every coefficient (the device reads them coalesced per variable).
    std::vector<std::uint64_t> begin(nv + 1, 0);
    std::vector<std::uint32_t> links;
    std::vector<double> coeff, weight(nv);
    std::vector<std::uint32_t> component(nv);
    links.reserve(p.num_entries());
    coeff.reserve(p.num_entries());
    for (std::uint32_t v = 0; v < nv; ++v) {
      const VarView r = vars_.view(v);
      for (std::uint32_t i = 0; i < r.size(); ++i) {
        links.push_back(r.links()[i]);
        coeff.push_back(r.coefficient(i));
      }
      begin[v + 1] = links.size();
      weight[v] = r.weight();
      component[v] = vars_.component_of_variable(v);
    }
    var_begin_.upload(begin);
    var_link_.upload(links);
    var_coeff_.upload(coeff);
    weight_.upload(weight);
    cap_share_.upload(vars_.cap_share);
    live_.upload(vars_.live_flows);
    var_component_.upload(component);
    level_.resize(nv);
    var_min_.resize(nv);
    capacity_.upload(p.capacities().data(), nl);
    weight0_.upload(vars_.link_weight);
    link_component_.upload(vars_.link_component);
    rem_q_.resize(nl);
    wsum_q_.resize(nl);
    nvars_.resize(nl);
    share_.resize(nl);
    link_min_.resize(nl);
    active_[0].resize(nv);
    active_[1].resize(nv);
    counts_.resize(2);
    rounds_.resize(1);
    host_level_.assign(nv, 0.0);
    in_scope_.resize(vars_.num_components());
    run(p, -kNoCap, false, rates);
  }

  void do_remove_flows(const RateProblem& p, std::span<const FlowIndex> flows, std::span<double> rates,
                       bool /*rates_current*/) override {
    const double from = vars_.remove_flows(p, flows, host_level_, alive_);
    // The changed variables' weights and live counts, and the components to rebuild.
    std::vector<std::uint32_t> changed;
    for (FlowIndex f : flows) changed.push_back(vars_.of_flow[f]);
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    std::vector<double> w(changed.size());
    std::vector<std::uint32_t> live(changed.size());
    std::vector<std::uint8_t> scope(vars_.num_components(), 0);
    for (std::size_t i = 0; i < changed.size(); ++i) {
      w[i] = vars_.view(changed[i]).weight();
      live[i] = vars_.live_flows[changed[i]];
      scope[vars_.component_of_variable(changed[i])] = 1;
    }
    DeviceArray<std::uint32_t> d_vars, d_live;
    DeviceArray<double> d_w;
    d_vars.upload(changed);
    d_w.upload(w);
    d_live.upload(live);
    const auto n = static_cast<std::uint32_t>(changed.size());
    set_variables<<<std::max(1u, std::min(blocks_, (n + 255) / 256)), 256>>>(d_vars.get(), d_w.get(), d_live.get(), n,
                                                                             weight_.get(), live_.get());
    COLLEMU_CUDA_LAUNCH();
    in_scope_.upload(scope);
    run(p, from, true, rates);
  }

  DeviceState state(bool scoped, std::uint32_t num_links) {
    return DeviceState{var_begin_.get(), var_link_.get(), var_coeff_.get(), weight_.get(), cap_share_.get(),
                       live_.get(), var_component_.get(), level_.get(), var_min_.get(),
                       capacity_.get(), weight0_.get(), link_component_.get(), rem_q_.get(), wsum_q_.get(),
                       nvars_.get(), share_.get(), link_min_.get(), scoped ? in_scope_.get() : nullptr,
                       num_links, static_cast<std::uint32_t>(vars_.size())};
  }

  void run(const RateProblem& p, double from_level, bool scoped, std::span<double> rates) {
    const DeviceState st = state(scoped, static_cast<std::uint32_t>(p.num_links()));
    constexpr unsigned kThreads = 256;
    COLLEMU_CUDA(cudaEventRecord(start_));
    COLLEMU_CUDA(cudaMemset(counts_.get(), 0, 2 * sizeof(std::uint32_t)));
    COLLEMU_CUDA(cudaMemset(rounds_.get(), 0, sizeof(unsigned long long)));
    reset_links<<<blocks_, kThreads>>>(st);
    COLLEMU_CUDA_LAUNCH();
    place_variables<<<blocks_, kThreads>>>(st, from_level, active_[0].get(), counts_.get());
    COLLEMU_CUDA_LAUNCH();
    // Rounds until no variable is free; the host looks at the count every kBatch rounds (the kernels of rounds past
    // the last do nothing), so that launches queue ahead instead of waiting for each round.
    constexpr int kBatch = 8;
    for (std::uint64_t round = 0;; ++round) {
      const int cur = static_cast<int>(round % 2), nxt = 1 - cur;
      round_links<<<blocks_, kThreads>>>(st, counts_.get() + cur, counts_.get() + nxt, rounds_.get());
      round_var_min<<<blocks_, kThreads>>>(st, active_[cur].get(), counts_.get() + cur);
      round_freeze<<<blocks_, kThreads>>>(st, active_[cur].get(), counts_.get() + cur, active_[nxt].get(),
                                          counts_.get() + nxt);
      COLLEMU_CUDA_LAUNCH();
      if (round % kBatch == kBatch - 1) {
        COLLEMU_CUDA(cudaMemcpy(host_count_, counts_.get() + nxt, sizeof(std::uint32_t), cudaMemcpyDeviceToHost));
        if (*host_count_ == 0) break;
        if (round > 4 * (std::uint64_t{vars_.size()} + 8))
          throw CudaError("cuda rate solver: no progress after " + std::to_string(round) + " rounds");
      }
    }
    COLLEMU_CUDA(cudaEventRecord(stop_));
    COLLEMU_CUDA(cudaEventSynchronize(stop_));
    float ms = 0;
    COLLEMU_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
    unsigned long long rounds = 0;
    rounds_.download(&rounds, 1);
    level_.download(host_level_.data(), vars_.size());
    stats_ = {};
    stats_.rounds = rounds;
    stats_.variables = vars_.size();
    stats_.device_s = ms / 1e3;
    for (FlowIndex f = 0; f < p.num_flows(); ++f)
      rates[f] = alive_[f] ? p.weight(f) * host_level_[vars_.of_flow[f]] : 0.0;
  }

  int device_ = 0;
  unsigned blocks_ = 0;
  Variables vars_;
  std::vector<double> host_level_;
  std::uint32_t* host_count_ = nullptr;
  cudaEvent_t start_{}, stop_{};
  DeviceArray<std::uint64_t> var_begin_;
  DeviceArray<std::uint32_t> var_link_, live_, var_component_, link_component_, nvars_, counts_;
  DeviceArray<std::uint32_t> active_[2];
  DeviceArray<double> var_coeff_, weight_, cap_share_, level_, var_min_, capacity_, weight0_, share_;
  DeviceArray<std::uint8_t> in_scope_;
  DeviceArray<long long> rem_q_, wsum_q_;
  DeviceArray<unsigned long long> link_min_, rounds_;
};

}  // namespace

bool cuda_device_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why != nullptr) *why = std::string("no usable CUDA device (") + cudaGetErrorString(e) + ")";
    return false;
  }
  if (n == 0) {
    if (why != nullptr) *why = "no CUDA device present";
    return false;
  }
  return true;
}

std::unique_ptr<RateSolver> make_cuda_rate_solver() { return std::make_unique<CudaRateSolver>(); }

}  // namespace collemu::models::solver
