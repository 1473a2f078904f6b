#!/usr/bin/env python3
"""Runs every healthy point of points.csv through `collemu coll` and compares busbw with the published value.

The fabric of a point follows from its published description by one rule (fabric_for below, written out in
docs/accuracy.md), never chosen per point. A point the rule cannot express (NICs and GPUs per node where neither
count divides the other, an NVL72 rack, no message size, an unknown NIC on a platform without a reference design) is
listed with the reason and left out of the statistics.

  validate.py --collemu build/collemu                       table and statistics on stdout
  validate.py --collemu build/collemu --update docs/accuracy.md
        rewrites the page's table and statistics (between its "table: begin" and "table: end" markers)
  validate.py --collemu build/collemu --check docs/accuracy.md
        the test: every expressible point runs, each prediction equals the one docs/accuracy.md records (to 0.5%, so
        that the page says what the code predicts), and the check half's statistics are no worse than the bounds
        the page states (its "bounds" line), so that a model change that loses accuracy fails.
"""
import argparse
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# The GPU as published -> collemu's gpu.type (which sets the NVLink bandwidth and NCCL's per-generation constants).
# GB* before B200, H200 before H20: the first name found in the published GPU text wins.
GPU_TYPES = [("GB300", "gb300"), ("GB200", "gb200"), ("B200", "b200"), ("H200", "h200"), ("H100", "h100"),
             ("H20", "h20"), ("A100", "a100")]
# Platforms whose reference design fixes the backend NIC when a post does not state it: DGX/HGX H100, H200 and B200
# carry eight ConnectX-7 400G NICs, one per GPU (NVIDIA DGX H100/B200 user guides).
REFERENCE_NIC_GBPS = {"H100": 400, "H200": 400, "B200": 400}

COLLECTIVES = ("allreduce", "allgather", "reducescatter", "alltoall")


def gpu_generation(gpu):
    for name, _ in GPU_TYPES:
        if name in gpu:
            return name
    return None


def transport_of(fabric):
    """The published network as a collemu transport: RoCE where the source names it (even beside IB: a RoCE fabric's
    verbs are still "IB" to NCCL), InfiniBand where it names IB, InfiniBand, NDR or HDR, else (not stated by the
    poster) collemu's default, RoCE."""
    if fabric.lower().startswith("not stated"):
        return "roce"
    if re.search(r"\bRoCE", fabric, re.I):
        return "roce"
    if re.search(r"\b(IB|InfiniBand|NDR|HDR)\b", fabric):
        return "ib"
    return "roce"


def fabric_for(row):
    """(collemu arguments, None) or (None, why the point cannot be expressed)."""
    gpu = row["gpu"]
    gen = gpu_generation(gpu)
    gpn = int(row["gpus_per_node"])
    nodes = int(row["nodes"])
    if not row["size_bytes"]:
        return None, "no message size published"
    if "NVL72" in gpu or "MNNVL" in row["fabric"]:
        return None, "NVL72 rack (NVLink across trays): scaleup domains larger than a node with partial racks"
    nvlink = "no NVLink" in gpu or "PCIe" in gpu
    if gen is None and not nvlink:
        return None, "GPU generation not recognised"
    nics = int(float(row["nics_per_node"])) if row["nics_per_node"] else gpn
    ratio = {}  # GPUs sharing a NIC (4 NICs for 8 GPUs: 2), or NICs per GPU
    if nics < gpn and gpn % nics == 0:
        ratio["nic.gpus_per_nic"] = gpn // nics
    elif nics > gpn and nics % gpn == 0:
        ratio["nic.per_gpu"] = nics // gpn
    elif nics != gpn:
        return None, f"{nics} NICs for {gpn} GPUs per node (neither divides the other)"
    speed = row["nic_speed_gbps"]
    if not speed:
        if gen not in REFERENCE_NIC_GBPS or nvlink:
            return None, "NIC speed not published and no reference design to take it from"
        speed = REFERENCE_NIC_GBPS[gen]
    speed = int(float(speed))
    scaleup = 1 if nvlink else gpn
    sets = {
        "region.buildings": 1,
        "bag.enabled": "false",
        "fabric.kind": "nsf",
        "nsf.tiers": 2,
        "fabric.planes": 1,
        "nic.ports": 1,
        "fabric.attach": "rail",
        "building.gpus": nodes * gpn,
        "scaleup.gpus": scaleup,
        "nic.speed": f"{speed}Gbps",
        "nic.transport": transport_of(row["fabric"]),
        **ratio,
    }
    if gen:
        sets["gpu.type"] = dict(GPU_TYPES)[gen]
    args = ["--topo", "prometheus"]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    args += ["--op", row["collective"], "--ranks", str(nodes * gpn)]
    size = int(float(row["size_bytes"]))
    args += ["-b", str(size), "-e", str(size)]
    for env in (row["algo_env"] or "").split():
        name, _, value = env.partition("=")
        if name == "NCCL_ALGO":
            args += ["--algo", value]
        elif name == "NCCL_PROTO":
            args += ["--proto", value]
        elif name == "NCCL_IB_QPS_PER_CONNECTION":
            args += ["--qps", value]
        elif name == "NCCL_MIN_CTAS":
            args += ["--channels", value]
        # NCCL_P2P_LEVEL, NCCL_SHM_DISABLE, NCCL_IB_ADAPTIVE_ROUTING: no collemu counterpart; the fabric has no
        # adaptive routing and a GPU without NVLink reaches others over its NIC.
    if row["nccl_version"]:  # where published; else collemu's default (2.28)
        args += ["--nccl-version", row["nccl_version"]]
    return args, None


def load_points():
    with open(os.path.join(HERE, "points.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["healthy"] == "yes"]
    return rows


def predict(collemu, rows, extra=()):
    out = []
    for i, row in enumerate(rows):
        args, why = fabric_for(row)
        rec = {"row": row, "why": why}
        if args:
            p = subprocess.run([collemu, "coll", *args, *extra, "--json"], capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"point {i} ({row['cluster_id']} {row['collective']} {row['size_bytes']}): "
                                 f"collemu coll failed:\n{' '.join(args)}\n{p.stderr}")
            res = json.loads(p.stdout)[0]
            rec.update(pred=res["busbw_GBps"], algo=res["algo"], proto=res["proto"], args=args)
            rec["err"] = rec["pred"] / float(row["busbw_GBps"]) - 1
        out.append(rec)
    return out


def busbw_factor(collective, n):
    return 2 * (n - 1) / n if collective == "allreduce" else (n - 1) / n


def measured_time_us(row):
    """The published time of a point: size / algbw (algbw from busbw and nccl-tests' factor where only busbw is given)."""
    n = int(row["nodes"]) * int(row["gpus_per_node"])
    algbw = float(row["algbw_GBps"]) if row["algbw_GBps"] else float(row["busbw_GBps"]) / busbw_factor(row["collective"], n)
    return float(row["size_bytes"]) / (algbw * 1e3)


CASE_OPTIONS = {"--algo": "algo", "--proto": "proto", "--channels": "channels", "--qps": "qps",
                "--nccl-version": "nccl_version"}


def write_cases(recs, path):
    """The fit half's expressible points as `collemu calibrate --cases` rows: each on its machine (the rule's --set
    values over --topo prometheus), grouped by cluster."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["group", "op", "ranks", "bytes", "time_us", "sets", *CASE_OPTIONS.values()])
        for r in recs:
            if r["why"] or r["row"]["half"] != "fit":
                continue
            a = r["args"]
            sets = [a[i + 1] for i in range(len(a)) if a[i] == "--set"]
            opt = {CASE_OPTIONS[a[i]]: a[i + 1] for i in range(len(a)) if a[i] in CASE_OPTIONS}
            row = r["row"]
            w.writerow([row["cluster_id"], row["collective"], a[a.index("--ranks") + 1], a[a.index("-b") + 1],
                        f"{measured_time_us(row):.6g}", " ".join(sets), *(opt.get(k, "") for k in CASE_OPTIONS.values())])


def calibrated(collemu, recs, directory):
    """Fits the keys on the fit half (collemu calibrate --cases) and predicts every point again with them."""
    os.makedirs(directory, exist_ok=True)
    cases, fitted = os.path.join(directory, "fit_cases.csv"), os.path.join(directory, "fitted.yaml")
    write_cases(recs, cases)
    p = subprocess.run([collemu, "calibrate", "--topo", "prometheus", "--cases", cases, "--holdout", "0",
                        "--out", fitted, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"collemu calibrate failed:\n{p.stderr}")
    fit = json.loads(p.stdout)
    after = predict(collemu, [r["row"] for r in recs], ["--set-file", fitted])
    return fit, after


def calibrated_markdown(fit, before, after):
    lines = ["Fitted on the fit half's points (`collemu calibrate --cases`, every point on its own machine):", "",
             "| key | fitted | +/- | note |", "|---|---|---|---|"]
    for p in fit["parameters"]:
        pct = p["key"].endswith("efficiency")
        val = (lambda v: f"{100 * v:.2f}%") if pct else (lambda v: f"{1e6 * v:.1f} us")
        err = val(p["std_error"]) if p["std_error"] is not None and not p["at_bound"] and p["determined"] else "-"
        note = f"held at its {p['at_bound']} bound" if p["at_bound"] else "" if p["determined"] else "not determined"
        for a, b in fit["confounded"]:
            if p["key"] in (a, b):
                note += ("; " if note else "") + "cannot be told apart from " + (b if p["key"] == a else a)
        lines.append(f"| {p['key']} | {val(p['value'])} | {err} | {note} |")
    lines += ["", "| half | collective | points | median abs before | after | max abs before | after | "
              "mean signed before | after |", "|---|---|---|---|---|---|---|---|---|"]
    for half in ("fit", "check"):
        for coll in ("all",) + COLLECTIVES:
            sel = [i for i, r in enumerate(before) if not r["why"] and r["row"]["half"] == half and
                   (coll == "all" or r["row"]["collective"] == coll)]
            if not sel:
                continue
            b, a = stats([before[i] for i in sel]), stats([after[i] for i in sel])
            lines.append(f"| {half} | {coll} | {b['n']} | {100 * b['median_abs']:.1f}% | {100 * a['median_abs']:.1f}% | "
                         f"{100 * b['max_abs']:.1f}% | {100 * a['max_abs']:.1f}% | {100 * b['mean_signed']:+.1f}% | "
                         f"{100 * a['mean_signed']:+.1f}% |")
    return "\n".join(lines) + "\n"


def check_calibrated(recorded, computed, page):
    """The calibrated statistics as the page records them (to 0.3 points: the fit's last digits may differ between
    builds), and the check half better after the fit than before on all three figures."""
    pat = re.compile(r"^\| (fit|check) \| (\w+) \| (\d+) \| ([-+\d.%| ]+)\|$", re.M)
    def rows(text):
        return {(m[1], m[2]): [float(x.strip().rstrip("%")) for x in m[4].split("|")] for m in pat.finditer(text)}
    want, got = rows(recorded), rows(computed)
    failures = []
    if set(want) != set(got):
        failures.append(f"{page}'s calibrated table has rows {sorted(want)}, the fit gives {sorted(got)}")
    for key in set(want) & set(got):
        if any(abs(x - y) > 0.3 for x, y in zip(want[key], got[key])):
            failures.append(f"calibrated {key}: {got[key]}, {page} records {want[key]}")
    c = got.get(("check", "all"))
    if not c or not (c[1] < c[0] and c[3] < c[2] and abs(c[5]) < abs(c[4])):
        failures.append(f"the fit does not improve the check half: {c}")
    for f in failures:
        print("FAIL", f)
    if failures:
        print(computed)
    return not failures


def replace_between(text, begin, end, body, page):
    if begin not in text or end not in text:
        raise SystemExit(f"{page}: no '{begin.strip()}' / '{end}' markers")
    head, rest = text.split(begin, 1)
    return head + begin + body + end + rest.split(end, 1)[1]


def stats(recs):
    errs = [r["err"] for r in recs]
    if not errs:
        return None
    a = [abs(e) for e in errs]
    return {"n": len(errs), "median_abs": statistics.median(a), "max_abs": max(a), "mean_signed": statistics.fmean(errs)}


def size_text(b):
    b = int(float(b))
    for unit, k in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if b >= k and b % k == 0:
            return f"{b // k}{unit}"
    return str(b)


def markdown(recs):
    lines = ["| cluster | half | GPU | nodes | collective | size | published GB/s | predicted GB/s | error | algo/proto |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in recs:
        row = r["row"]
        if r["why"]:
            continue
        lines.append(f"| {row['cluster_id']} | {row['half']} | {gpu_generation(row['gpu']) or 'PCIe'} | {row['nodes']} | "
                     f"{row['collective']} | {size_text(row['size_bytes'])} | {float(row['busbw_GBps']):.2f} | "
                     f"{r['pred']:.2f} | {100 * r['err']:+.1f}% | {r['algo']}/{r['proto']} |")
    lines += ["", "Statistics (error = predicted / published - 1):", "",
              "| half | collective | points | median abs | max abs | mean signed |", "|---|---|---|---|---|---|"]
    for half in ("fit", "check"):
        for coll in ("all",) + COLLECTIVES:
            sel = [r for r in recs if not r["why"] and r["row"]["half"] == half and
                   (coll == "all" or r["row"]["collective"] == coll)]
            s = stats(sel)
            if s:
                lines.append(f"| {half} | {coll} | {s['n']} | {100 * s['median_abs']:.1f}% | {100 * s['max_abs']:.1f}% | "
                             f"{100 * s['mean_signed']:+.1f}% |")
    lines += ["", "Points the rule cannot express yet:", "", "| cluster | half | nodes | collective | why |",
              "|---|---|---|---|---|"]
    for r in recs:
        if r["why"]:
            row = r["row"]
            lines.append(f"| {row['cluster_id']} | {row['half']} | {row['nodes']} | {row['collective']} | {r['why']} |")
    return "\n".join(lines) + "\n"


def check(recs, page):
    text = open(page).read()
    recorded = {}
    for m in re.finditer(r"^\| (\S+) \| (fit|check) \| \S+ \| (\d+) \| (\w+) \| (\w+) \| ([\d.]+) \| ([\d.]+) \|",
                         text, re.M):
        recorded[(m[1], m[3], m[4], m[5], m[6])] = float(m[7])
    bounds = re.search(r"^bounds: check median abs <= ([\d.]+)%, max abs <= ([\d.]+)%, \|mean signed\| <= ([\d.]+)%",
                       text, re.M)
    if not bounds:
        raise SystemExit(f"{page}: no 'bounds:' line")
    failures = []
    for r in recs:
        if r["why"]:
            continue
        row = r["row"]
        key = (row["cluster_id"], row["nodes"], row["collective"], size_text(row["size_bytes"]),
               f"{float(row['busbw_GBps']):.2f}")
        if key not in recorded:
            failures.append(f"{key}: not in {page}'s table")
        elif abs(r["pred"] / recorded[key] - 1) > 0.005:
            failures.append(f"{key}: predicts {r['pred']:.2f} GB/s, {page} records {recorded[key]:.2f}")
    if len(recorded) != sum(1 for r in recs if not r["why"]):
        failures.append(f"{page}'s table has {len(recorded)} rows, the rule expresses "
                        f"{sum(1 for r in recs if not r['why'])} points")
    s = stats([r for r in recs if not r["why"] and r["row"]["half"] == "check"])
    med, mx, mean = (float(bounds[i]) / 100 for i in (1, 2, 3))
    if s["median_abs"] > med or s["max_abs"] > mx or abs(s["mean_signed"]) > mean:
        failures.append(f"check half: median {100 * s['median_abs']:.1f}%, max {100 * s['max_abs']:.1f}%, mean "
                        f"{100 * s['mean_signed']:+.1f}%; bounds {bounds[1]}%, {bounds[2]}%, {bounds[3]}%")
    for f in failures:
        print("FAIL", f)
    print(f"{sum(1 for r in recs if not r['why'])} points predicted, {len(failures)} failures; check half: "
          f"median {100 * s['median_abs']:.1f}%, max {100 * s['max_abs']:.1f}%, mean {100 * s['mean_signed']:+.1f}%")
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collemu", required=True)
    ap.add_argument("--update", metavar="PAGE", help="rewrite the table and statistics of this page")
    ap.add_argument("--check", metavar="PAGE", help="compare with the table and bounds of this page")
    ap.add_argument("--calibrate", metavar="DIR", help="also fit the keys on the fit half (files in DIR) and compare")
    a = ap.parse_args()
    recs = predict(a.collemu, load_points())
    md = markdown(recs)
    cal_md = None
    if a.calibrate:
        fit, after = calibrated(a.collemu, recs, a.calibrate)
        cal_md = calibrated_markdown(fit, recs, after)
    if a.update:
        text = replace_between(open(a.update).read(), "<!-- table: begin -->\n", "<!-- table: end -->", md, a.update)
        if cal_md:
            text = replace_between(text, "<!-- calibrated: begin -->\n", "<!-- calibrated: end -->", cal_md, a.update)
        tmp = a.update + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, a.update)
    if a.check:
        ok = check(recs, a.check)
        if cal_md:
            text = open(a.check).read()
            recorded = text.split("<!-- calibrated: begin -->\n", 1)[1].split("<!-- calibrated: end -->", 1)[0] \
                if "<!-- calibrated: begin -->" in text else ""
            ok = check_calibrated(recorded, cal_md, a.check) and ok
        sys.exit(0 if ok else 1)
    if not a.update:
        sys.stdout.write(md)
        if cal_md:
            sys.stdout.write("\n" + cal_md)


if __name__ == "__main__":
    main()
