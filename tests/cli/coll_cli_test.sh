#!/bin/bash
# `collemu coll` end to end: nccl-tests' table and JSON rows, sizes as nccl-tests reads them, clear errors for bad
# options. $COLLEMU is the binary under test.
set -u
fails=0
total=0
check() { local what=$1; shift; total=$((total + 1)); if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
small=(--topo prometheus --set building.gpus=64 --set region.buildings=1 --set bag.enabled=false)
out=$("$COLLEMU" coll "${small[@]}" --ranks 16 -b 8 -e 1M -f 4 --json)
# Sizes 8, 32, ..., 512K bytes (the next, 2M, is past 1M): 9 rows; AllReduce busbw = algbw x 2(n-1)/n (nccl-tests' PERFORMANCE.md).
check "JSON rows with nccl-tests' figures" python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
assert [r["bytes"] for r in rows] == [8 * 4**i for i in range(9)], [r["bytes"] for r in rows]
for r in rows:
    assert abs(r["algbw_GBps"] - r["bytes"] / r["time_s"] / 1e9) <= 1e-9 * r["algbw_GBps"] + 1e-12
    assert abs(r["busbw_GBps"] - r["algbw_GBps"] * 2 * 15 / 16) <= 1e-9 * r["busbw_GBps"] + 1e-12
    assert r["algo"] in ("Ring", "Tree", "NVLS", "NVLSTree") and r["proto"] in ("LL", "LL128", "Simple")
assert all(a["time_s"] <= b["time_s"] for a, b in zip(rows, rows[1:]))
' "$out"
check "the text table has nccl-tests' columns" bash -c '"$COLLEMU" coll "$@" --ranks 8 -b 1K -e 1K | grep -q "algbw.*busbw"' _ "${small[@]}"
check "a bare size is bytes" bash -c '"$COLLEMU" coll "$@" --ranks 8 -b 4096 -e 4096 --json | grep -q "\"bytes\": 4096,"' _ "${small[@]}"
check "alltoall reports P2P" bash -c '"$COLLEMU" coll "$@" --op alltoall --ranks 16 -b 1M -e 1M --json | grep -q "\"algo\": \"P2P\""' _ "${small[@]}"
check "allgather counts are per rank" bash -c '"$COLLEMU" coll "$@" --op allgather --ranks 8 -b 1M -e 1M --json | grep -q "\"count\": 32768"' _ "${small[@]}"
refused() { local pattern=$1; shift; local msg; msg=$("$COLLEMU" coll "${small[@]}" "$@" 2>&1); local rc=$?; [[ $rc -eq 2 ]] && grep -q -- "$pattern" <<<"$msg"; }
check "more ranks than GPUs" refused "more ranks than the fabric's 64 GPUs" --ranks 65
check "unknown op" refused "unknown collective" --ranks 8 --op allreduxe
check "a rate is not a size" refused "minbytes 8 GB/s" --ranks 8 -b "8 GB/s"
check "a negative size" refused "cannot be negative" --ranks 8 -b -1
check "an unmodelled algorithm" refused "CollNet needs SHARP" --ranks 8 --algo CollNet
check "NVLS across domains" refused "no such algorithm" --ranks 16 --algo NVLS
# Library errors about a value name the option it came from.
check "a bad placement names the option" refused "^collemu: error: --placement diagonal: expected packed or spread" --ranks 8 --placement diagonal
check "no QP names the option" refused "^collemu: error: --qps 0: expected at least 1 QP" --ranks 8 --qps 0
check "a root out of range names the option" refused "^collemu: error: --root 8: expected a rank in \[0, 8)" --ranks 8 --op broadcast --root 8
check "an unknown solver" bash -c '"$COLLEMU" coll "$@" --ranks 8 --solver gpu 2>&1 | grep -q -- "--solver gpu: unknown rate solver"' _ "${small[@]}"
# NCCL runs 1 to 64 channels (MAXCHANNELS); 0 used to mean the default without a word.
for c in 0 65 100000; do
  check "--channels $c is refused" bash -c '"$COLLEMU" coll "$@" --ranks 8 --channels "$0" 2>&1 | grep -q -- "--channels $0: expected 1 to 64 channels"' "$c" "${small[@]}"
done
check "--channels 64 runs" bash -c '"$COLLEMU" coll "$@" --ranks 8 -b 1M -e 1M --channels 64 --json | grep -q "\"channels\": 64"' _ "${small[@]}"
# NCCL_MIN_NCHANNELS / NCCL_MAX_NCHANNELS bound NCCL's choice (16 channels on these 2 nodes: 2 per NIC): the maximum
# 4 runs what --channels 4 runs, and is slower with LL128's per-channel ceiling; a minimum below the choice changes
# nothing, one above it (24) is --channels 24.
ll128=(--ranks 16 -b 64M -e 64M --algo Ring --proto LL128 --json)
check "--max-nchannels 4 is --channels 4, and slower" python3 -c '
import json, subprocess, sys
run = lambda *a: json.loads(subprocess.run([sys.argv[1], "coll", *sys.argv[2:], *a], check=True, capture_output=True, text=True).stdout)[0]
m, c, d = run("--max-nchannels", "4"), run("--channels", "4"), run()
assert m["channels"] == 4 and m["time_s"] == c["time_s"] and d["channels"] == 16 and m["time_s"] > 1.5 * d["time_s"], (m, c, d)
lo, hi, c24 = run("--min-nchannels", "8"), run("--min-nchannels", "24"), run("--channels", "24")
assert lo["channels"] == 16 and lo["time_s"] == d["time_s"] and hi["channels"] == 24 and hi["time_s"] == c24["time_s"]
' "$COLLEMU" "${small[@]}" "${ll128[@]}"
check "--min-nchannels above --max-nchannels" refused "^collemu: error: --min-nchannels 9: more than --max-nchannels 8" --ranks 16 --min-nchannels 9 --max-nchannels 8
check "--channels with --max-nchannels" refused "^collemu: error: --channels 4: sets the channels exactly" --ranks 16 --channels 4 --max-nchannels 8
check "--max-nchannels 65" refused "^collemu: error: --max-nchannels 65: expected 1 to 64 channels" --ranks 16 --max-nchannels 65
check "--min-nchannels 0" refused "^collemu: error: --min-nchannels 0: expected 1 to 64 channels" --ranks 16 --min-nchannels 0
# nccl-tests' size suffixes in either case (its parsesize), and a size beyond what is modelled names its option
# before any output.
check "-b 1m -e 1g is -b 1M -e 1G" bash -c 'diff <("$COLLEMU" coll "$@" --ranks 8 -b 1m -e 1g -f 1024 --json) <("$COLLEMU" coll "$@" --ranks 8 -b 1M -e 1G -f 1024 --json)' _ "${small[@]}"
check "-b 1e30 names the option, before any output" bash -c 'out=$("$COLLEMU" coll "$@" --ranks 8 -b 1e30 -e 1e30 2>&1); [[ $out == "collemu: error: --minbytes 1e30: expected a size from 0 to 1e18 B" ]] || { echo "$out"; false; }' _ "${small[@]}"
# nccl-tests' own options and output (its README and src/util.cu), so that its command lines and parsers work.
text=$("$COLLEMU" coll "${small[@]}" --ranks 16 -b 1M -e 16M -f 4 -n 20 -w 5 -c 1)
check "out-of-place and in-place columns, #wrong N/A, and the Avg bus bandwidth line (the mean of the rows)" python3 -c '
import re, sys
rows = [l.split() for l in sys.argv[1].splitlines() if l and not l.startswith("#")]
assert len(rows) == 3, rows
for r in rows:
    assert r[5:9] == r[9:13] and r[8] == "N/A", r  # time algbw busbw #wrong, twice
avg = float(re.search(r"^# Avg bus bandwidth    : (\S+)", sys.argv[1], re.M).group(1))
mean = sum(float(r[7]) for r in rows) / len(rows)
assert abs(avg - mean) <= 0.01 + 1e-3 * mean, (avg, mean)
assert "# -n 20: not needed by an emulator" in sys.argv[1] and "# -w 5:" in sys.argv[1] and "# -c 1:" in sys.argv[1]
assert re.search(r"^#\s+out-of-place\s+in-place", sys.argv[1], re.M)
' "$text"
check "-d half: counts of 2-byte elements; -d uint8 AllGather: bytes per rank" python3 -c '
import json, subprocess, sys
c, small = sys.argv[1], sys.argv[2:]
run = lambda *a: json.loads(subprocess.run([c, "coll", *small, *a, "--json"], capture_output=True, text=True, check=True).stdout)[0]
h = run("--ranks", "8", "-b", "1M", "-e", "1M", "-d", "half")
assert h["count"] == 2**20 // 2 and h["type"] == "half" and h["bytes"] == 2**20, h
u = run("--op", "allgather", "--ranks", "8", "-b", "1000003", "-e", "1000003", "-d", "uint8")
assert u["count"] == 1000003 // 8 and u["bytes"] == 8 * (1000003 // 8), u  # whole elements per rank
f = run("--op", "allgather", "--ranks", "8", "-b", "1000003", "-e", "1000003")
assert f["count"] == 1000003 // 32 and f["bytes"] == 32 * (1000003 // 32), f
' "$COLLEMU" "${small[@]}"
check "JSON rows say what they are, counts are integers" python3 -c '
import json, sys
r = json.loads(sys.argv[1])[0]
assert (r["op"], r["ranks"], r["fabric"], r["placement"], r["redop"], r["root"]) == ("allreduce", 16, "prometheus", "packed", "sum", -1), r
assert isinstance(r["bytes"], int) and isinstance(r["count"], int), r
' "$out"
check "-o max is printed for a reduction, none for AllGather" bash -c '"$COLLEMU" coll "$@" --ranks 8 -b 1M -e 1M -o max | grep -qE "^ +1048576 +262144 +float +max +-1" && "$COLLEMU" coll "$@" --op allgather --ranks 8 -b 1M -e 1M -o max | grep -qE "float +none +-1"' _ "${small[@]}"
check "--np 2 -t 1 -g 8 is --ranks 16" bash -c 'diff <("$COLLEMU" coll "$@" --np 2 -t 1 -g 8 -b 1M -e 1M --json 2>&1) <("$COLLEMU" coll "$@" --ranks 16 -b 1M -e 1M --json)' _ "${small[@]}"
check "-i 1M steps by adding" bash -c '"$COLLEMU" coll "$@" --ranks 8 -b 1M -e 3M -i 1M --json | python3 -c "import json,sys; assert [r[\"bytes\"] for r in json.load(sys.stdin)] == [1<<20, 2<<20, 3<<20]"' _ "${small[@]}"
check "--ranks against --np x -g" refused "ranks 8: differs from --np x -t x -g = 16" --ranks 8 --np 2 -g 8
check "an unknown datatype" refused "^collemu: error: -d fp64: unknown datatype" --ranks 8 -d fp64
check "-o all is one at a time" refused "^collemu: error: -o all: unknown reduction" --ranks 8 -o all
check "no ranks at all" refused "expected the number of ranks" -b 1M -e 1M
echo "$((total - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
