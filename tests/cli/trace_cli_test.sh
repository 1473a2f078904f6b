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
# The native format: convert, read back, and read with h5py as a notebook would (Debian's python3-h5py).
PY=""
for p in python3 /usr/bin/python3; do if "$p" -c "import h5py" 2>/dev/null; then PY=$p; break; fi; done
check "h5py is installed (scripts/setup.sh installs python3-h5py)" test -n "$PY"
check "convert writes a trace that info reads" bash -c '"$COLLEMU" trace convert "$1" -o "$2/t.h5" >/dev/null 2>&1 && "$COLLEMU" trace info "$2/t.h5" | grep -q "2 ranks, 2 distinct programs, 8 ops"' _ "$log" "$tmp"
check "h5py reads the columns" "$PY" -c '
import h5py, sys
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] == b"collemu-trace" and f.attrs["version"] == 3 and f.attrs["world_size"] == 2
assert all(f[d].fletcher32 for d in ("ops/count", "comms/name", "ranks/program"))  # version 2: checksummed
ops = f["ops"]
begin = f["programs/op_begin"][:]
prog = f["ranks/program"][0]
counts = list(ops["count"][begin[prog]:begin[prog + 1]])
assert counts == [2049000, 53120, 1024, 4096], counts
assert list(f["comms/ranks"][:]) == [0, 1]
assert "measured" not in f  # version 3 keeps observed times in /measured; this log has no timestamps
' "$tmp/t.h5"
# A copy of t.h5 edited with h5py (f: the file, opened r+), read by trace info: the message must match PATTERN.
edited() {
  local what=$1 name=$2 edit=$3 pattern=$4
  cp "$tmp/t.h5" "$tmp/$name"
  "$PY" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); $edit" "$tmp/$name" 2>/dev/null
  check "$what" bash -c '"$COLLEMU" trace info "$1" 2>&1 | grep -q -- "$2"' _ "$tmp/$name" "$pattern"
}
edited "a value out of range is named by dataset and index" bad.h5 'f["ops/kind"][0] = 9' "/ops/kind\[0\] = 9: out of range"
edited "another format version is refused" v4.h5 'f.attrs["version"] = 4' "trace format version 4; this collemu reads versions 1 to 3"
edited "a 2-D dataset where a column belongs is refused" 2d.h5 'del f["comms/name"]; f.create_dataset("comms/name", data=[[b"a", b"b"], [b"c", b"d"]], dtype=h5py.string_dtype())' "/comms/name: expected a 1-D dataset"
# The same size and time bounds in every reader: at most 1e18 B per op, finite times (NCCL log, Flight Recorder, .h5).
edited "an .h5 count past 1e18 B is refused" huge.h5 'f["ops/count"][0] = 2**62' "huge.h5: rank 0 .* op 0 (collective): 4611686018427387904 elements of 4 B; expected at most 1e18 B"
edited "an infinite measured time is refused" infm.h5 'f["measured/op_begin"] = [0, 4, 8]; f["measured/start_s"] = [0.0] * 8; f["measured/duration_s"] = [0, float("inf")] + [0] * 6' "infm.h5: /measured/ row 1: start .* duration inf s; expected finite times"
edited "an infinite duration is refused, not printed as inf s" inf.h5 'f["ops/duration_s"][0] = float("inf")' "inf.h5: rank 0 .* op 0 (collective): duration inf s; expected a finite time >= 0"
printf '%s\n' 'h:1:1 [0] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 recvbuff 0x2 count 400000000000000000 datatype 7 op 0 root 0 comm 0xa [nranks=1] stream 0x3' > "$tmp/big.log"
check "an NCCL log count past 1e18 B is refused" bash -c '"$COLLEMU" trace info "$1" 2>&1 | grep -q "big.log: rank 0 (h:1 \[0\]) op 0 (collective): 400000000000000000 elements of 4 B; expected at most 1e18 B"' _ "$tmp/big.log"
"$PY" -c '
import json, sys
d = {"version": "2.4", "pg_config": {"0": {"name": "0", "desc": "default_pg", "ranks": "[0]"}}, "pg_status": {}, "rank": 0,
     "entries": [{"record_id": 0, "pg_id": 0, "process_group": ["0", "default_pg"], "collective_seq_id": 1, "p2p_seq_id": 0,
                  "op_id": 1, "profiling_name": "nccl:all_reduce", "time_created_ns": 1, "input_sizes": [[2**32, 2**32, 2]],
                  "input_dtypes": ["Float"], "output_sizes": [[2**32, 2**32, 2]], "output_dtypes": ["Float"],
                  "state": "completed", "is_p2p": False}]}
json.dump(d, open(sys.argv[1], "w"))' "$tmp/fr_wrap.json"
check "a Flight Recorder shape whose element count wraps 64 bits is refused" bash -c '"$COLLEMU" trace info "$1" 2>&1 | grep -q "fr_wrap.json: entries\[0\]: \"input_sizes\": the tensor.s element count overflows 64 bits"' _ "$tmp/fr_wrap.json"
# The generator's errors name its fields; the CLI names the option they came from.
check "a generator error names the option" bash -c '"$COLLEMU" trace gen llm --dp 100 -o "$1" 2>&1 | grep -q "^collemu: error: --gpus 32768: expected tp x pp x dp = 12800"' _ "$tmp/g.h5"
check "an option with a dash is named as given" bash -c '"$COLLEMU" trace gen llm --kv-heads 5 -o "$1" 2>&1 | grep -q -- "--kv-heads 5: expected a divisor of heads"' _ "$tmp/g.h5"
check "an unknown --format is the option's fault" bash -c '"$COLLEMU" trace info --format pcap "$1" 2>&1 | grep -q -- "--format pcap: unknown trace format"' _ "$tmp/t.h5"
check "an MoE step of 0 experts is refused (it was written dense)" bash -c '"$COLLEMU" trace gen moe -o "$1" --experts 0 2>&1 | grep -q -- "--experts 0: expected at least 1 expert"' _ "$tmp/moe0.h5"
# Whole jobs only, unless asked: ranks missing from a set of per-rank files, the same file twice, an empty dump.
"$COLLEMU" trace gen llm -o "$tmp/eight.h5" --gpus 8 --tp 2 --pp 1 --dp 4 --layers 1 > /dev/null
"$COLLEMU" trace convert "$tmp/eight.h5" --to chakra -o "$tmp/et" > /dev/null
et=("$tmp/et/trace.0.et" "$tmp/et/trace.1.et" "$tmp/et/trace.2.et" "$tmp/et/trace.4.et")
check "Chakra files 0, 1, 2 and 4: rank 3 is named missing, exit 2" bash -c 'out=$("$COLLEMU" trace info "$@" 2>&1); [[ $? -eq 2 ]] && grep -q "trace.0.et ... .*trace.4.et (4 files): 1 of the job.s 5 ranks is in no file: 3; give every rank.s file" <<<"$out" && grep -q -- "--allow-partial" <<<"$out"' _ "${et[@]}"
check "--allow-partial reads it, with a warning naming rank 3" bash -c '"$COLLEMU" trace info --allow-partial "$@" 2>&1 | grep -q "warning: .*a partial job: 1 of the job.s 5 ranks is in no file: 3"' _ "${et[@]}"
check "collemu run refuses a partial job" bash -c 'out=$("$COLLEMU" run -q --trace "$@" 2>&1); [[ $? -eq 2 ]] && grep -q "in no file: 3; .*the replay runs whole jobs only" <<<"$out"' _ "${et[@]}"
ln -s "$tmp/et/trace.1.et" "$tmp/link.1.et"
check "the same file twice (by a link) is refused" bash -c 'out=$("$COLLEMU" trace info "$1" "$2" 2>&1); [[ $? -eq 2 ]] && grep -q "link.1.et: the same file as .*trace.1.et; give each rank.s file once" <<<"$out"' _ "$tmp/et/trace.1.et" "$tmp/link.1.et"
check "the same NCCL log twice is refused" bash -c '"$COLLEMU" trace info "$1" "$1" 2>&1 | grep -q "nccl_2ranks.log: given twice"' _ "$log"
# Three processes on a 2-rank communicator and no Init lines: the warning says how they were grouped.
printf '%s\n' \
  'h:1:1 [0] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 recvbuff 0x2 count 8 datatype 7 op 0 root 0 comm 0xa [nranks=2] stream 0x3' \
  'h:2:1 [1] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 recvbuff 0x2 count 8 datatype 7 op 0 root 0 comm 0xb [nranks=2] stream 0x3' \
  'h:3:1 [2] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 recvbuff 0x2 count 8 datatype 7 op 0 root 0 comm 0xc [nranks=2] stream 0x3' > "$tmp/three.log"
check "no Init lines: the grouping warning is what was done" bash -c '"$COLLEMU" trace info --no-check "$1" 2>&1 | grep -q "3 ranks use a communicator of 2 ranks (#0 of that size in each) and no Init lines tell them apart: taken as 2 groups of 2 consecutive ranks, the last with only 1 (the logs of its other members are missing)"' _ "$tmp/three.log"
check "and the communicators are those groups" bash -c '"$COLLEMU" trace info --no-check --json "$1" 2>/dev/null | python3 -c "
import json, sys
c = json.load(sys.stdin)[\"communicators\"]
assert [x[\"ranks\"] for x in c] == [[0, 1], [2]] and all(x[\"size\"] == 2 for x in c), c
"' _ "$tmp/three.log"
echo "$((total - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
