#!/bin/bash
# The NCCL capture library end to end without a GPU: two processes of a stand-in job, linked against a stand-in NCCL,
# run with LD_PRELOAD=libcollemu_nccl_capture.so; every call must still reach the NCCL underneath, and `collemu trace
# convert` must merge the two capture files into one consistent trace. $COLLEMU, $CAPTURE (the library), $DRIVER.
set -u
fails=0
total=0
check() { local what=$1; shift; total=$((total + 1)); if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The driver makes 14 NCCL calls (init, 4 collectives, group start/end around a send and a receive, all-to-all,
# split, an all-reduce on the split, two destroys).
plain=$("$DRIVER" 0)
check "the stand-in job runs alone (14 calls)" test "$plain" = 14
check "nothing is captured without LD_PRELOAD" bash -c '[[ -z $(ls "$1") ]]' _ "$tmp"
for r in 0 1; do
  out=$(LD_PRELOAD=$CAPTURE COLLEMU_CAPTURE_DIR=$tmp "$DRIVER" $r)
  check "rank $r: every call reaches NCCL through the capture" test "$out" = 14
done
check "one capture file per process" bash -c '[[ $(ls "$1"/collemu-capture.*.log | wc -l) -eq 2 ]]' _ "$tmp"
check "records carry wall-clock timestamps" grep -q "collemu_t_ns=[0-9]* .* NCCL INFO AllReduce: opCount 0 " "$tmp"/collemu-capture.*.log
check "convert merges the ranks into one consistent trace" bash -c '"$COLLEMU" trace convert "$1"/collemu-capture.*.log -o "$1/job.h5"' _ "$tmp"
check "the trace holds what the job did" bash -c '"$COLLEMU" trace info --json "$1/job.h5" | python3 -c "
import json, sys
j = json.load(sys.stdin)
k = j[\"by_kind\"]
assert j[\"ranks\"] == 2, j[\"ranks\"]
# per rank: all-reduce 1024 floats + 8 floats on the split; broadcast 512 bf16; all-gather 256 fp16; ...
assert k[\"allreduce\"] == {\"ops\": 4, \"bytes\": 2 * (4096 + 32)}, k[\"allreduce\"]
assert k[\"broadcast\"][\"bytes\"] == 2 * 1024 and k[\"allgather\"][\"bytes\"] == 2 * 512
assert k[\"reducescatter\"][\"bytes\"] == 2 * 512 and k[\"alltoall\"][\"bytes\"] == 2 * 128
assert k[\"send\"] == {\"ops\": 2, \"bytes\": 128.0} and k[\"recv\"][\"ops\"] == 2
sizes = sorted(c[\"size\"] for c in j[\"communicators\"])
assert sizes == [1, 1, 2], sizes
"' _ "$tmp"
echo "$((total - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
