#!/bin/bash
# `collemu sweep` end to end: a grid of BAG ratios x fabric kinds whose rows are what `collemu run` gives for each
# point, resumed bit for bit after a kill -9, hash-seed bands that narrow with more QPs, clear errors.
# $COLLEMU is the binary under test.
source "$(dirname "${BASH_SOURCE[0]}")/check.sh"
check "h5py is installed (scripts/setup.sh installs python3-h5py)" test -n "$PY"

# A 128-GPU job (TP 8, DP 16) spread over two buildings of 64 GPUs: 4 BAG ratios x 3 fabric kinds.
"$COLLEMU" trace gen llm -o "$tmp/t128.h5" --gpus 128 --tp 8 --pp 1 --dp 16 --layers 2 --hidden 2048 --ffn 8192 \
  --heads 16 --kv-heads 8 --vocab 32000 --seq 2048 --microbatches 2 --dp-mode allreduce > /dev/null
base=(--trace "$tmp/t128.h5" --set scaleup.gpus=8 --set building.gpus=64 --placement spread)
grid=(--param bag.oversubscription=1:1,2:1,4.5:1,7:1 --param fabric.kind=dsf,nsf,mixed)
"$COLLEMU" sweep "${base[@]}" "${grid[@]}" --out "$tmp/a.h5" > "$tmp/a.txt" 2> "$tmp/a.err"
check "the sweep runs" test $? -eq 0
check "12 rows in the HDF5 file and the CSV" "$PY" -c '
import csv, h5py, sys
f = h5py.File(sys.argv[1])
assert f.attrs["format"] == "collemu-sweep" and f.attrs["version"] == 1
assert len(f["step_time_s"]) == 12 and list(f["point"][:]) == list(range(12))
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == 12
for i, r in enumerate(rows):
    assert float(r["step_time_s"]) == f["step_time_s"][i], (r, f["step_time_s"][i])
    assert r["fabric.kind"] == f["params/fabric.kind"][i].decode()
assert [r["bag.oversubscription"] for r in rows[:4]] == ["1:1", "1:1", "1:1", "2:1"]
' "$tmp/a.h5" "$tmp/a.csv"
# Independent of the sweep's machinery: `collemu run` of two points gives the same numbers to the last bit.
check "a row is what collemu run gives for that point" "$PY" -c '
import csv, json, subprocess, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for i, ratio, kind in ((4, "2:1", "nsf"), (11, "7:1", "mixed")):
    r = json.loads(subprocess.run(sys.argv[2:] + ["--set", "bag.oversubscription=" + ratio, "--set", "fabric.kind=" + kind],
                                  capture_output=True, text=True, check=True).stdout)
    row = rows[i]
    assert (row["bag.oversubscription"], row["fabric.kind"]) == (ratio, kind)
    for k in ("step_time_s", "compute_s", "exposed_comm_s", "wait_s", "bubble_s", "bag_bytes"):
        assert float(row[k]) == r[k], (k, row[k], r[k])
' "$tmp/a.csv" "$COLLEMU" run "${base[@]}" --json -q
check "the BAG ratio shows: 7:1 slower than 1:1 on every kind" "$PY" -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for kind in ("dsf", "nsf", "mixed"):
    t = {r["bag.oversubscription"]: float(r["step_time_s"]) for r in rows if r["fabric.kind"] == kind}
    assert t["7:1"] > t["1:1"], (kind, t)
' "$tmp/a.csv"
cp "$tmp/a.csv" "$tmp/a.first.csv"
"$COLLEMU" sweep "${base[@]}" "${grid[@]}" --out "$tmp/a.h5" > "$tmp/again.txt"
check "a rerun runs nothing" grep -q "0 run now, 12 resumed" "$tmp/again.txt"
check "and writes the same rows, byte for byte" cmp "$tmp/a.csv" "$tmp/a.first.csv"

# Over MPI ranks (Open MPI's mpirun; as root it needs --allow-run-as-root): the same rows, points shared out.
if command -v mpirun > /dev/null; then
  root=(); [[ $(id -u) -eq 0 ]] && root=(--allow-run-as-root)
  mpirun "${root[@]}" --oversubscribe -np 2 "$COLLEMU" sweep "${base[@]}" "${grid[@]}" --out "$tmp/mpi.h5" > "$tmp/mpi.txt" 2>&1
  check "mpirun -np 2 gives the serial rows, bit for bit" cmp "$tmp/mpi.csv" "$tmp/a.first.csv"
  check "both ranks ran points" "$PY" -c '
import glob, json, sys
ranks = {json.load(open(f))["mpi_rank"] for f in glob.glob(sys.argv[1] + "/p*.json")}
assert ranks == {0, 1}, ranks
' "$tmp/mpi.h5.parts"
  check "it says every point ran now" grep -q "over 2 MPI ranks: 12 run now, 0 resumed" "$tmp/mpi.txt"
  mpirun "${root[@]}" --oversubscribe -np 2 "$COLLEMU" sweep "${base[@]}" "${grid[@]}" --out "$tmp/mpi.h5" > "$tmp/mpi2.txt" 2>&1
  check "a rerun under MPI says every point resumed" grep -q "over 2 MPI ranks: 0 run now, 12 resumed" "$tmp/mpi2.txt"
else
  echo "skip - mpirun -np 2 (no mpirun: scripts/setup.sh installs openmpi-bin)"
fi

# kill -9 in the middle: the points that finished stay, the rerun runs the rest and ends with the same rows.
# The embedded job at 4,096 GPUs on prometheus with NSF buildings (E-ECMP hashes QPs): 1 and 4 QPs, 4 hash seeds.
seeds=(--set fabric.kind=nsf --param gen.dp=512 --param gen.gpus=4096 --param gen.layers=1 --param qps=1,4 --seeds 4)
"$COLLEMU" sweep "${seeds[@]}" --out "$tmp/s.h5" > "$tmp/s.txt"
"$COLLEMU" sweep "${seeds[@]}" --out "$tmp/k.h5" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [[ $(ls "$tmp/k.h5.parts" 2>/dev/null | grep -c '^p') -ge 3 ]] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
left=$(ls "$tmp/k.h5.parts" | grep -c '^p')
check "killed halfway (3 to 7 of 8 points done)" test "$left" -ge 3 -a "$left" -lt 8
check "no final file from the killed run" test ! -e "$tmp/k.h5"
"$COLLEMU" sweep "${seeds[@]}" --out "$tmp/k.h5" > "$tmp/k.txt"
check "the rerun resumes the finished points" grep -q "$((8 - left)) run now, $left resumed" "$tmp/k.txt"
check "the resumed sweep has the uninterrupted rows, bit for bit" cmp "$tmp/s.csv" "$tmp/k.csv"
check "with 4 seeds the band narrows with 4 QPs per connection" "$PY" -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
band = {}
for r in rows:
    band.setdefault(r["qps"], []).append(float(r["step_time_s"]))
assert all(len(v) == 4 for v in band.values()), band
w1, w4 = max(band["1"]) - min(band["1"]), max(band["4"]) - min(band["4"])
assert w1 > 0 and w4 < w1 / 2, (w1, w4)
' "$tmp/s.csv"
check "the table gives the band" grep -q "(min..max over seeds)" "$tmp/s.txt"
# The table's exposed communication and BAG utilisation are the seeds' means, as its step is (they were seed 1's).
check "the table's columns are means over the seeds" "$PY" -c '
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
table = [l.split() for l in open(sys.argv[2]) if re.match(r"^[01] ", l)]
for point, line in enumerate(table):
    mine = [r for r in rows if r["point"] == str(point)]
    assert len(mine) == 4
    mean = lambda k: sum(float(r[k]) for r in mine) / 4
    exposed_ms = float(line[line.index("ms)") + 1])  # the value after the band
    assert abs(exposed_ms - mean("exposed_comm_s") * 1e3) < 1e-3, (exposed_ms, mean("exposed_comm_s"))
    assert abs(float(line[-2]) - mean("bag_utilisation")) < 1e-3, (line[-2], mean("bag_utilisation"))
' "$tmp/s.csv" "$tmp/s.txt"

refused() { local pattern=$1; shift; local msg; msg=$("$COLLEMU" sweep "$@" 2>&1); local rc=$?; [[ $rc -eq 2 ]] && grep -q -- "$pattern" <<<"$msg" || { echo "  rc $rc: $msg"; false; }; }
# On a terminal (script(1) gives it one) the progress line shows, unless -q.
if command -v script > /dev/null; then
  check "a terminal shows the progress line" bash -c 'script -qc "$* --out $0/tty1.h5" /dev/null | grep -q ETA' "$tmp" "$COLLEMU" sweep "${base[@]}" --param qps=1,2
  check "-q hides it" bash -c '! script -qc "$* -q --out $0/tty2.h5" /dev/null | grep -q ETA' "$tmp" "$COLLEMU" sweep "${base[@]}" --param qps=1,2
fi
# --count only counts (a Slurm array's size): no --out needed. 2 x 3 grid points.
check "--count needs no --out" bash -c 'test "$("$@" --param bag.oversubscription=1:1,7:1 --param qps=1,2,4 --count)" = 6' _ "$COLLEMU" sweep "${base[@]}"
check "an unknown key" refused "^collemu: error: --param bag.bogus=1: unknown key 'bag.bogus'" "${base[@]}" --param bag.bogus=1 --out "$tmp/e.h5"
check "a value without its unit" refused "^collemu: error: --param nic.speed=800: .*has no unit" "${base[@]}" --param nic.speed=800 --out "$tmp/e.h5"
check "an empty grid" refused "^collemu: error: --param: no points to run" "${base[@]}" --out "$tmp/e.h5"
check "a file of another sweep" refused "it was made by another sweep (its params differ)" "${base[@]}" --param bag.oversubscription=1:1 --out "$tmp/a.h5"
check "a file of the same sweep run exact" refused "it was made by another sweep (its finish_tolerance differ)" "${base[@]}" "${grid[@]}" --finish-tolerance 0 --out "$tmp/a.h5"
# A sweep begun by another model (emulator::kModelVersion: the same scenario gives other numbers) is not resumed into.
cp -r "$tmp/a.h5.parts" "$tmp/old.h5.parts"
"$PY" -c '
import json, sys
p = sys.argv[1] + "/identity.json"
d = json.load(open(p)); d["model"] -= 1
open(p, "w").write(json.dumps(d, separators=(",", ":")) + "\n")
' "$tmp/old.h5.parts"
check "a sweep begun by an older model" refused "it was made by another sweep (its model differ)" "${base[@]}" "${grid[@]}" --out "$tmp/old.h5"
check "a generator option with a trace" refused "needs the embedded default job" "${base[@]}" --param gen.dp=2 --out "$tmp/e.h5"
check "a failure of nothing" refused "^collemu: error: --param fail=r0.nosuch: no such node" "${base[@]}" --param fail=none,r0.nosuch --out "$tmp/e.h5"
printf 'bag.oversubscription,fabric.kind\n1:1,dsf\n7:1\n' > "$tmp/points.csv"
check "a points row without all its values" refused "points.csv:3: 1 values; expected 2" "${base[@]}" --points "$tmp/points.csv" --out "$tmp/e.h5"
finish
