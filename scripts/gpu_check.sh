#!/usr/bin/env bash
# The rate solver's GPU check, in one short run for a machine with an NVIDIA GPU, a compiler, CMake and the CUDA
# toolkit (nothing else is needed: models/solver depends on the standard library and CUDA only).
#   bash scripts/gpu_check.sh [OUT_DIR]        (default: $OUT, else ./gpu-check)
# Builds models/solver alone for sm_90 (+ compute_90 PTX), runs its test (solver_check: every backend against "cpu" to
# 1e-9, the certificate, determinism, removals), then the k=16 benchmark with "cpu" and "cuda" on the same instance.
# Writes device.txt, ctest.log, bench_cpu.json and bench_cuda.json under OUT_DIR; exits non-zero on the first failure.
set -euo pipefail
out="${1:-${OUT:-gpu-check}}"
mkdir -p "$out"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-solver-gpu}"
arch="${CUDA_ARCH:-90}"

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: not found"
  nvcc --version | tail -n 2; } > "$out/device.txt" 2>&1
cat "$out/device.txt"

cmake -S "$root/models/solver" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$arch" > "$out/cmake.log"
cmake --build "$build" -j "$(nproc)" >> "$out/cmake.log"
ctest --test-dir "$build" --output-on-failure > "$out/ctest.log" 2>&1 || { cat "$out/ctest.log"; exit 1; }
tail -n 3 "$out/ctest.log"

for solver in cpu cuda; do
  "$build/solver_bench" --fat-tree-k 16 --solver "$solver" > "$out/bench_$solver.json"
  echo "$solver: $(tr -d '\n' < "$out/bench_$solver.json" | grep -o '"solve_s": [0-9.e+-]*') \
$(tr -d '\n' < "$out/bench_$solver.json" | grep -o '"max_rel_diff_vs_cpu": [0-9.e+-]*' || true)"
done
