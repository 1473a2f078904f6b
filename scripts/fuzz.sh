#!/usr/bin/env bash
# Fuzzes the trace readers (NCCL logs, Kineto JSON, Chakra ET, Flight Recorder, collemu's .h5) and the fabric config parser with libFuzzer and grows the corpus
# kept in tests/fuzz/corpus/<reader>/, which every build replays (ctest: fuzz_corpus_test).
#   bash scripts/fuzz.sh [seconds per reader, default 60] [reader...]   (default: every reader)
# Needs clang (Debian's clang, installed here when missing). Builds in ./build-fuzz with ASan and UBSan.
# A version-1 .h5 is read in a child process (traces/hdf5_trace.cpp): where libhdf5 crashes there, the child's own
# libFuzzer handler leaves a crash-/oom- file in build-fuzz/artifacts/ and the reader turns the child's death into an
# error; only a failure of the fuzzer itself (its exit status) stops this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
shift || true
readers=("$@")
[[ ${#readers[@]} -eq 0 ]] && readers=(nccl_log kineto chakra flight_recorder h5 config)
if ! command -v clang++ >/dev/null; then
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
cmake -S . -B build-fuzz -DCOLLEMU_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)"
for reader in "${readers[@]}"; do
  corpus=tests/fuzz/corpus/$reader
  fresh=$(mktemp -d)
  # An .h5 trace is a few tens of kB (HDF5's chunk indices and headers); the text formats stay small.
  max_len=16384
  [[ $reader == h5 ]] && max_len=65536
  echo "fuzz: $reader for ${seconds}s (corpus $corpus: $(ls "$corpus" | wc -l) inputs)"
  # New inputs go to $fresh; the kept corpus seeds the run. A crash stops the script with the reproducer's path.
  log=build-fuzz/fuzz_$reader.log
  mkdir -p build-fuzz/artifacts
  rc=0
  export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
  build-fuzz/tests/fuzz/fuzz_$reader -max_total_time="$seconds" -max_len=$max_len -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$reader- "$fresh" "$corpus" >"$log" 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" "$log" || true
  if [[ $rc -ne 0 ]]; then
    echo "fuzz: $reader failed (exit $rc): the input that did it is in build-fuzz/artifacts/, the log in $log" >&2
    rm -rf "$fresh"
    exit 1
  fi
  # Keep the inputs that add coverage.
  build-fuzz/tests/fuzz/fuzz_$reader -merge=1 -artifact_prefix=build-fuzz/artifacts/$reader-merge- "$corpus" "$fresh" \
    >"build-fuzz/merge_$reader.log" 2>&1
  rm -rf "$fresh"
  echo "fuzz: $reader corpus now $(ls "$corpus" | wc -l) inputs"
done
