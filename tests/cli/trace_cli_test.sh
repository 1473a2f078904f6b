#!/bin/bash
# `collemu trace info` end to end on an NCCL COLL log: text and JSON summaries, and the exit code and message when the
# ranks of a communicator disagree. $COLLEMU is the binary under test; $DATA the folder of test traces.
set -u
fails=0
total=0
check() { local what=$1; shift; total=$((total + 1)); if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
log=$DATA/nccl_2ranks.log
check "text summary" bash -c '"$COLLEMU" trace info "$1" 2>/dev/null | grep -q "2 ranks, 2 distinct programs, 8 ops"' _ "$log"
# 2 ranks x 2,049,000 floats = 16,392,000 B of AllReduce; one send and one receive of 1,024 B.
check "JSON summary" bash -c '"$COLLEMU" trace info --json "$1" 2>/dev/null | python3 -c "
import json, sys
j = json.load(sys.stdin)
assert j[\"ranks\"] == 2 and j[\"ops\"] == 8, j
assert j[\"by_kind\"][\"allreduce\"] == {\"ops\": 2, \"bytes\": 16392000.0}, j[\"by_kind\"]
assert j[\"by_kind\"][\"send\"][\"bytes\"] == 1024 and j[\"by_kind\"][\"recv\"][\"ops\"] == 1
assert j[\"communicators\"][0][\"ranks\"] == [0, 1]
assert len(j[\"warnings\"]) == 1 and \":11:\" in j[\"warnings\"][0]
"' _ "$log"
check "the skipped record is reported on stderr" bash -c '"$COLLEMU" trace info "$1" 2>&1 >/dev/null | grep -q "nccl_2ranks.log:11: an NCCL record without"' _ "$log"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' \
  'h:1:1 [0] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 recvbuff 0x2 count 8 datatype 7 op 0 root 0 comm 0xa [nranks=2] stream 0x3' \
  'h:2:1 [1] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 recvbuff 0x2 count 9 datatype 7 op 0 root 0 comm 0xb [nranks=2] stream 0x3' > "$tmp/bad.log"
check "mismatched ranks: exit 2, both ranks named" bash -c '"$COLLEMU" trace info "$1" > "$2/out" 2>&1; rc=$?; [[ $rc -eq 2 ]] && grep -q "rank 0 (h:1 \[0\]) op 0 is allreduce count 8 float32 but rank 1 (h:2 \[1\]) op 0 is allreduce count 9" "$2/out"' _ "$tmp/bad.log" "$tmp"
check "--no-check reads it anyway" bash -c '"$COLLEMU" trace info --no-check "$1" | grep -q "2 ranks"' _ "$tmp/bad.log"
echo "unknown format text" > "$tmp/x.txt"
check "an unknown format is refused" bash -c '"$COLLEMU" trace info "$1" 2>&1 | grep -q "cannot tell the trace format"' _ "$tmp/x.txt"
echo "$((total - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
