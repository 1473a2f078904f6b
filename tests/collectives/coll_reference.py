#!/usr/bin/env python3
"""`collemu coll --json` over a matrix of cases, against the rows recorded before the flow engine and the collectives
were redesigned (issue 11): every algorithm (Ring, Tree, NVLS, NVLSTree, PAT, P2P/PXN), every op, pipelined and step
granularity, packed and spread placement, DSF, NSF and mixed buildings, with and without failures, 2 to 1,024 ranks.

    python3 tests/collectives/coll_reference.py --collemu build/collemu            # check (exit 1 on a difference)
    python3 tests/collectives/coll_reference.py --collemu build/collemu --record   # rewrite the reference
    python3 tests/collectives/coll_reference.py --collemu build/collemu --slow     # also the slow cases
    python3 tests/collectives/coll_reference.py --collemu build/collemu --finish-tolerance 0   # the exact engine

The reference was recorded exact; collemu runs with a finish tolerance of 2e-4 unless told (an approximation: flows
that nothing waits for, within 2e-4 of their sending time of their end, finish together; docs/flow-engine.md), and the
check holds both to the same bounds.

Numbers must agree to 1e-12 relative (`time_s`, `algbw_GBps`, `busbw_GBps`, `binding_utilisation`; the slow cases'
recorded run is the one the issue timed at 190-450 s); strings and counts exactly.

Some cases are ill-conditioned: their result moves far more than their inputs do. A step-granularity ring of thousands
of dependent chunks on a fabric with failures, for one, moves by 8e-6 relative when the NIC speed moves by 1.25e-12:
any other (equally exact) order of floating-point operations lands elsewhere in that band. So the recording also
measures, with the engine that made the reference, how far each row moves when the fabric's NIC speed is raised by
1.25e-12 relative (`sensitivity`); a row is checked to max(1e-12, its sensitivity). For well-conditioned rows that is
1e-12.

    python3 tests/collectives/coll_reference.py --collemu OLD_BINARY --sensitivity   # (re)measure sensitivities only
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "coll_reference.json")

# Two 512-GPU buildings behind one BAG at 4.5:1 (prometheus: b0 DSF, b1 NSF), 8-GPU NVLink domains, 4 planes.
MIXED = ["--topo", "prometheus", "--set", "building.gpus=512"]
DSF = MIXED + ["--set", "fabric.kind=dsf"]
NSF = MIXED + ["--set", "fabric.kind=nsf"]
# A fabric element, an NSF spine and a BAG cable down: no link groups, UCMP re-weighted, ECMP around the spine.
FAILED = MIXED + ["--fail", "r0.b0.p0.fe3", "--fail", "r0.b1.p1.spine33", "--fail", "r0.b1.p2.spine14->r0.bag2"]
# One GPU per domain, one building: PAT's shape (one rank per node).
FLAT = ["--topo", "prometheus", "--set", "scaleup.gpus=1", "--set", "building.gpus=256", "--set", "region.buildings=1",
        "--set", "bag.enabled=false"]
# An NSF building with 5-tuple hashing (collisions) and E-ECMP, for QP scaling.
NSF5 = NSF + ["--set", "nsf.hash=five-tuple"]
SIZES = ["-b", "1K", "-e", "256M", "-f", "64"]  # 1K, 64K, 4M, 256M: LL, LL128 and Simple choices
BIG = ["-b", "64M", "-e", "64M"]


def case(name, fabric, *args, sizes=SIZES):
    return {"name": name, "args": [*fabric, *args, *sizes]}


CASES = [
    # AllReduce, NCCL's choice: NVLS in one domain, NVLSTree / Tree across domains.
    case("allreduce-2-auto", MIXED, "--ranks", "2"),
    case("allreduce-8-auto", MIXED, "--ranks", "8"),
    case("allreduce-64-auto-mixed-spread", MIXED, "--ranks", "64", "--placement", "spread"),
    case("allreduce-256-auto-dsf", DSF, "--ranks", "256"),
    case("allreduce-1024-auto-mixed", MIXED, "--ranks", "1024", sizes=BIG),
    case("allreduce-1024-auto-spread-nsf", NSF, "--ranks", "1024", "--placement", "spread", sizes=BIG),
    # Ring, pipelined and step.
    case("allreduce-16-ring-simple", MIXED, "--ranks", "16", "--algo", "Ring", "--proto", "Simple"),
    case("allreduce-64-ring-spread", MIXED, "--ranks", "64", "--algo", "Ring", "--placement", "spread"),
    case("allreduce-16-ring-step", MIXED, "--ranks", "16", "--algo", "Ring", "--granularity", "step"),
    case("allreduce-16-ring-step-spread-nsf", NSF, "--ranks", "16", "--algo", "Ring", "--granularity", "step",
         "--placement", "spread", "--channels", "4"),
    case("allreduce-32-ring-step-failed", FAILED, "--ranks", "32", "--algo", "Ring", "--granularity", "step",
         "--channels", "2", "--qps", "2"),
    case("allreduce-1024-ring-nsf", NSF, "--ranks", "1024", "--algo", "Ring", "--proto", "Simple", sizes=BIG),
    case("allreduce-128-ring-failed", FAILED, "--ranks", "128", "--algo", "Ring", "--placement", "spread"),
    # Tree, pipelined and step.
    case("allreduce-32-tree", MIXED, "--ranks", "32", "--algo", "Tree"),
    case("allreduce-64-tree-spread-nsf", NSF, "--ranks", "64", "--algo", "Tree", "--placement", "spread"),
    case("allreduce-16-tree-step", MIXED, "--ranks", "16", "--algo", "Tree", "--granularity", "step",
         "--channels", "4", sizes=["-b", "1K", "-e", "64M", "-f", "256"]),
    case("allreduce-24-tree-step-failed", FAILED, "--ranks", "24", "--algo", "Tree", "--granularity", "step",
         "--channels", "2", sizes=["-b", "3M", "-e", "3M"]),
    case("allreduce-16-tree-flat", FLAT, "--ranks", "16", "--algo", "Tree"),
    # NVLS and NVLSTree.
    case("allreduce-8-nvls", MIXED, "--ranks", "8", "--algo", "NVLS", sizes=["-b", "1M", "-e", "1G", "-f", "32"]),
    case("allreduce-128-nvlstree-failed", FAILED, "--ranks", "128", "--algo", "NVLSTree", "--placement", "spread"),
    case("allreduce-256-nvlstree-nsf-qps", NSF5, "--ranks", "256", "--algo", "NVLSTree", "--qps", "4", sizes=BIG),
    # AllGather / ReduceScatter: Ring, and PAT with one rank per node.
    case("allgather-16-auto", MIXED, "--op", "allgather", "--ranks", "16"),
    case("reducescatter-64-auto-spread", MIXED, "--op", "reducescatter", "--ranks", "64", "--placement", "spread"),
    case("allgather-16-ring-step", MIXED, "--op", "allgather", "--ranks", "16", "--granularity", "step",
         "--algo", "Ring"),
    case("reducescatter-24-step-nsf", NSF, "--op", "reducescatter", "--ranks", "24", "--granularity", "step"),
    case("allgather-16-pat", FLAT, "--op", "allgather", "--ranks", "16", "--algo", "PAT"),
    case("reducescatter-13-pat", FLAT, "--op", "reducescatter", "--ranks", "13", "--algo", "PAT"),
    case("allgather-64-auto-flat", FLAT, "--op", "allgather", "--ranks", "64"),
    # Broadcast / Reduce.
    case("broadcast-16-root3", MIXED, "--op", "broadcast", "--ranks", "16", "--root", "3"),
    case("reduce-64-root17-spread", MIXED, "--op", "reduce", "--ranks", "64", "--root", "17", "--placement", "spread"),
    case("broadcast-32-failed", FAILED, "--op", "broadcast", "--ranks", "32", "--root", "31", "--placement", "spread"),
    # AllToAll (P2P with PXN) and SendRecv.
    case("alltoall-2", MIXED, "--op", "alltoall", "--ranks", "2"),
    case("alltoall-8", MIXED, "--op", "alltoall", "--ranks", "8"),
    case("alltoall-64-spread", MIXED, "--op", "alltoall", "--ranks", "64", "--placement", "spread"),
    case("alltoall-128-nsf5-qps4", NSF5, "--op", "alltoall", "--ranks", "128", "--qps", "4"),
    case("alltoall-128-failed-spread", FAILED, "--op", "alltoall", "--ranks", "128", "--placement", "spread"),
    case("alltoall-1024-dsf", DSF, "--op", "alltoall", "--ranks", "1024", sizes=BIG),
    case("alltoall-64-flat", FLAT, "--op", "alltoall", "--ranks", "64"),
    case("sendrecv-16", MIXED, "--op", "sendrecv", "--ranks", "16"),
    case("sendrecv-64-spread-failed", FAILED, "--op", "sendrecv", "--ranks", "64", "--placement", "spread"),
    case("sendrecv-2-flat", FLAT, "--op", "sendrecv", "--ranks", "2"),
    # A fat-tree (the comparisons' fabric) and the 24k-GPU preset.
    case("allreduce-64-fat-tree", ["--topo", "fat-tree", "--set", "fat_tree.k=8"], "--ranks", "64", "--algo", "Ring"),
    case("alltoall-128-fat-tree", ["--topo", "fat-tree", "--set", "fat_tree.k=8"], "--op", "alltoall",
         "--ranks", "128"),
    case("allreduce-512-llama3", ["--topo", "llama3-24k"], "--ranks", "512", sizes=BIG),
    # A zero size: latency only. (A single rank is refused: it communicates with no one.)
    case("allgather-16-zero", MIXED, "--op", "allgather", "--ranks", "16", sizes=["-b", "0", "-e", "0"]),
]

# Slow cases: checked with --slow (ctest label slow). The all-to-all across the BAG with an NSF building.
SLOW = [
    {"name": "alltoall-1024-spread-prometheus",
     "args": ["--topo", "prometheus", "--placement", "spread", "--op", "alltoall", "--ranks", "1024",
              "-b", "256M", "-e", "256M"]},
]

# How many flows and events a case used is how it is computed, not what it computes: the emitters may merge identical
# flows, and a finish tolerance merges events (the reference is recorded exact).
IMPLEMENTATION = ("flows", "events")
NUMERIC = ("time_s", "algbw_GBps", "busbw_GBps", "binding_utilisation", "bytes")

# The NIC speed of each preset (models/config.cpp), raised by 1.25e-12 relative: the sensitivity probe.
PERTURB = {"prometheus": "nic.speed=800.000000001Gbps", "llama3-24k": "nic.speed=400.0000000005Gbps",
           "fat-tree": "nic.speed=100.000000000125Gbps"}


def perturbed(args):
    preset = args[args.index("--topo") + 1]
    return [*args, "--set", PERTURB[preset]]


def sensitivity(rows, moved):
    """Per row: the largest relative change of a numeric field between two runs."""
    out = []
    for a, b in zip(rows, moved):
        worst = 0.0
        for key in NUMERIC:
            x, y = float(a[key]), float(b[key])
            if max(abs(x), abs(y)) > 0:
                worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
        out.append(worst)
    return out


def run(collemu, args, extra=()):
    t0 = time.perf_counter()
    out = subprocess.run([collemu, "coll", *args, *extra, "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"collemu coll {' '.join(args)}: exit {out.returncode}: {out.stderr.strip()}")
    return json.loads(out.stdout), wall


def compare(name, want, got, rel, sens):
    """Differences between two lists of rows, as messages."""
    if len(want) != len(got):
        return [f"{name}: {len(got)} rows, the reference has {len(want)}"]
    errors = []
    for i, (w, g) in enumerate(zip(want, got)):
        tol = max(rel, sens[i] if sens else 0.0)
        for key in w:
            if key not in g:
                errors.append(f"{name} row {i}: no '{key}'")
            elif key in NUMERIC:
                a, b = float(w[key]), float(g[key])
                if abs(a - b) > tol * max(abs(a), abs(b)):
                    errors.append(f"{name} row {i} {key}: {b!r}, the reference has {a!r} "
                                  f"(relative {abs(a - b) / max(abs(a), abs(b)):.3g})")
            elif key in IMPLEMENTATION:
                continue
            elif w[key] != g[key]:
                errors.append(f"{name} row {i} {key}: {g[key]!r}, the reference has {w[key]!r}")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collemu", default="build/collemu")
    ap.add_argument("--record", action="store_true", help="run the cases and rewrite the reference file")
    ap.add_argument("--slow", action="store_true", help="also the slow cases")
    ap.add_argument("--only", help="only the cases whose name contains this text")
    ap.add_argument("--rel", type=float, default=1e-12, help="relative tolerance on numbers")
    ap.add_argument("--finish-tolerance", type=float,
                    help="run every case with this finish tolerance (an approximation: flow_engine.hpp; default: "
                         "collemu's, 2e-4) and check it against the reference (recorded exact), to --rel")
    ap.add_argument("--sensitivity", action="store_true",
                    help="measure each recorded case's sensitivity with this binary (the one that made the reference)")
    a = ap.parse_args()
    extra = ["--finish-tolerance", repr(a.finish_tolerance)] if a.finish_tolerance is not None else []
    if a.record or a.sensitivity:
        extra = ["--finish-tolerance", "0"]  # the reference is exact
    cases = CASES + (SLOW if a.slow else [])
    if a.only:
        cases = [c for c in cases if a.only in c["name"]]
    reference = {}
    if os.path.exists(DATA):
        with open(DATA) as f:
            reference = {c["name"]: c for c in json.load(f)["cases"]}
    errors = []
    for c in cases:
        if a.sensitivity:
            entry = reference[c["name"]]
            moved, wall = run(a.collemu, perturbed(c["args"]), extra)
            entry["sensitivity"] = sensitivity(entry["rows"], moved)
            print(f"{c['name']:45} {wall:7.2f} s  sensitivity {max(entry['sensitivity']):.3g}", flush=True)
            continue
        rows, wall = run(a.collemu, c["args"], extra)
        print(f"{c['name']:45} {wall:7.2f} s  {len(rows)} rows", flush=True)
        if a.record:
            moved, _ = run(a.collemu, perturbed(c["args"]), extra)
            reference[c["name"]] = {"name": c["name"], "args": c["args"], "rows": rows,
                                    "sensitivity": sensitivity(rows, moved), "slow": c in SLOW}
            continue
        want = reference.get(c["name"])
        if want is None:
            errors.append(f"{c['name']}: not in {DATA} (record it)")
            continue
        if want["args"] != c["args"]:
            errors.append(f"{c['name']}: its arguments changed since it was recorded")
        errors += compare(c["name"], want["rows"], rows, a.rel, want.get("sensitivity"))
    if a.record or a.sensitivity:
        # Atomic: a temporary file in the same folder, then a rename.
        ordered = [reference[k] for k in sorted(reference)]
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(DATA), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({"recorded_by": "tests/collectives/coll_reference.py --record", "cases": ordered}, f, indent=1)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, DATA)
        print(f"recorded {len(cases)} cases in {DATA}")
        return 0
    for e in errors:
        print("FAIL", e)
    print(f"{len(cases)} cases, {len(errors)} differences")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
