#!/usr/bin/env python3
"""Writes engine_instances.json: random flow-engine instances (links with capacities; flows with sizes, link sets and
coefficients, latencies, earliest starts, weights, caps and dependencies on earlier flows). Their finish times under
the flow engine as it was before issue 11's redesign are recorded by flow_engine_reference_test (COLLEMU_RECORD=1)
into engine_reference.json; the test then checks every later engine against them.

Python's random.Random(seed) is the generator: the same instances on every machine.

    python3 tests/models/data/make_engine_instances.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


# The fields of a flow, in the order each flow's array holds them (cap_Bps null: no cap).
FIELDS = ["bytes", "links", "coefficients", "latency_s", "earliest_start_s", "weight", "cap_Bps", "deps"]


def short(x):
    """Six significant digits: smaller files, the same kind of values."""
    return float(f"{x:.6g}")


def instance(seed, links, flows, groups, max_deps, start_spread_s, zero_share, cap_share):
    rng = random.Random(seed)
    caps = [short(rng.choice([1e9, 2.5e9, 1e10, 5e10, 1e11]) * rng.uniform(0.5, 1.5)) for _ in range(links)]
    out = []
    # Links fall into `groups` blocks; most flows stay inside one block (several components), a few bridge two.
    block = max(1, links // groups)
    for f in range(flows):
        g = rng.randrange(groups)
        lo = g * block
        hi = links if g == groups - 1 else lo + block
        pool = list(range(lo, hi))
        if rng.random() < 0.05:
            pool += list(range(links))
        bytes_ = 0.0 if rng.random() < zero_share else short(rng.choice([1e3, 1e5, 1e6, 1e7]) * rng.uniform(0.1, 10))
        k = rng.randint(1, min(4, len(set(pool))))
        path = rng.sample(sorted(set(pool)), k) if bytes_ > 0 or rng.random() < 0.5 else []
        coeff = []
        for _ in path:
            coeff.append(1.0 if rng.random() < 0.6 else rng.choice([0.5, 0.25, 1.0 / 3, 0.125]))
        deps = sorted(rng.sample(range(f), rng.randint(0, min(max_deps, f)))) if f and rng.random() < 0.5 else []
        flow = {"bytes": bytes_, "links": path, "coefficients": coeff,
                "latency_s": rng.choice([0.0, 1e-6, 2.5e-6, 1.4e-5]),
                "earliest_start_s": 0.0 if rng.random() < 0.6 else short(rng.uniform(0, start_spread_s)),
                "weight": rng.choice([1.0, 1.0, 1.0, 2.0, 0.5]),
                "cap_Bps": rng.choice([5e8, 3e9]) if rng.random() < cap_share else None,
                "deps": deps}
        # Now and then an exact twin of the flow before (merged into one variable by the solver).
        if out and rng.random() < 0.1:
            flow = dict(out[-1])
            flow["deps"] = list(out[-1]["deps"])
        out.append(flow)
    # Compact: one array per flow, in the order of FIELDS.
    rows = [[f[k] for k in FIELDS] for f in out]
    return {"seed": seed, "capacity_Bps": caps, "flows": rows}


def main():
    specs = [
        # seed, links, flows, groups, max deps, start spread, zero-byte share, capped share
        (1, 8, 40, 1, 2, 1e-3, 0.05, 0.1),
        (2, 30, 300, 4, 3, 2e-3, 0.05, 0.2),
        (3, 60, 1000, 8, 2, 1e-2, 0.02, 0.1),
        (4, 12, 500, 2, 4, 1e-4, 0.1, 0.0),
        (5, 200, 2000, 20, 3, 5e-3, 0.03, 0.15),
        (6, 5, 200, 1, 1, 0.0, 0.0, 0.5),
    ]
    data = {"generated_by": "tests/models/data/make_engine_instances.py", "fields": FIELDS,
            "instances": [instance(*s) for s in specs]}
    path = os.path.join(HERE, "engine_instances.json")
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {sum(len(i['flows']) for i in data['instances'])} flows in {len(specs)} instances")


if __name__ == "__main__":
    main()
