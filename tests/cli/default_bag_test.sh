#!/bin/bash
# The embedded default feels the BAG ratio (issue 12): at 7:1 its step is at least 10% slower than at 1:1 for every
# hash seed tried, while its TP collectives inside NVLink domains take exactly the same time. $COLLEMU: the binary.
set -u
python3 - "$COLLEMU" <<'PY'
import json, subprocess, sys
collemu = sys.argv[1]
def run(seed, ratio):
    out = subprocess.run([collemu, "run", "-q", "--json", "--set", f"routing.hash_seed={seed}",
                          "--set", f"bag.oversubscription={ratio}"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)
fails = 0
for seed in (1, 2):
    a, b = run(seed, "1:1"), run(seed, "7:1")
    slower = b["step_time_s"] / a["step_time_s"] - 1
    tp = lambda j: sorted((c["kind"], c["max_s"], c["mean_s"]) for c in j["collectives"] if c["ranks"] == 8)
    ok = slower >= 0.10 and tp(a) == tp(b) and tp(a)
    print(f"{'ok  ' if ok else 'FAIL'} - seed {seed}: 1:1 {a['step_time_s'] * 1e3:.3f} ms, 7:1 {b['step_time_s'] * 1e3:.3f} ms "
          f"(+{100 * slower:.1f}%), TP collectives {'the same' if tp(a) == tp(b) else 'differ'}")
    fails += not ok
sys.exit(1 if fails else 0)
PY
