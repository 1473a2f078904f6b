#!/usr/bin/env python3
"""A damaged collemu .h5 trace is read as the same trace or refused with a clear error, never a signal (issue 13).

Writes a small trace (collemu trace gen), then changes, one at a time, each of N seeded random bytes (to a random
other value) and each of N seeded random bits of a copy, and runs `collemu trace info --json` on it: the result must be
the original summary (the change hit nothing that is read) or exit 2 with a `collemu: error:` line. Anything else (a
signal, an abort inside libhdf5, a different trace read as if whole) fails.

    h5_flip_test.py --collemu build/collemu [--n 2000] [--seed 1]
    h5_flip_test.py --collemu build/collemu --file OLD.h5 --want OLD.json --unchecked-data [--n 1000]

With --file, the trace changed is that file (an earlier format version, kept as test data), and it must first read to
the summary in --want (what the collemu that wrote it printed, less `source`). --unchecked-data: version 1 has no
checksums, so a change in a value of its data reads as another trace, which collemu cannot tell (it warns that version
1 is unchecked); such results are counted, not failed. A signal or an exit other than 0 or 2 still fails.
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
    ap.add_argument("--file", help="a trace to change instead of a generated one")
    ap.add_argument("--want", help="with --file: the summary (trace info --json, less source) it must read to")
    ap.add_argument("--unchecked-data", action="store_true",
                    help="the format has no checksums of its data: a different trace read is counted, not failed")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.h5")
        if a.file:
            with open(a.file, "rb") as f, open(src, "wb") as g:
                g.write(f.read())
        else:
            subprocess.run([a.collemu, "trace", "gen", "llm", "-o", src, "--gpus", "8", "--tp", "2", "--pp", "1",
                            "--dp", "4", "--layers", "1"], check=True, capture_output=True)
        data = open(src, "rb").read()
        info = lambda path: subprocess.run([a.collemu, "trace", "info", "--json", path], capture_output=True, text=True,
                                           timeout=60)
        def summary(out):
            j = json.loads(out)
            j.pop("source", None)  # holds the path
            j.pop("warnings", None)  # name the path; the version-1 warning is checked below
            return j
        p = info(src)
        if p.returncode != 0:
            sys.exit(f"FAIL the unchanged trace is not read: {p.stderr.strip()}")
        want = summary(p.stdout)
        if a.want:
            with open(a.want) as f:
                reference = json.load(f)
            # Warnings are this collemu's (it warns that version 1 is unchecked), the rest must be the writer's.
            if a.unchecked_data and not any("has no checksums" in w for w in json.loads(p.stdout)["warnings"]):
                sys.exit(f"FAIL reading {a.file} gives no warning that its data is unchecked")
            keys = sorted(k for k in set(want) | set(reference) if k != "warnings" and want.get(k) != reference.get(k))
            if keys:
                sys.exit(f"FAIL {a.file} reads to another summary than {a.want}: differs in {keys}")
        path = os.path.join(tmp, "m.h5")
        counts = {"same": 0, "refused": 0, "other": 0}
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
                elif p.returncode == 0 and a.unchecked_data and "has no checksums" in p.stdout:
                    counts["other"] += 1
                else:
                    failures.append(f"{kind} {i} at offset {pos}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        for f in failures[:20]:
            print("FAIL", f)
        print(f"{2 * a.n} changes of a {len(data)}-byte trace: {counts['same']} read as the same trace, "
              f"{counts['refused']} refused, " +
              (f"{counts['other']} read as another trace (unchecked data), " if a.unchecked_data else "") +
              f"{len(failures)} failures")
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
