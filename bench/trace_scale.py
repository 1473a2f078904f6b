#!/usr/bin/env python3
"""Size and load time of a generated 32,768-rank LLM step in collemu's HDF5 trace format (issue 5's target: under
50 MB, loaded in under 2 s on a 2-core machine).

    python3 bench/trace_scale.py [--collemu build/collemu] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def timed(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collemu", default="build/collemu")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, extra in [("llm-405b-32768", []), ("moe-32768", ["moe"])]:
            path = os.path.join(d, name + ".h5")
            kind = "moe" if extra else "llm"
            gen_s = timed([a.collemu, "trace", "gen", kind, "-o", path])
            load_s = timed([a.collemu, "trace", "info", "--no-check", "--json", path])
            check_s = timed([a.collemu, "trace", "info", "--json", path])
            rows.append({"trace": name, "file_MB": os.path.getsize(path) / 1e6, "generate_s": gen_s,
                         "load_and_summary_s": load_s, "with_check_s": check_s})
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'trace':18} {'file_MB':>8} {'generate_s':>11} {'load_s':>8} {'check_s':>8}")
    for r in rows:
        print(f"{r['trace']:18} {r['file_MB']:8.2f} {r['generate_s']:11.2f} {r['load_and_summary_s']:8.2f} "
              f"{r['with_check_s']:8.2f}")


if __name__ == "__main__":
    main()
