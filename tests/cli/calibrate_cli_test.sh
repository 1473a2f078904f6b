#!/bin/bash
# `collemu calibrate` end to end: nccl-tests outputs in, fitted keys out (an overlay that coll then reproduces the
# measured times with), and clear errors for logs that are not what they claim. The logs are made here: collemu coll's
# rows (nccl-tests' row format) under nccl-tests' own header lines (src/common.cu writeDeviceReport: "# Collective test
# starting: PROGRAM", one "#  Rank  N Group  0 Pid ... device ..." line per rank), from a fabric with known keys.
# $COLLEMU is the binary under test.
source "$(dirname "$0")/check.sh"
machine=(--topo prometheus --set region.buildings=1 --set bag.enabled=false --set fabric.kind=nsf
         --set fabric.attach=rail --set scaleup.gpus=1)
# A log of PROGRAM on RANKS ranks (one GPU per node), made with the extra keys given after.
make_log() {
  local program=$1 op=$2 ranks=$3 out=$4; shift 4
  {
    echo "# nccl-tests version 2.17.6 nccl-headers=22807 nccl-library=22807"
    echo "# Collective test starting: $program"
    echo "# nThread 1 nGpus 1 minBytes 262144 maxBytes 1073741824 step: 4(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0"
    echo "#"
    echo "# Using devices"
    for ((r = 0; r < ranks; r++)); do
      printf "#  Rank %2d Group  0 Pid %6d on     node%02d device  0 [0000:18:00] NVIDIA H100 80GB HBM3\n" $r $((1000 + r)) $r
    done
    "$COLLEMU" coll "${machine[@]}" --set building.gpus=$ranks --op $op --ranks $ranks -b 256K -e 1G -f 4 \
      --algo Ring --proto Simple "$@" | grep -v '^# collemu\|^# [0-9]* channels\|^# finish'
    echo "# Out of bounds values : 0 OK"
  } > "$out"
}
make_log all_gather_perf allgather 8 "$tmp/ag8.log" --set nic.efficiency=88% --set nccl.extra_latency=25us \
  --set nccl.extra_hop_latency=3us
make_log all_gather_perf allgather 16 "$tmp/ag16.log" --set nic.efficiency=88% --set nccl.extra_latency=25us \
  --set nccl.extra_hop_latency=3us

fit=(calibrate "${machine[@]}" --set building.gpus=16 --algo Ring --proto Simple --fit nic.efficiency
     --fit nccl.extra_latency --fit nccl.extra_hop_latency --holdout 0)
check "two logs fit back the keys they were made with" python3 -c '
import json, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout
p = {x["key"]: x for x in json.loads(out)["parameters"]}
# the logs print times to 2-4 significant decimals (nccl-tests rounding): the fit is as close as that allows
assert abs(p["nic.efficiency"]["value"] - 0.88) < 2e-3, p
assert abs(p["nccl.extra_latency"]["value"] - 25e-6) < 1e-6, p
assert abs(p["nccl.extra_hop_latency"]["value"] - 3e-6) < 2e-7, p
' "$COLLEMU" "${fit[@]}" --nccl-tests "$tmp/ag8.log" "$tmp/ag16.log" --json
"$COLLEMU" "${fit[@]}" --nccl-tests "$tmp/ag8.log" "$tmp/ag16.log" --out "$tmp/fitted.yaml" > "$tmp/fit.txt"
check "the table reports the error before and after" grep -q "^fitted .* -> " "$tmp/fit.txt"
check "the overlay names each fitted key" bash -c 'grep -q "^nic.efficiency: 8[78]\.[0-9]*%" "$1" && grep -q "^nccl.extra_latency: " "$1"' _ "$tmp/fitted.yaml"
pred=$("$COLLEMU" coll "${machine[@]}" --set building.gpus=16 --set-file "$tmp/fitted.yaml" --op allgather --ranks 16 \
  -b 256K -e 1G -f 4 --algo Ring --proto Simple --json)
check "coll with the overlay reproduces the measured times (1%)" python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
meas = {}
for line in open(sys.argv[2]):
    t = line.split()
    if t and not line.startswith("#"):
        meas[int(t[0])] = float(t[5]) * 1e-6
assert len(meas) == len(rows) == 7, (len(meas), len(rows))
for r in rows:
    assert abs(r["time_s"] / meas[r["bytes"]] - 1) < 0.01, (r["bytes"], r["time_s"], meas[r["bytes"]])
' "$pred" "$tmp/ag16.log"
check "the same inputs give the same overlay" bash -c '"$@" --out "$0.2" > /dev/null && cmp -s "$0" "$0.2"' \
  "$tmp/fitted.yaml" "$COLLEMU" "${fit[@]}" --nccl-tests "$tmp/ag8.log" "$tmp/ag16.log"

refused() { local pattern=$1; shift; local msg; msg=$("$COLLEMU" "$@" 2>&1); local rc=$?; [[ $rc -eq 2 ]] && grep -q -- "$pattern" <<<"$msg" || { echo "  rc $rc: $msg" | head -3; false; }; }
check "a log of another collective" refused "is all_gather_perf (allgather), not allreduce" "${fit[@]}" --nccl-tests "$tmp/ag8.log" --op allreduce
check "a log of another rank count" refused "lists 8 ranks, the fabric's job 16" "${fit[@]}" --nccl-tests "$tmp/ag8.log" --ranks 16
sed '/Collective test starting/d; /# *Rank/d' "$tmp/ag8.log" > "$tmp/bare.log"
check "a bare log's busbw factor tells its rank count" refused "bare.log:[0-9]*: busbw / algbw" "${fit[@]}" --nccl-tests "$tmp/bare.log" --op allgather --ranks 16
check "a bare log needs --op" refused "give --op" "${fit[@]}" --nccl-tests "$tmp/bare.log"
sed 's/#  Rank  1 /#  Rank  0 /' "$tmp/ag8.log" > "$tmp/dup.log"
check "every process rank 0 (no MPI)" refused "dup.log:[0-9]*: rank 0 is listed twice" "${fit[@]}" --nccl-tests "$tmp/dup.log"
awk '!/^#/ && !done { $9 = 3; done = 1 } { print }' "$tmp/ag8.log" > "$tmp/wrong.log"
check "wrong elements" refused "wrong.log:[0-9]*: 3 wrong elements" "${fit[@]}" --nccl-tests "$tmp/wrong.log"
awk '!/^#/ && !done { print $1, $2, $3, $4; done = 1; next } { print }' "$tmp/ag8.log" > "$tmp/cut.log"
check "a truncated row" refused "cut.log:[0-9]*: a truncated or malformed result row" "${fit[@]}" --nccl-tests "$tmp/cut.log"
awk '!/^#/ && !done { $7 = 99.99; done = 1 } { print }' "$tmp/ag8.log" > "$tmp/cols.log"
check "columns that are not nccl-tests'" refused "cols.log:[0-9]*: algbw 99.99 GB/s is not size / time" "${fit[@]}" --nccl-tests "$tmp/cols.log"
{ sed -n '1,/^#  Rank  7/p' "$tmp/ag8.log"; printf '           0             0     float    none      -1     0.00    0.00    0.00      0     0.00    0.00    0.00      0\n'; sed '1,/^#  Rank  7/d' "$tmp/ag8.log"; } > "$tmp/zero.log"
check "a 0-byte row is left out, said so" bash -c '"$@" 2>&1 >/dev/null | grep -q "zero.log: 1 row(s) of 0 bytes left out"' _ \
  "$COLLEMU" "${fit[@]}" --nccl-tests "$tmp/zero.log"
awk '!/^#/ && !done { $3 = "floaty"; done = 1 } { print }' "$tmp/ag8.log" > "$tmp/type.log"
check "a datatype nccl-tests does not have" refused "type.log:[0-9]*: datatype 'floaty'" "${fit[@]}" --nccl-tests "$tmp/type.log"
grep '^#' "$tmp/ag8.log" > "$tmp/empty.log"
check "a log without results" refused "empty.log: no nccl-tests result row" "${fit[@]}" --nccl-tests "$tmp/empty.log"
check "a key that is not a share or a duration" refused "fit scaleup.gpus: expected a fabric key that is a share" "${fit[@]}" --nccl-tests "$tmp/ag8.log" --fit scaleup.gpus
check "bounds without a unit" refused "fit nic.efficiency=0.5:1" "${fit[@]}" --nccl-tests "$tmp/ag8.log" --fit nic.efficiency=0.5:1
check "a fit that does not converge" refused "did not converge in 1 iterations" "${fit[@]}" --nccl-tests "$tmp/ag8.log" "$tmp/ag16.log" --max-iterations 1
check "no measurements" refused "expected measurements from one of them" calibrate "${machine[@]}"
printf 'group,op,ranks,bytes,time_us,sets\na,allgather,8,1048576,-5,building.gpus=8\n' > "$tmp/cases.csv"
check "a case with a negative time" refused "cases.csv:2: time_us '-5'" calibrate "${machine[@]}" --cases "$tmp/cases.csv"
printf 'group,op,ranks,bytes,time_us,sets\na,allgather,4294967297,1048576,500,building.gpus=8\n' > "$tmp/cases.csv"
check "a rank count that would wrap" refused "cases.csv:2: ranks '4294967297': expected a whole number from 1 to" \
  calibrate "${machine[@]}" --cases "$tmp/cases.csv"
check "a bound outside the key's range" refused "nic.efficiency': a bound of 0.500000000% is outside the key's range" \
  "${fit[@]}" --nccl-tests "$tmp/ag8.log" --fit nic.efficiency=0.5%:100%
printf 'group,op,ranks,bytes,time_us,sets\na,allgather,8,1048576,500,building.gpus=4\n' > "$tmp/cases.csv"
check "a case its machine cannot run" refused "cases.csv:2: .*more ranks" calibrate "${machine[@]}" --cases "$tmp/cases.csv"
# A trace's compute through the fabric key gpu.compute_time (what calibrate --trace fits): the same step as run's
# --compute-scale.
"$COLLEMU" trace gen llm -o "$tmp/t.h5" --gpus 16 --tp 8 --pp 1 --dp 2 --layers 1 > /dev/null
small=(--trace "$tmp/t.h5" --set region.buildings=1 --set bag.enabled=false --set building.gpus=16 -q --json)
check "gpu.compute_time=50% is --compute-scale 0.5" python3 -c '
import json, subprocess, sys
a = json.loads(subprocess.run(sys.argv[1:] + ["--set", "gpu.compute_time=50%"], capture_output=True, text=True, check=True).stdout)
b = json.loads(subprocess.run(sys.argv[1:] + ["--compute-scale", "0.5"], capture_output=True, text=True, check=True).stdout)
c = json.loads(subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout)
assert a["step_time_s"] == b["step_time_s"] < c["step_time_s"], (a["step_time_s"], b["step_time_s"], c["step_time_s"])
' "$COLLEMU" run "${small[@]}"
check "a trace without measured times" refused "t.h5 (converted from collemu trace gen llm): no measured time" \
  calibrate --trace "$tmp/t.h5" --set region.buildings=1 --set bag.enabled=false --set building.gpus=16
check "three sources at once" refused "expected measurements from one of them" "${fit[@]}" --nccl-tests "$tmp/ag8.log" \
  --trace "$tmp/t.h5"
finish
