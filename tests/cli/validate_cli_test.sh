#!/bin/bash
# `collemu validate` end to end on a real Kineto trace (../shared/data: HTA's nccl_data.json.gz, rank 0 of a 2-rank DDP
# job on A100s): the measured side equals the NCCL kernels' durations read independently from the JSON; the same
# figures from its .h5 conversion (version 3 keeps the measured times); pairs for notebooks and plots; clear errors.
# $COLLEMU, $COLLEMU_PLOT: under test; $SHARED: ../shared/data (the real-trace checks skip without it).
source "$(dirname "$0")/check.sh"
kineto=$SHARED/hta/nccl_parser_config/nccl_data.json.gz
machine=(--set region.buildings=1 --set bag.enabled=false --set gpu.type=a100 --set building.gpus=8)
refused() { local pattern=$1; shift; local msg; msg=$("$COLLEMU" "$@" 2>&1); local rc=$?; [[ $rc -eq 2 ]] && grep -q -- "$pattern" <<<"$msg" || { echo "  rc $rc: $msg" | tail -3; false; }; }

check "a trace without measured times" refused "nccl_2ranks.log: no measured time of a collective" \
  validate --trace "$(dirname "$0")/../traces/data/nccl_2ranks.log" -q
check "no trace" refused "expected the trace to validate" validate -q
if [[ -f $kineto ]]; then
  check "a partial job needs --fill-missing" refused "the replay runs whole jobs only" validate --trace "$kineto" "${machine[@]}" -q
  "$COLLEMU" validate --trace "$kineto" --fill-missing "${machine[@]}" --json --out "$tmp/pairs.h5" > "$tmp/v.json" 2> "$tmp/v.err"
  check "the assumption is stated" grep -q "assumed (--fill-missing): rank(s) 1" "$tmp/v.err"
  check "the measured side is the NCCL kernels' durations" "$PY" -c '
import gzip, json, statistics, sys
v = json.load(open(sys.argv[1]))
ev = json.load(gzip.open(sys.argv[2]))["traceEvents"]
k = [e for e in ev if e.get("cat") == "kernel" and e["name"].startswith("ncclKernel")]
assert v["ops"] == len(k) == 21, (v["ops"], len(k))
groups = {g["label"]: g for g in v["groups"]}
assert abs(groups["all"]["median_measured_s"] - statistics.median(e["dur"] for e in k) * 1e-6) < 1e-12
ar = [e["dur"] for e in k if e["args"]["Collective name"] == "allreduce" and int(e["args"]["In msg nelems"]) * 4 < 16 << 20]
g = groups["allreduce 4MiB-16MiB"]
assert g["n"] == len(ar) == 6 and abs(g["median_measured_s"] - statistics.median(ar) * 1e-6) < 1e-12, (g, ar)
assert all(x["predicted_s"] > 0 for x in v["spans"]) and len(v["spans"]) == 1
' "$tmp/v.json" "$kineto"
  "$COLLEMU" trace convert --allow-partial "$kineto" -o "$tmp/k.h5" > /dev/null 2>&1
  "$COLLEMU" validate --trace "$tmp/k.h5" --fill-missing "${machine[@]}" --json > "$tmp/h.json" 2> /dev/null
  check "its .h5 conversion gives the same figures" "$PY" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["groups"] == b["groups"] and a["spans"] == b["spans"], (a["groups"], b["groups"])
' "$tmp/v.json" "$tmp/h.json"
  check "the pairs file reads with h5py" "$PY" -c '
import h5py, sys
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] in (b"collemu-validation", "collemu-validation") and len(f["ops/measured_s"]) == 21
assert (f["ops/predicted_s"][:] > 0).all()
' "$tmp/pairs.h5"
  check "collemu-plot validate draws predicted against measured" bash -c \
    '"$1" validate "$2" -o "$3" > /dev/null && test -s "$3/predicted_vs_measured.png" && test -s "$3/error_by_size.png"' \
    _ "$COLLEMU_PLOT" "$tmp/pairs.h5" "$tmp/plots"
else
  echo "skip - no $kineto here"
fi
finish
