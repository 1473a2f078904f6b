#!/usr/bin/env python3
"""A damaged collemu .h5 trace is read as the same trace or refused with a clear error, never a signal (issue 13).

Writes a small trace (collemu trace gen), then changes, one at a time, each of N seeded random bytes (to a random
other value) and each of N seeded random bits of a copy, and runs `collemu trace info --json` on it: the result must be
the original summary (the change hit nothing that is read) or exit 2 with a `collemu: error:` line. Anything else (a
signal, an abort inside libhdf5, a different trace read as if whole) fails.

    h5_flip_test.py --collemu build/collemu [--n 2000] [--seed 1]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--collemu", required=True)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.h5")
        subprocess.run([a.collemu, "trace", "gen", "llm", "-o", src, "--gpus", "8", "--tp", "2", "--pp", "1", "--dp",
                        "4", "--layers", "1"], check=True, capture_output=True)
        data = open(src, "rb").read()
        info = lambda path: subprocess.run([a.collemu, "trace", "info", "--json", path], capture_output=True, text=True,
                                           timeout=60)
        def summary(out):
            j = json.loads(out)
            j.pop("source", None)
            return j
        want = summary(info(src).stdout)
        path = os.path.join(tmp, "m.h5")
        counts = {"same": 0, "refused": 0}
        failures = []
        for kind in ("byte", "bit"):
            for i in range(a.n):
                pos = rng.randrange(len(data))
                b = bytearray(data)
                if kind == "byte":
                    b[pos] = (b[pos] + rng.randrange(1, 256)) % 256
                else:
                    b[pos] ^= 1 << rng.randrange(8)
                open(path, "wb").write(b)
                p = info(path)
                if p.returncode == 0 and summary(p.stdout) == want:
                    counts["same"] += 1
                elif p.returncode == 2 and p.stderr.startswith("collemu: error:") and p.stderr.count("\n") == 1:
                    counts["refused"] += 1
                else:
                    failures.append(f"{kind} {i} at offset {pos}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        for f in failures[:20]:
            print("FAIL", f)
        print(f"{2 * a.n} changes of a {len(data)}-byte trace: {counts['same']} read as the same trace, "
              f"{counts['refused']} refused, {len(failures)} failures")
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
