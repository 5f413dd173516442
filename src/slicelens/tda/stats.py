"""Reliability of an effect measured over several retrainings: mean, interval, p-value.

The needfinding study (App. C.4) reports each effect as mean, variance and p-value over
retrained models "as in Nguyen et al. (2023)". Each retraining ``b`` yields a paired
difference ``d_b = metric(action, b) - metric(baseline, b)`` (same seed or same
bootstrap resample for both), so the test is on the differences:

* ``test="paired-t"`` (default): the paired t-test of ``mean(d) = 0``, i.e.
  ``t = mean(d) / (sd(d) / sqrt(B))`` with ``B - 1`` degrees of freedom (what
  ``scipy.stats.ttest_rel(after, before)`` computes), and the matching t interval.
* ``test="nguyen"``: Nguyen et al.'s score ``z = mean(d) / sd(d)`` with the two-sided
  normal p-value ``2 * (1 - Phi(|z|))`` (their ``run_compute_pvalues.py``). It asks whether
  a *single* retraining shows the effect reliably, so it does not shrink with ``B``;
  stricter than the t-test for ``B > 4``. The interval is then ``mean +- 1.96 sd``.

Departure from the paper: it filters at p < 0.05 per training sample; slicelens also
returns Benjamini-Hochberg adjusted p-values across the rows of one table (``adjust``),
and ``significant`` uses the adjusted value, because a table tests many groups at once.

Example
-------
>>> e = paired_effect(np.array([0.10, 0.20, 0.15, 0.05, 0.12]))
>>> round(e.mean, 3), e.n
(0.124, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

TESTS = ("paired-t", "nguyen")


@dataclass(frozen=True)
class Effect:
    """Summary of paired differences ``d`` (B,): mean, interval, p-value, count."""

    mean: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


def paired_effect(diffs: np.ndarray, *, level: float = 0.95, test: str = "paired-t") -> Effect:
    """Mean, confidence interval and two-sided p-value of paired differences.

    Parameters
    ----------
    diffs : float array (B,)
        ``after - before`` per retraining; B >= 2 for an interval and a p-value.
    level : float
        Confidence level of the interval.
    test : {"paired-t", "nguyen"}
        See the module docstring.

    Returns
    -------
    Effect
        ``p_value`` is 1.0 when every difference is exactly 0 (no effect at all), NaN
        with fewer than two retrainings.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    m, n = float(d.mean()), int(d.size)
    if n < 2:
        return Effect(m, np.nan, np.nan, np.nan, n)
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return Effect(m, m, m, 1.0 if m == 0.0 else 0.0, n)
    if test == "paired-t":
        half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)
        p = 2 * stats.t.sf(abs(m) / (sd / np.sqrt(n)), n - 1)
    else:
        half = stats.norm.ppf(0.5 + level / 2) * sd
        p = 2 * stats.norm.sf(abs(m) / sd)
    return Effect(m, m - half, m + half, float(p), n)


def adjust(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN), shape as the input."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out
