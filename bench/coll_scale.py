#!/usr/bin/env python3
"""Wall time and peak memory of `collemu coll` at scale: a 32,768-rank AllReduce and a 4,096-rank AllToAll on the
prometheus preset (issue 4's targets: under 30 s each on a 2-core machine), and the all-to-all across the BAG with an
NSF building of issue 11 (`--slow`).

    python3 bench/coll_scale.py [--collemu build/collemu] [--runs 3] [--json]
    python3 bench/coll_scale.py --collemu NEW --vs OLD --runs 5     # per case: median ratio NEW/OLD, pair by pair

With --vs the two binaries run in turn (A B A B ...) on the same case; the ratio quoted is the median of the pairwise
ratios, so that a drift of the machine's speed cancels. Peak memory is each process's own (wait4's ru_maxrss). Both
binaries must give the same collective time (to 1e-9 relative): the benchmark refuses to compare different answers.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CASES = [
    ("allreduce-32768", ["--ranks", "32768", "--op", "allreduce", "-b", "1G", "-e", "1G"]),
    ("allreduce-32768-ring-simple", ["--ranks", "32768", "--op", "allreduce", "-b", "1G", "-e", "1G",
                                     "--algo", "Ring", "--proto", "Simple"]),
    ("alltoall-4096", ["--ranks", "4096", "--op", "alltoall", "-b", "1G", "-e", "1G"]),
]
# The all-to-all across the BAG of issue 11 (a DSF and an NSF building, ranks spread over both).
SLOW = [("alltoall-1024-spread", ["--ranks", "1024", "--op", "alltoall", "--placement", "spread",
                                  "-b", "256M", "-e", "256M"])]


def run_measured(collemu, args):
    """(wall s, peak RSS MiB of this process alone, from wait4, the first JSON row) of one `collemu coll` run."""
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty stderr cannot block the child
        t0 = time.perf_counter()
        p = subprocess.Popen([collemu, "coll", "--topo", "prometheus", *args, "--json"], stdout=subprocess.PIPE,
                             stderr=err)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            sys.exit(f"{collemu} coll {' '.join(args)}: exit {p.returncode}: {err.read().decode().strip()}")
    return wall, usage.ru_maxrss / 1024, json.loads(out)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collemu", default="build/collemu")
    ap.add_argument("--vs", help="a second collemu binary to compare with (the ratio is --collemu over --vs)")
    ap.add_argument("--runs", type=int, default=1, help="runs of each case (each binary)")
    ap.add_argument("--slow", action="store_true", help="also the slow case of issue 11")
    ap.add_argument("--only", help="only the cases whose name contains this text")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    cases = CASES + (SLOW if a.slow else [])
    if a.only:
        cases = [c for c in cases if a.only in c[0]]
    results = []
    for name, args in cases:
        mine, theirs = [], []
        for _ in range(a.runs):
            mine.append(run_measured(a.collemu, args))
            if a.vs:
                theirs.append(run_measured(a.vs, args))
        row = mine[0][2]
        r = {"case": name, "wall_s": statistics.median(m[0] for m in mine),
             "peak_rss_MiB": max(m[1] for m in mine), "time_s": row["time_s"], "busbw_GBps": row["busbw_GBps"],
             "algo": row["algo"], "proto": row["proto"], "flows": row["flows"], "binding_tier": row["binding_tier"],
             "runs": a.runs}
        if a.vs:
            other = theirs[0][2]
            if abs(other["time_s"] - row["time_s"]) > 1e-9 * abs(other["time_s"]):
                sys.exit(f"{name}: the binaries disagree: time_s {row['time_s']!r} against {other['time_s']!r}")
            r["vs_wall_s"] = statistics.median(t[0] for t in theirs)
            r["vs_peak_rss_MiB"] = max(t[1] for t in theirs)
            r["wall_ratio"] = statistics.median(m[0] / t[0] for m, t in zip(mine, theirs))
            r["peak_ratio"] = r["peak_rss_MiB"] / r["vs_peak_rss_MiB"]
        results.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    if a.json:
        print(json.dumps(results, indent=2))
        return
    head = f"{'case':30} {'wall_s':>8} {'peak_MiB':>9} {'flows':>9} {'coll_time':>12} {'busbw':>8}  algo/proto  binds"
    if a.vs:
        head += f"   {'vs wall':>8} {'ratio':>6} {'vs MiB':>7} {'ratio':>6}"
    print(head)
    for r in results:
        line = (f"{r['case']:30} {r['wall_s']:8.2f} {r['peak_rss_MiB']:9.0f} {r['flows']:9d} "
                f"{r['time_s'] * 1e3:10.3f}ms {r['busbw_GBps']:8.2f}  {r['algo']}/{r['proto']}  {r['binding_tier']}")
        if a.vs:
            line += (f"   {r['vs_wall_s']:8.2f} {r['wall_ratio']:6.3f} {r['vs_peak_rss_MiB']:7.0f} "
                     f"{r['peak_ratio']:6.3f}")
        print(line)


if __name__ == "__main__":
    main()
