"""collemu-plot: PNG plots and an HTML report of collemu's results.

    collemu-plot sweep SWEEP.h5 [-o DIR] [--x KEY]   step time against a parameter (one line per combination of the
                                                     others, the seeds' min..max as a band), the breakdown stacked
                                                     per point, the BAG's and every tier's utilisation per point
    collemu-plot run RESULTS.h5 [-o DIR]             one run: its collectives over the step, tier utilisation over
                                                     time, the busiest links
    collemu-plot report SWEEP.h5 -o report.html      one self-contained page: the sweep's plots (inline SVG), its
                                                     table, and the plotted values as JSON
"""
import argparse
import html
import io
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .read import read_run, read_sweep, read_validation, sweep_bands  # noqa: E402

BREAKDOWN = ["compute_s", "exposed_comm_s", "bubble_s", "wait_s"]


def axis_value(text):
    """A parameter's value as a number where it is one ("4.5:1" -> 4.5, "400Gbps" -> 400), else None."""
    m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(?::1)?\s*[A-Za-z/]*\s*", text)
    return float(m.group(1)) if m else None


def pick_x(params, wanted):
    if wanted:
        if wanted not in params:
            raise SystemExit(f"collemu-plot: --x {wanted}: the sweep's parameters are {', '.join(params)}")
        return wanted
    for p in params:
        if p == "bag.oversubscription":
            return p
    return params[0] if params else None


def sweep_lines(df, x):
    """The step-time lines: per combination of the parameters other than x, the points in x order with the band."""
    bands = sweep_bands(df)
    params = bands.attrs["params"]
    others = [p for p in params if p != x]
    lines = []
    groups = bands.groupby(others if len(others) > 1 else others[0], sort=False) if others else [((), bands)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k}={v}" for k, v in zip(others, key)) or "step time"
        xs = [axis_value(v) for v in g[x]] if x else list(range(len(g)))
        numeric = all(v is not None for v in xs)
        order = sorted(range(len(g)), key=lambda i: xs[i]) if numeric else list(range(len(g)))
        rows = g.iloc[order]
        lines.append({"label": label, "x": [str(v) for v in rows[x]] if x else [str(i) for i in order],
                      "x_value": [xs[i] for i in order] if numeric else list(range(len(order))),
                      "points": [int(p) for p in rows["point"]],
                      "mean_s": [float(v) for v in rows["mean"]], "min_s": [float(v) for v in rows["min"]],
                      "max_s": [float(v) for v in rows["max"]], "seeds": [int(v) for v in rows["seeds"]]})
    return lines


def fig_step(lines, x):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for ln in lines:
        xs = ln["x_value"]
        ax.plot(xs, [v * 1e3 for v in ln["mean_s"]], marker="o", label=ln["label"])
        if max(ln["seeds"]) > 1:
            ax.fill_between(xs, [v * 1e3 for v in ln["min_s"]], [v * 1e3 for v in ln["max_s"]], alpha=0.2)
    ax.set_xlabel(x or "point")
    ax.set_ylabel("step time (ms)")
    if lines and all(axis_value(v) is not None for v in lines[0]["x"]):
        # Values can sit close together (1.5:1 beside 2:1 on a 1:1..16:1 axis): slanted labels do not overlap.
        ax.set_xticks(lines[0]["x_value"], lines[0]["x"], rotation=35, ha="right")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("step time (mean over seeds; band: min..max)" if any(max(l["seeds"]) > 1 for l in lines)
                 else "step time")
    fig.tight_layout()
    return fig


def fig_breakdown(df):
    first = df[df["seed"] == df["seed"].min()].sort_values("point")
    params = df.attrs.get("params", [])
    labels = [", ".join(str(r[p]) for p in params) for _, r in first.iterrows()]
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(first) + 2), 4.2))
    bottom = [0.0] * len(first)
    for name in BREAKDOWN:
        vals = [v * 1e3 for v in first[name]]
        ax.bar(range(len(first)), vals, bottom=bottom, label=name.removesuffix("_s").replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylim(0, max(bottom, default=1) * 1.08 or 1)
    ax.set_xticks(range(len(first)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("critical rank (ms)")
    ax.set_title("breakdown per point (first seed)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_bag(df):
    first = df[df["seed"] == df["seed"].min()].sort_values("point")
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(first) + 2), 3.6))
    ax.bar(range(len(first)), first["bag_utilisation"])
    ax.set_xticks(range(len(first)), [str(p) for p in first["point"]])
    ax.set_xlabel("point")
    ax.set_ylabel("BAG utilisation")
    ax.set_title("BAG tier: bytes / (capacity x step time)")
    fig.tight_layout()
    return fig


def fig_tiers(df):
    first = df[df["seed"] == df["seed"].min()].sort_values("point")
    tiers = [c for c in df.columns if c.startswith("utilisation.") and (df[c] > 0).any()]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(first) + 2), 3.8))
    width = 0.8 / max(1, len(tiers))
    for k, c in enumerate(tiers):
        ax.bar([p + (k - (len(tiers) - 1) / 2) * width for p in range(len(first))], first[c], width,
               label=c.removeprefix("utilisation."))
    ax.set_xticks(range(len(first)), [str(p) for p in first["point"]])
    ax.set_xlabel("point")
    ax.set_ylabel("utilisation over the step")
    ax.set_title("per-tier utilisation (first seed)")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return fig


def save(fig, path):
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(path)


def plot_sweep(path, out, x):
    df = read_sweep(path)
    x = pick_x(df.attrs["params"], x)
    os.makedirs(out, exist_ok=True)
    save(fig_step(sweep_lines(df, x), x), os.path.join(out, "step_time.png"))
    save(fig_breakdown(df), os.path.join(out, "breakdown.png"))
    save(fig_bag(df), os.path.join(out, "bag_utilisation.png"))
    save(fig_tiers(df), os.path.join(out, "tiers.png"))


def plot_run(path, out):
    run = read_run(path)
    os.makedirs(out, exist_ok=True)
    c = run.collectives.sort_values("start_s")
    fig, ax = plt.subplots(figsize=(8, 4))
    for kind, g in c.groupby("kind"):
        ax.scatter(g["start_s"] * 1e3, (g["end_s"] - g["start_s"]) * 1e6, s=8, label=kind)
    ax.set_xlabel("start (ms)")
    ax.set_ylabel("duration (us)")
    ax.set_yscale("log")
    ax.set_title(f"collectives over the step ({len(c)})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, os.path.join(out, "collectives.png"))
    fig, ax = plt.subplots(figsize=(8, 4))
    s = run.series
    for tier in [t for t in s.columns if t != "time_s"]:
        ax.plot(s["time_s"] * 1e3, s[tier], label=tier, lw=1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("utilisation")
    ax.set_title("tier utilisation over time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, os.path.join(out, "tiers.png"))
    top = run.links.sort_values("utilisation", ascending=False).head(20)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.barh(range(len(top)), top["utilisation"])
    ax.set_yticks(range(len(top)), top["name"], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("utilisation over the step")
    ax.set_title("busiest links")
    fig.tight_layout()
    save(fig, os.path.join(out, "links.png"))


def plot_validation(path, out):
    """Predicted against measured, op by op (log-log, the diagonal: no error), and the error by size."""
    ops, spans, groups = read_validation(path)
    os.makedirs(out, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    for kind, g in ops.groupby("kind"):
        ax.scatter(g["measured_s"] * 1e6, g["predicted_s"] * 1e6, s=12, label=f"{kind} ({len(g)})")
    lo = min(ops["measured_s"].min(), ops["predicted_s"].min()) * 1e6 / 1.5
    hi = max(ops["measured_s"].max(), ops["predicted_s"].max()) * 1e6 * 1.5
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="predicted = measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (us)")
    ax.set_ylabel("predicted by collemu (us)")
    ax.set_title("collemu validate: " + os.path.basename(ops.attrs["trace"])[:60], fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, os.path.join(out, "predicted_vs_measured.png"))
    fig, ax = plt.subplots(figsize=(7, 4))
    for kind, g in ops.groupby("kind"):
        ax.scatter(g["bytes"], g["error"] * 100, s=12, label=kind)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("bytes")
    ax.set_ylabel("measured / predicted - 1 (%)")
    ax.set_title("error by size (positive: collemu optimistic)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, os.path.join(out, "error_by_size.png"))


def svg(fig):
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def report(path, out, x):
    df = read_sweep(path)
    x = pick_x(df.attrs["params"], x)
    lines = sweep_lines(df, x)
    params = df.attrs["params"]
    cols = ["point", "seed", *params, "step_time_s", *BREAKDOWN[1:], "bag_bytes", "bag_utilisation", "binding_tier"]
    rows = df[cols].to_dict(orient="records")
    data = {"source": os.path.abspath(path), "x": x, "params": params, "lines": lines,
            "rows": [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(
        f'<td data-col="{html.escape(c)}">{html.escape(repr(float(r[c])) if isinstance(r[c], float) else str(r[c]))}</td>'
        for c in cols) + "</tr>" for r in data["rows"])
    payload = json.dumps(data).replace("</", "<\\/")  # no "</script>" inside the script element
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>collemu sweep: {html.escape(os.path.basename(path))}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}} figure{{margin:1em 0}}</style></head>
<body><h1>collemu sweep</h1>
<p>{html.escape(os.path.abspath(path))}: {len(df)} rows, {df['point'].nunique()} points, parameters
{html.escape(', '.join(params))}.</p>
<figure id="step-time">{svg(fig_step(lines, x))}</figure>
<figure id="breakdown">{svg(fig_breakdown(df))}</figure>
<figure id="bag">{svg(fig_bag(df))}</figure>
<figure id="tiers">{svg(fig_tiers(df))}</figure>
<h2>Rows</h2><table id="rows"><tr>{head}</tr>{body}</table>
<script type="application/json" id="collemu-data">{payload}</script>
</body></html>
"""
    tmp = out + f".tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, out)  # atomically
    print(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="collemu-plot", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sweep", help="plots of a sweep (PNG)")
    s.add_argument("file")
    s.add_argument("-o", "--out", default="plots")
    s.add_argument("--x", help="the parameter on the x axis (default: bag.oversubscription, else the first)")
    r = sub.add_parser("run", help="plots of one run's results.h5 (PNG)")
    r.add_argument("file")
    r.add_argument("-o", "--out", default="plots")
    v = sub.add_parser("validate", help="plots of collemu validate --out: predicted against measured (PNG)")
    v.add_argument("file")
    v.add_argument("-o", "--out", default="plots")
    h = sub.add_parser("report", help="one self-contained HTML page of a sweep")
    h.add_argument("file")
    h.add_argument("-o", "--out", required=True)
    h.add_argument("--x")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "sweep":
            plot_sweep(a.file, a.out, a.x)
        elif a.cmd == "run":
            plot_run(a.file, a.out)
        elif a.cmd == "validate":
            plot_validation(a.file, a.out)
        else:
            report(a.file, a.out, a.x)
    except (OSError, ValueError, KeyError) as e:
        print(f"collemu-plot: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
