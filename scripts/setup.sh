#!/usr/bin/env bash
# Installs what collemu needs on Debian 12 (apt-get; sudo when not root) and builds it in ./build (Release).
# Safe to run again: packages already installed are skipped and the build is incremental.
# The CUDA backend is built only where nvcc is on PATH (the CUDA toolkit is not a Debian 12 package).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  g++ make cmake pkg-config python3         # toolchain; python3 runs the CLI tests' JSON checks
  libcli11-dev                              # command line
  libyaml-cpp-dev nlohmann-json3-dev        # fabric configs, JSON output, Kineto traces
  zlib1g-dev                                # gzipped traces
  libhdf5-dev python3-h5py python3-numpy    # the native trace format; h5py to read it from Python
  libeigen3-dev                             # collemu calibrate's least-squares fit
  python3-pandas python3-matplotlib chromium  # collemu-plot (analysis/python); its report is tested in headless Chromium
  protobuf-compiler libprotobuf-dev         # Chakra execution traces
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  libsimgrid-dev                            # SimGrid 3.32: the independent max-min oracle in the validation tests
  libopenmpi-dev openmpi-bin                # collemu sweep over MPI ranks (mpirun)
  slurm-wlm munge                           # the local Slurm cluster the slurm tests submit the sbatch scripts to
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
