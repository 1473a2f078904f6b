#!/bin/bash
# `collemu run` end to end: the embedded default, JSON keys, the shared multi-rank traces, clear errors.
# $COLLEMU is the binary under test, $SHARED_DATA the shared trace files.
set -u
fails=0
total=0
check() { local what=$1; shift; total=$((total + 1)); if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
# The checks on the shared trace files skip where ../shared/data is not there (a clone on its own), as the C++ tests do.
have_shared=false
[[ -f ${SHARED_DATA:-/nonexistent}/README.md ]] && have_shared=true
shared() { if $have_shared; then check "$@"; else echo "skip - $1 (no shared data at ${SHARED_DATA:-})"; fi; }
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
# The finish tolerance (an approximation, docs/flow-engine.md; 2e-4 unless told): completions close together merge into
# fewer events, and the step moves by no more than the tolerance from the exact one (--finish-tolerance 0; measured on
# the default: 14,936 events exact, 2,367 at 2e-4, the same step time).
"$COLLEMU" run --json --finish-tolerance 0 > "$tmp/exact.json" 2>/dev/null
check "the default tolerance merges events and keeps the step within it of the exact one" python3 -c '
import json, sys
exact, approx = (json.load(open(p)) for p in sys.argv[1:])
assert approx["finish_tolerance"] == 2e-4 and "finish_tolerance" not in exact
assert approx["events"] < exact["events"] / 2, (approx["events"], exact["events"])
assert abs(approx["step_time_s"] - exact["step_time_s"]) <= 2e-4 * exact["step_time_s"]
' "$tmp/exact.json" "$tmp/default.json"

# --set-file: an overlay of keys, the same as the --set it spells; errors name the file and line.
printf 'bag:\n  oversubscription: 7:1\nnic.speed: 400Gbps\n' > "$tmp/overlay.yaml"
check "an overlay file is the --set it spells" bash -c 'diff <("$COLLEMU" coll --ranks 16 --placement spread -b 1G -e 1G --json --set-file "$0") <("$COLLEMU" coll --ranks 16 --placement spread -b 1G -e 1G --json --set bag.oversubscription=7:1 --set nic.speed=400Gbps)' "$tmp/overlay.yaml"
printf '# fitted\npreset: fat-tree\n' > "$tmp/preset.yaml"
printf 'bag:\n  oversubscription: 7\n' > "$tmp/bad.yaml"
check "an overlay cannot choose the preset" bash -c '"$COLLEMU" run --set-file "$0" 2>&1 | grep -q "preset.yaml:2: an overlay sets keys"' "$tmp/preset.yaml"
check "a bad overlay value names its line" bash -c '"$COLLEMU" run --set-file "$0" 2>&1 | grep -q "bad.yaml:2: key .bag.oversubscription.: .7. is not a ratio"' "$tmp/bad.yaml"

# trace convert --to chakra: one ET file per rank that reads back as the same step (compute in whole microseconds:
# each op within 0.5 us, so the step within 0.5 us x the ops on its path, at most the ops of a rank).
"$COLLEMU" trace gen llm -o "$tmp/small.h5" --gpus 32 --tp 8 --pp 2 --dp 2 --layers 4 --hidden 1024 --ffn 4096 \
  --heads 8 --kv-heads 8 --vocab 32000 --seq 2048 --microbatches 4 > /dev/null
"$COLLEMU" trace convert "$tmp/small.h5" -o "$tmp/et" --to chakra > /dev/null
check "one Chakra file per rank" test "$(ls "$tmp"/et/trace.*.et | wc -l)" -eq 32
check "the Chakra files replay as the same step" python3 -c '
import json, subprocess, sys
collemu, h5, et = sys.argv[1:4]
fab = ["--set", "building.gpus=64", "--set", "region.buildings=1", "--set", "bag.enabled=false"]
run = lambda *t: json.loads(subprocess.run([collemu, "run", "-q", "--json", *fab, "--trace", *t], capture_output=True, text=True, check=True).stdout)
info = lambda *t: json.loads(subprocess.run([collemu, "trace", "info", "--json", *t], capture_output=True, text=True, check=True).stdout)
a, b = run(h5), run(*et.split())
ia, ib = info(h5), info(*et.split())
assert ia["ranks"] == ib["ranks"] == 32 and ia["ops"] == ib["ops"], (ia["ops"], ib["ops"])
assert a["collective_count"] == b["collective_count"]
ops_per_rank = ia["ops"] / 32 * 2  # an upper bound on the ops of any rank (2 programs)
assert abs(a["step_time_s"] - b["step_time_s"]) <= 0.5e-6 * ops_per_rank, (a["step_time_s"], b["step_time_s"])
' "$COLLEMU" "$tmp/small.h5" "$(ls "$tmp"/et/trace.*.et | tr '\n' ' ')"

# results.h5 and timeline.json: the same figures as the JSON; the timeline's events as the Trace Event Format
# document defines them (ph, ts and dur in microseconds, pid, tid, name; counters' args are numbers).
"$COLLEMU" run --out "$tmp/r.h5" --timeline "$tmp/t.json" --timeline-ranks 4 --json > "$tmp/with-files.json" 2>/dev/null
check "results.h5 and timeline.json are written" test -s "$tmp/r.h5" -a -s "$tmp/t.json"
check "no temporary files are left" bash -c '! ls "$0"/*.tmp.* 2>/dev/null | grep -q .' "$tmp"
PY=
for p in python3 /usr/bin/python3; do if "$p" -c "import h5py" 2>/dev/null; then PY=$p; break; fi; done
check "h5py is installed (scripts/setup.sh installs python3-h5py)" test -n "$PY"
check "results.h5 holds the step, every collective and every rank" "$PY" -c '
import h5py, json, sys
j = json.load(open(sys.argv[2]))
with h5py.File(sys.argv[1]) as f:
    assert f.attrs["format"] == "collemu-results" and f.attrs["version"] == 1
    for k in ("step_time_s", "compute_s", "exposed_comm_s", "wait_s", "bubble_s", "bag_bytes", "finish_tolerance"):
        assert f.attrs[k] == j[k], (k, f.attrs[k], j[k])
    assert len(f["collectives/start_s"]) == j["collective_count"]
    assert (f["collectives/end_s"][:] >= f["collectives/start_s"][:]).all()
    ranks = f["ranks"]
    total = ranks["compute_s"][:] + ranks["exposed_comm_s"][:] + ranks["bubble_s"][:] + ranks["wait_s"][:]
    assert len(total) == j["ranks"] and abs(total - j["step_time_s"]).max() <= 1e-12 * j["step_time_s"]
    kinds = [k.decode() if isinstance(k, bytes) else k for k in f["legend/kind"][:]]
    assert kinds[f["collectives/kind"][0]] in ("allreduce", "allgather", "reducescatter", "send"), kinds
    # Utilisation over time integrates to the bytes each tier carried.
    names = [n.decode() if isinstance(n, bytes) else n for n in f["tiers/name"][:]]
    dt = f["series/time_s"][1] - f["series/time_s"][0]
    for i, n in enumerate(names):
        carried = (f["series/" + n][:] * f["tiers/capacity_Bps"][i] * dt).sum()
        assert abs(carried - f["tiers/bytes"][i]) <= 1e-9 * max(1.0, f["tiers/bytes"][i]), (n, carried)
' "$tmp/r.h5" "$tmp/with-files.json"
check "timeline.json is trace-event JSON" python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
ev = doc["traceEvents"]
assert doc["displayTimeUnit"] in ("ms", "ns")
slices = [e for e in ev if e["ph"] == "X"]
counters = [e for e in ev if e["ph"] == "C"]
meta = [e for e in ev if e["ph"] == "M"]
assert len(slices) + len(counters) + len(meta) == len(ev)
for e in slices:
    assert isinstance(e["name"], str) and e["ts"] >= 0 and e["dur"] >= 0 and isinstance(e["pid"], int) and isinstance(e["tid"], int)
for e in counters:
    assert e["ts"] >= 0 and all(isinstance(v, (int, float)) for v in e["args"].values())
tracks = {e["tid"] for e in slices}
assert len(tracks) == 8, tracks  # 4 ranks, a compute and a communication track each
assert {e["args"]["name"] for e in meta if e["name"] == "thread_name"} >= {"rank 0 compute", "rank 0 communication"}
assert max(e["ts"] + e["dur"] for e in slices) <= doc["otherData"]["step_time_s"] * 1e6 * (1 + 1e-9)
' "$tmp/t.json"
shared "an unwritable --out names the file" bash -c '"$COLLEMU" run -q --set building.gpus=64 --set region.buildings=1 --set bag.enabled=false --trace "$0"/*.et --out /nonexistent/dir/r.h5 2>&1 | grep -q "^collemu: error: --out /nonexistent/dir/r.h5: its directory /nonexistent/dir does not exist"' "$SHARED_DATA/astra-sim/workload/microbenchmarks/all_reduce/8npus_1MB"

# The complete multi-rank trace sets of the shared data (ASTRA-sim's microbenchmarks, 8 ranks each): one collective
# of 1 MiB on 8 GPUs of one NVLink domain.
small=(--topo prometheus --set building.gpus=64 --set region.buildings=1 --set bag.enabled=false)
D=$SHARED_DATA/astra-sim/workload/microbenchmarks
for op in all_reduce all_gather reduce_scatter all_to_all; do
  shared "shared trace $op replays" python3 -c '
import json, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True)
j = json.loads(out.stdout)
assert j["ranks"] == 8 and j["step_time_s"] > 0 and j["collective_count"] == 1, j
' "$COLLEMU" run "${small[@]}" --json --trace "$D/$op"/8npus_1MB/*.et
done
shared "the custom ring all-reduce replays" bash -c '"$COLLEMU" run "$@" --json --trace "$0"/*.et | grep -q step_time_s' \
  "$SHARED_DATA/astra-sim/system/custom_collectives/custom_ring_allreduce_8npus_1MB" "${small[@]}"

# Placements and several jobs.
printf '# rank: GPU\n0\n1\nr0.b0.gpu2\n3\n4\n5\n6\n 7  # the last\n' > "$tmp/place.txt"
shared "a placement file of ids and names is packed's GPUs" bash -c 'diff <("$COLLEMU" run "$@" --json --placement file:"$0" | grep -v wall_s | grep -v placement) <("$COLLEMU" run "$@" --json | grep -v wall_s | grep -v placement)' "$tmp/place.txt" "${small[@]}" --trace "$D"/all_reduce/8npus_1MB/*.et
shared "the same random seed, the same step" bash -c 'diff <("$COLLEMU" run "$@" --json --placement random:7 | grep -v wall_s) <("$COLLEMU" run "$@" --json --placement random:7 | grep -v wall_s) && "$COLLEMU" run "$@" --json --placement random:7 | grep -q step_time_s' _ "${small[@]}" --trace "$D"/all_reduce/8npus_1MB/*.et
shared "two jobs on one fabric" python3 -c '
import json, subprocess, sys
j = json.loads(subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout)
assert [x["name"] for x in j["jobs"]] == ["job", "ag"], j["jobs"]
assert all(x["step_time_s"] > 0 for x in j["jobs"]) and j["jobs"][1]["placement"] == "random:3"
' "$COLLEMU" run "${small[@]}" --json --trace "$D"/all_reduce/8npus_1MB/*.et --job "ag=$(ls "$D"/all_gather/8npus_1MB/*.et | paste -sd,)@random:3"
# An unnamed job is job<k>, k its place, unless a later job took that name: then the next free number.
shared "an unnamed job does not take a name given to another" python3 -c '
import json, subprocess, sys
j = json.loads(subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout)
assert [x["name"] for x in j["jobs"]] == ["job", "job2", "job1"], j["jobs"]
' "$COLLEMU" run "${small[@]}" --json --trace "$D"/all_reduce/8npus_1MB/*.et --job "$(ls "$D"/all_gather/8npus_1MB/*.et | paste -sd,)@random:3" --job "job1=$(ls "$D"/all_gather/8npus_1MB/*.et | paste -sd,)@random:5"
# Their timeline: a process of tracks per job (job 0 pid 0, job 1 pid 2; pid 1 is the tiers), each job's ops within its
# own step, and the timeline's step the later job's end.
shared "the timeline of two jobs has both" python3 -c '
import json, subprocess, sys
subprocess.run(sys.argv[2:], capture_output=True, check=True)
doc = json.load(open(sys.argv[1]))
jobs = doc["otherData"]["jobs"]
assert [j["name"] for j in jobs] == ["job", "ag"], jobs
assert doc["otherData"]["step_time_s"] == max(j["step_time_s"] for j in jobs)
procs = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
assert procs == {0: "job (recorded ranks)", 1: "link tiers: utilisation", 2: "ag (recorded ranks)"}, procs
for pid, job in ((0, jobs[0]), (2, jobs[1])):
    s = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] == pid]
    assert len({e["tid"] // 2 for e in s}) == 2, pid  # --timeline-ranks 2: 2 ranks (a compute and a comm track each)
    assert max(e["ts"] + e["dur"] for e in s) <= job["step_time_s"] * 1e6 * (1 + 1e-9), pid
' "$tmp/two.json" "$COLLEMU" run "${small[@]}" -q --trace "$D"/all_reduce/8npus_1MB/*.et --job "ag=$(ls "$D"/all_gather/8npus_1MB/*.et | paste -sd,)@random:3" --timeline "$tmp/two.json" --timeline-ranks 2

# A partial job (HTA's rank 0 of 2, an A100 DDP job): refused, or with --fill-missing rank 1 runs rank 0's program.
hta=(--trace "$SHARED_DATA/hta/nccl_parser_config/nccl_data.json.gz" --set gpu.type=a100 --set building.gpus=8 --set region.buildings=1 --set bag.enabled=false)
shared "a partial job replays with --fill-missing, saying so" bash -c '"$@" --fill-missing 2>&1 | grep -q "^collemu: assumed (--fill-missing): rank(s) 1, in no file" && "$@" --fill-missing --json 2>/dev/null | python3 -c "import json, sys; assert json.load(sys.stdin)[\"step_time_s\"] > 0"' _ "$COLLEMU" run -q "${hta[@]}"
shared "without it the partial job is refused" bash -c '! "$@" 2>&1 | grep -q "^collemu run" && "$@" 2>&1 | grep -q "the replay runs whole jobs only (--fill-missing"' _ "$COLLEMU" run -q "${hta[@]}"
refused() { local pattern=$1; shift; local msg; msg=$("$COLLEMU" run "${small[@]}" "$@" 2>&1); local rc=$?; [[ $rc -eq 2 ]] && grep -q -- "$pattern" <<<"$msg" || { echo "  rc $rc: $msg"; false; }; }
shared "one rank of a larger job" refused "the ranks of the job other than this one are missing" --trace "$D/all_reduce/8npus_1MB/all_reduce.0.et"
shared "ranks missing from a set of files" refused "1 of the job's 5 ranks is in no file: 3" --trace "$D"/all_reduce/8npus_1MB/all_reduce.{0,1,2,4}.et
shared "more ranks than GPUs" refused "8 ranks but the fabric" --set scaleup.gpus=4 --set building.gpus=4 --trace "$D"/all_reduce/8npus_1MB/*.et
check "a slow rank past 2^32 does not wrap" refused "^collemu: error: --slow-rank 4294967296=2: expected RANK=FACTOR" --slow-rank 4294967296=2
check "a bad slow rank" refused "^collemu: error: --slow-rank 3: expected RANK=FACTOR" --slow-rank 3
shared "a slow rank the job does not have" refused "slow rank 9000000: the job has ranks 0 to 7" --slow-rank 9000000=2 --trace "$D"/all_reduce/8npus_1MB/*.et
check "a bad compute scale" refused "^collemu: error: --compute-scale 0" --compute-scale 0
check "a bad placement names the option" refused "^collemu: error: --placement diagonal" --placement diagonal
printf '0\n1\n1\n' > "$tmp/twice.txt"
shared "a placement file that names a GPU twice" refused "twice.txt:3: GPU 1 is given twice (first at line 2)" --placement file:"$tmp/twice.txt" --trace "$D"/all_reduce/8npus_1MB/*.et
printf '0\n1\n2\n3\n4\n5\n6\n99\n' > "$tmp/absent.txt"
shared "a placement file that names a GPU the fabric does not have" refused "absent.txt:8: GPU 99 does not exist" --placement file:"$tmp/absent.txt" --trace "$D"/all_reduce/8npus_1MB/*.et
shared "a bad seed" refused "^collemu: error: --placement random:x: expected random:SEED" --placement random:x --trace "$D"/all_reduce/8npus_1MB/*.et
shared "jobs that do not fit" refused "more ranks than the 0 free GPUs" --trace "$D"/all_reduce/8npus_1MB/*.et --set building.gpus=8 --job "$(ls "$D"/all_gather/8npus_1MB/*.et | paste -sd,)"
# Failures at a time: a 128-GPU job (DP across a 16:1 BAG of 4 switches) loses BAG switch r0.bag0 in the middle of its
# data-parallel all-reduce: it ends between the healthy step and the step with r0.bag0 failed from the start (before
# 20 ms at the healthy rate, after it at the failed one), flows in flight are re-routed, and failed at 0 s it is the
# static failure's step.
bag=(--set scaleup.gpus=8 --set building.gpus=64 --set bag.oversubscription=16:1 --placement spread -q --json)
"$COLLEMU" trace gen llm -o "$tmp/t128.h5" --gpus 128 --tp 8 --pp 1 --dp 16 --layers 2 --hidden 2048 --ffn 8192 \
  --heads 16 --kv-heads 8 --vocab 32000 --seq 2048 --microbatches 2 --dp-mode allreduce > /dev/null
# Python for the checks below: run(*extra) runs the command given after the script, with `extra` appended, as JSON.
runs='import json, subprocess, sys
def run(*extra):
    return json.loads(subprocess.run(sys.argv[1:] + list(extra), capture_output=True, text=True, check=True).stdout)
'
failure_lands() {
  python3 -c "$runs"'
healthy, failed = run(), run("--fail", "r0.bag0")
mid, at0 = run("--fail-at", "20ms:r0.bag0"), run("--fail-at", "0s:r0.bag0")
assert healthy["step_time_s"] < mid["step_time_s"] < failed["step_time_s"], (healthy["step_time_s"], mid["step_time_s"], failed["step_time_s"])
assert mid["rerouted_flows"] > 0 and healthy["rerouted_flows"] == 0
assert abs(at0["step_time_s"] - failed["step_time_s"]) <= 1e-12 * failed["step_time_s"], (at0["step_time_s"], failed["step_time_s"])
' "$COLLEMU" run "${bag[@]}" --trace "$tmp/t128.h5" "$@"
}
check "a failure at a time lands between the healthy and the failed step" failure_lands
# Lockstep rings (one flow per channel over all its edges) are re-routed as a whole, with the same outcome.
check "a lockstep ring is re-routed as a whole" failure_lands --granularity lockstep
# --no-symmetry computes every collective on its own: the same step, breakdown and collectives, bit for bit.
check "--no-symmetry gives the same step" python3 -c "$runs"'
reduced, full = run(), run("--no-symmetry")
assert reduced["reused_collectives"] > 0 and full["reused_collectives"] == 0, (reduced["reused_collectives"], full["reused_collectives"])
assert full["engine"]["shared_solves"] == 0 < reduced["engine"]["shared_solves"]
for k in ("step_time_s", "critical", "mean", "collectives", "tiers", "bag_bytes", "collective_count", "flows"):
    assert reduced[k] == full[k], k
' "$COLLEMU" run "${bag[@]}" --trace "$tmp/t128.h5"
fail_at() { local pattern=$1; shift; local msg; msg=$("$COLLEMU" run "${bag[@]}" --trace "$tmp/t128.h5" "$@" 2>&1); local rc=$?; [[ $rc -eq 2 ]] && grep -q -- "$pattern" <<<"$msg" || { echo "  rc $rc: $msg"; false; }; }
check "a failure time needs a unit" fail_at "^collemu: error: --fail-at 20:r0.bag0: '20' has no unit" --fail-at 20:r0.bag0
check "a failure needs a target" fail_at "^collemu: error: --fail-at 20ms: expected TIME:TARGET" --fail-at 20ms
check "a failure of nothing" fail_at "^collemu: error: --fail-at 20ms:r0.bagx: no such node" --fail-at 20ms:r0.bagx
# A failure timed after the step: the step is the healthy one, and the warning says the failure changed nothing.
check "a failure after the step is said to change nothing" bash -c '"$@" 2>&1 >/dev/null | grep -q "^collemu: warning: --fail-at: r0.bag0 fails at 10.000 s, after the step ended at .*: it changed nothing"' _ "$COLLEMU" run "${bag[@]}" --trace "$tmp/t128.h5" --fail-at 10s:r0.bag0
# Cut before the first collective (no flow in flight to re-route): the collective that cannot route names the failures.
check "a failure that cuts a later collective names the failures" fail_at "^collemu: error: at .* s, after failing r0.b0.p0.leaf0 at 0.000001 s, .*r0.b0.p3.leaf0 at 0.000001 s: no live path" --fail-at 1us:r0.b0.p0.leaf0 --fail-at 1us:r0.b0.p1.leaf0 --fail-at 1us:r0.b0.p2.leaf0 --fail-at 1us:r0.b0.p3.leaf0
check "a failure that cuts the job" fail_at "after failing r0.bag3" --fail-at 20ms:r0.bag0 --fail-at 20ms:r0.bag1 --fail-at 20ms:r0.bag2 --fail-at 20ms:r0.bag3
# NCCL_PXN_DISABLE: an MoE step whose expert all-to-alls cross 2 hosts (EP 8 over DP ranks of TP 2) on a rail-attached
# fabric with 4:1 leaves: without PXN the sends to the other host leave from the sender's NIC, across rails through
# the leaf uplinks, one connection per pair of ranks: more flows and more exposed communication (the closed form is
# tests/collectives/coll_validation_test.cpp, WithoutPxnSendsToAnotherHostCrossRailsThroughTheSpines).
"$COLLEMU" trace gen moe -o "$tmp/moe16.h5" --gpus 16 --tp 2 --pp 1 --dp 8 --ep 8 --layers 2 >/dev/null
rail=(--set region.buildings=1 --set bag.enabled=false --set building.gpus=16 --set fabric.kind=nsf
      --set fabric.attach=rail --set fabric.planes=1 --set nic.ports=1 --set nic.speed=400Gbps --set nsf.leaf_ports=2
      --set nsf.leaf_oversubscription=4:1 --set nsf.spines=1)
check "--pxn-disable crosses rails: more flows, more exposed communication" python3 -c '
import json, subprocess, sys
run = lambda *a: json.loads(subprocess.run([sys.argv[1], "run", "--trace", sys.argv[2], "--json", "-q", *sys.argv[3:], *a],
                                           check=True, capture_output=True, text=True).stdout)
pxn, direct = run(), run("--pxn-disable")
assert direct["flows"] > pxn["flows"] and direct["exposed_comm_s"] > 1.2 * pxn["exposed_comm_s"], (pxn, direct)
' "$COLLEMU" "$tmp/moe16.h5" "${rail[@]}"
echo "$((total - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
