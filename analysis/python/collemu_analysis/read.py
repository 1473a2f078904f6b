"""Readers of collemu's HDF5 results (docs/results-format.md, docs/sweep.md) into pandas."""
from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd

RESULTS_VERSION = 1
SWEEP_VERSION = 1
VALIDATION_VERSION = 1


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _open(path, fmt, version):
    f = h5py.File(path, "r")
    got = _text(f.attrs.get("format", ""))
    if got != fmt:
        f.close()
        raise ValueError(f"{path}: format {got!r}; expected {fmt!r}")
    if int(f.attrs.get("version", 0)) > version:
        f.close()
        raise ValueError(f"{path}: version {int(f.attrs['version'])} is newer than this reader ({version})")
    return f


def read_sweep(path):
    """A sweep's rows: point, seed, one column per parameter (text, as given), the values, binding_tier."""
    with _open(path, "collemu-sweep", SWEEP_VERSION) as f:
        cols = {"point": f["point"][:], "seed": f["seed"][:]}
        for key in f["params"]:
            cols[key] = [_text(v) for v in f["params"][key][:]]
        for name, ds in f.items():
            if isinstance(ds, h5py.Dataset) and name not in ("point", "seed", "binding_tier"):
                cols[name] = ds[:]
        cols["binding_tier"] = [_text(v) for v in f["binding_tier"][:]]
        df = pd.DataFrame(cols)
        df.attrs["params"] = list(f["params"].keys())
        df.attrs["identity"] = _text(f.attrs["identity"])
        return df


def sweep_bands(df, value="step_time_s"):
    """Per point: its parameters and the mean, min and max of `value` over the seeds."""
    params = df.attrs.get("params", [])
    g = df.groupby("point")
    out = g[params].first() if params else pd.DataFrame(index=g.size().index)
    out["mean"], out["min"], out["max"], out["seeds"] = g[value].mean(), g[value].min(), g[value].max(), g.size()
    out.attrs["params"] = params
    return out.reset_index()


@dataclass
class Run:
    summary: dict
    collectives: pd.DataFrame
    ranks: pd.DataFrame
    tiers: pd.DataFrame
    links: pd.DataFrame
    series: pd.DataFrame = field(default_factory=pd.DataFrame)


def read_run(path):
    """A `collemu run --out` file: its summary attributes and tables (legend codes turned into names)."""
    with _open(path, "collemu-results", RESULTS_VERSION) as f:
        summary = {k: (_text(v) if isinstance(v, (bytes, str)) else v.item() if hasattr(v, "item") else v)
                   for k, v in f.attrs.items()}
        legend = {k: [_text(x) for x in f["legend"][k][:]] for k in f["legend"]}

        def table(group, decode=()):
            cols = {}
            for name, ds in f[group].items():
                v = ds[:]
                if v.dtype.kind in "OS":
                    v = [_text(x) for x in v]
                elif name in decode:
                    v = [legend[decode[name]][i] for i in v]
                cols[name] = v
            return pd.DataFrame(cols)

        colls = table("collectives", {"algo": "algo", "kind": "kind", "proto": "proto", "binding_tier": "tier"})
        tiers = table("tiers")
        tiers["tier"] = [legend["tier"][i] for i in f["tiers"]["tier"][:]]
        links = table("links", {"tier": "tier"})
        series = table("series") if "series" in f else pd.DataFrame()
        return Run(summary, colls, table("ranks"), tiers, links, series)


def read_validation(path):
    """collemu validate --out: (ops, spans, groups) as DataFrames; ops: rank, op, kind, bytes, measured_s,
    predicted_s, error (measured / predicted - 1: positive when collemu is optimistic)."""
    with _open(path, "collemu-validation", VALIDATION_VERSION) as f:
        ops = pd.DataFrame({k: f["ops"][k][:] for k in ("rank", "op", "bytes", "measured_s", "predicted_s")})
        ops["kind"] = [_text(v) for v in f["ops/kind"][:]]
        ops["error"] = ops["measured_s"] / ops["predicted_s"] - 1
        spans = pd.DataFrame({k: f["spans"][k][:] for k in ("rank", "ops", "measured_s", "predicted_s")})
        groups = pd.DataFrame({k: f["groups"][k][:] for k in ("n", "median_measured_s", "median_predicted_s",
                                                             "median_signed", "median_abs", "p90_abs", "max_abs")})
        groups.insert(0, "label", [_text(v) for v in f["groups/label"][:]])
        ops.attrs["trace"] = _text(f.attrs["trace"])
        ops.attrs["topo"] = _text(f.attrs["topo"])
    return ops, spans, groups
