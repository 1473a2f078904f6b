#!/usr/bin/env bash
# Fuzzes the trace readers (NCCL logs, Kineto JSON, Chakra ET, Flight Recorder) and the fabric config parser with libFuzzer and grows the corpus
# kept in tests/fuzz/corpus/<reader>/, which every build replays (ctest: fuzz_corpus_test).
#   bash scripts/fuzz.sh [seconds per reader, default 60]
# Needs clang (Debian's clang, installed here when missing). Builds in ./build-fuzz with ASan and UBSan.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
if ! command -v clang++ >/dev/null; then
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
cmake -S . -B build-fuzz -DCOLLEMU_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)"
for reader in nccl_log kineto chakra flight_recorder config; do
  corpus=tests/fuzz/corpus/$reader
  fresh=$(mktemp -d)
  echo "fuzz: $reader for ${seconds}s (corpus $corpus: $(ls "$corpus" | wc -l) inputs)"
  # New inputs go to $fresh; the kept corpus seeds the run. A crash stops the script with the reproducer's path.
  build-fuzz/tests/fuzz/fuzz_$reader -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$fresh" "$corpus" 2>&1 | grep -E "^(stat::|#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY)" || true
  # Keep the inputs that add coverage.
  build-fuzz/tests/fuzz/fuzz_$reader -merge=1 "$corpus" "$fresh" >/dev/null 2>&1
  rm -rf "$fresh"
  echo "fuzz: $reader corpus now $(ls "$corpus" | wc -l) inputs"
done
