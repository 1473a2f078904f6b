"""Read collemu's result files into pandas DataFrames and plot them.

    import collemu_analysis as ca
    sweep = ca.read_sweep("sweep.h5")        # one row per (point, seed): params..., step_time_s, ... binding_tier
    run = ca.read_run("results.h5")          # .summary (dict), .collectives, .ranks, .tiers, .links, .series
    ops, spans, groups = ca.read_validation("pairs.h5")  # collemu validate --out: measured against predicted

The file formats are docs/sweep.md and docs/results-format.md; `collemu-plot` (collemu_analysis.plot) draws them.
"""
from .read import Run, read_run, read_sweep, read_validation, sweep_bands

__all__ = ["Run", "read_run", "read_sweep", "read_validation", "sweep_bands"]
