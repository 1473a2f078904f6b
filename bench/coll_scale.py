#!/usr/bin/env python3
"""Wall time and peak memory of `collemu coll` at scale (issue 4's benchmark): a 32,768-rank AllReduce and a
4,096-rank AllToAll on the prometheus preset, one size each. Target: under 30 s each on a 2-core machine.

    python3 bench/coll_scale.py [--collemu build/collemu] [--json]
"""
import argparse
import json
import resource
import subprocess
import sys
import time

CASES = [
    ("allreduce-32768", ["--ranks", "32768", "--op", "allreduce", "-b", "1G", "-e", "1G"]),
    ("allreduce-32768-ring-simple", ["--ranks", "32768", "--op", "allreduce", "-b", "1G", "-e", "1G",
                                     "--algo", "Ring", "--proto", "Simple"]),
    ("alltoall-4096", ["--ranks", "4096", "--op", "alltoall", "-b", "1G", "-e", "1G"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collemu", default="build/collemu")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = []
    for name, args in CASES:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        out = subprocess.run([a.collemu, "coll", "--topo", "prometheus", *args, "--json"], capture_output=True,
                             text=True)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            sys.exit(f"{name}: collemu failed: {out.stderr.strip()}")
        # ru_maxrss of children is the largest child so far (KiB on Linux): run the cases largest-last or read it
        # as an upper bound.
        peak_kib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        row = json.loads(out.stdout)[0]
        results.append({"case": name, "wall_s": wall, "peak_rss_MiB": peak_kib / 1024, "time_s": row["time_s"],
                        "busbw_GBps": row["busbw_GBps"], "algo": row["algo"], "proto": row["proto"],
                        "flows": row["flows"], "binding_tier": row["binding_tier"]})
    if a.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'case':30} {'wall_s':>8} {'peak_MiB':>9} {'flows':>9} {'coll_time':>12} {'busbw':>8}  algo/proto  binds")
    for r in results:
        print(f"{r['case']:30} {r['wall_s']:8.2f} {r['peak_rss_MiB']:9.0f} {r['flows']:9d} {r['time_s'] * 1e3:10.2f}ms "
              f"{r['busbw_GBps']:8.2f}  {r['algo']}/{r['proto']}  {r['binding_tier']}")


if __name__ == "__main__":
    main()
