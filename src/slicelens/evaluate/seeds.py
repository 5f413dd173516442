"""Repairs over several seeds: the gain against the matched control, with an interval.

Each seed retrains the repair AND its control with that seed, so the per-seed
differences are paired; the interval is Student's t over the seeds (95% by default).
Pure functions over per-seed figures.

Example
-------
>>> rows = [{"seed": 0, "after": 0.70, "control": 0.30}, {"seed": 1, "after": 0.66, "control": 0.35},
...         {"seed": 2, "after": 0.72, "control": 0.28}]
>>> s = paired_gain(rows)
>>> round(s["mean"], 3), s["n"], s["low"] > 0
(0.383, 3, True)
"""

from __future__ import annotations

import math

import numpy as np


def paired_gain(rows: list[dict], after: str = "after", control: str = "control",
                level: float = 0.95) -> dict:
    """Mean of ``after - control`` over seeds with a t-interval.

    Parameters
    ----------
    rows : list of dict
        One per seed, with the metric of the repaired run (``after``) and of its control.
    level : float
        Confidence level of the interval.

    Returns
    -------
    dict: ``mean``, ``std`` (ddof 1), ``low``, ``high`` (NaN with one seed), ``n``.
    """
    from scipy import stats

    d = np.array([r[after] - r[control] for r in rows], float)
    n = len(d)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "low": math.nan, "high": math.nan, "n": 0}
    mean = float(d.mean())
    if n < 2:
        return {"mean": mean, "std": math.nan, "low": math.nan, "high": math.nan, "n": 1}
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "std": sd, "low": mean - half, "high": mean + half, "n": n}


def seed_verdict(gain: dict, metric: str) -> str:
    """Words for :func:`paired_gain`: beats its control only if the interval is above 0."""
    if gain["n"] < 2:
        return (f"{metric}: {gain['mean']:+.3f} against the matched control (one seed: no "
                "interval; run more seeds to know whether it holds)")
    span = f"{gain['mean']:+.3f} [{gain['low']:+.3f}, {gain['high']:+.3f}] over {gain['n']} seeds"
    if gain["low"] > 0:
        return f"{metric}: beats its matched control, {span}"
    if gain["high"] < 0:
        return f"{metric}: WORSE than its matched control, {span}"
    return f"{metric}: not distinguishable from its matched control, {span}"
