#!/bin/bash
# `collemu run` end to end: the embedded default, JSON keys, the shared multi-rank traces, clear errors.
# $COLLEMU is the binary under test, $SHARED_DATA the shared trace files.
set -u
fails=0
total=0
check() { local what=$1; shift; total=$((total + 1)); if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The default: a step time, and a breakdown of the critical rank that adds up to it.
"$COLLEMU" run --json > "$tmp/default.json" 2> "$tmp/default.err"
check "the default runs" test $? -eq 0
check "the default's JSON has the step and its breakdown" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("step_time_s", "compute_s", "exposed_comm_s", "wait_s", "bubble_s", "bag_bytes"):
    assert k in j, k
total = j["compute_s"] + j["exposed_comm_s"] + j["wait_s"] + j["bubble_s"]
assert abs(total - j["step_time_s"]) <= 1e-12 * j["step_time_s"], (total, j["step_time_s"])
assert j["step_time_s"] > j["compute_s"] > 0 and j["bag_bytes"] > 0
' "$tmp/default.json"
check "no progress bar when stderr is not a terminal" test ! -s "$tmp/default.err"
"$COLLEMU" run --json > "$tmp/again.json" 2>/dev/null
check "the same inputs give the same outputs" python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for j in (a, b): j.pop("wall_s")
assert a == b
' "$tmp/default.json" "$tmp/again.json"
check "the text summary" bash -c '"$COLLEMU" run | grep -q "^step time"'

# The complete multi-rank trace sets of the shared data (ASTRA-sim's microbenchmarks, 8 ranks each): one collective
# of 1 MiB on 8 GPUs of one NVLink domain.
small=(--topo prometheus --set building.gpus=64 --set region.buildings=1 --set bag.enabled=false)
D=$SHARED_DATA/astra-sim/workload/microbenchmarks
for op in all_reduce all_gather reduce_scatter all_to_all; do
  check "shared trace $op replays" python3 -c '
import json, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True)
j = json.loads(out.stdout)
assert j["ranks"] == 8 and j["step_time_s"] > 0 and j["collective_count"] == 1, j
' "$COLLEMU" run "${small[@]}" --json --trace "$D/$op"/8npus_1MB/*.et
done
check "the custom ring all-reduce replays" bash -c '"$COLLEMU" run "$@" --json --trace "$0"/*.et | grep -q step_time_s' \
  "$SHARED_DATA/astra-sim/system/custom_collectives/custom_ring_allreduce_8npus_1MB" "${small[@]}"

refused() { local pattern=$1; shift; local msg; msg=$("$COLLEMU" run "${small[@]}" "$@" 2>&1); local rc=$?; [[ $rc -eq 2 ]] && grep -q -- "$pattern" <<<"$msg" || { echo "  rc $rc: $msg"; false; }; }
check "one rank of a larger job" refused "the ranks of the job other than this one are missing" --trace "$D/all_reduce/8npus_1MB/all_reduce.0.et"
check "ranks missing from a set of files" refused "not a whole job" --trace "$D"/all_reduce/8npus_1MB/all_reduce.{0,1,2,4}.et
check "more ranks than GPUs" refused "8 ranks but the fabric" --set scaleup.gpus=4 --set building.gpus=4 --trace "$D"/all_reduce/8npus_1MB/*.et
check "a bad slow rank" refused "^collemu: error: --slow-rank 3: expected RANK=FACTOR" --slow-rank 3
check "a slow rank the job does not have" refused "slow rank 9000000: the job has ranks 0 to 7" --slow-rank 9000000=2 --trace "$D"/all_reduce/8npus_1MB/*.et
check "a bad compute scale" refused "^collemu: error: --compute-scale 0" --compute-scale 0
check "a bad placement names the option" refused "^collemu: error: --placement diagonal" --placement diagonal
echo "$((total - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
