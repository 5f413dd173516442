"""Words for any slice: attribute values enriched in it against the rest of its class.

A slice from a metadata-free slicer (attribution, error-aware, error clustering) is a set
of samples, not a rule. To describe it, we ask which attribute values of HiBug's
attribute matrix (Sec. 3.1) are over-represented among its members compared with the
other samples of the same class (the slice's majority label) in the same split:

for attribute ``a`` and value ``v``, with ``x`` of the slice's ``n`` members (that have a
value for ``a``) having ``v`` and ``y`` of the ``m`` other samples of the class,

* the **one-sided Fisher exact test** ``p = P(X >= x)``, ``X ~ Hypergeom(N = n + m,
  K = x + y, n)`` (scipy's ``hypergeom.sf(x - 1, N, K, n)``);
* the **Benjamini-Hochberg** adjusted p-value ``q`` over every (attribute, value) pair
  tested for that slice (false-discovery rate across the description's candidates);
* the **lift** ``(x / n) / ((x + y) / (n + m))`` (share in the slice over the share in the
  class) and the share ``x / n``.

A value is *enriched* when ``q <= fdr`` (0.05), its lift is at least ``min_lift`` and at
least ``min_share`` of the members have it; the description takes the most significant
enriched value of each attribute (at most ``max_attributes`` attributes). Comparing
within the class matters: a slice of mispredicted 0-4s on brick is described by
"brick background", not by features every 0-4 shares.

Pure NumPy/SciPy; :func:`enriched_values` works on integer codes
(:meth:`~slicelens.attributes.matrix.AttributeMatrix.codes`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (monotone, capped at 1), same shape as ``p``.

    >>> bh_adjust(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p, float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p)
    q = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def enriched_values(codes: np.ndarray, in_slice: np.ndarray, in_class: np.ndarray,
                    attributes: list[str], values: dict[str, list[str]], fdr: float = 0.05,
                    min_lift: float = 1.5, min_share: float = 0.3) -> list[dict]:
    """Every tested (attribute, value) of one slice with its test, most significant first.

    Parameters
    ----------
    codes : int array (n, m)
        Attribute codes of the samples compared (-1 = no value).
    in_slice : bool array (n,)
        The slice's members.
    in_class : bool array (n,)
        The samples of the slice's class; the reference is ``in_class & ~in_slice``.
    attributes, values
        Names of the ``m`` columns and their value lists.

    Returns
    -------
    list of dict ``{"attribute", "value", "in_slice", "n", "in_rest", "m", "share",
    "lift", "p", "q", "enriched"}``, sorted by ``p`` then ``-lift``.

    Examples
    --------
    >>> codes = np.array([[0]] * 30 + [[1]] * 70)
    >>> s = np.zeros(100, bool); s[:25] = True
    >>> r = enriched_values(codes, s, np.ones(100, bool), ["bg"], {"bg": ["brick", "grass"]})
    >>> r[0]["value"], r[0]["enriched"], round(r[0]["lift"], 2)
    ('brick', True, 3.33)
    """
    from scipy.stats import hypergeom

    codes = np.asarray(codes)
    s = np.asarray(in_slice, bool)
    rest = np.asarray(in_class, bool) & ~s
    rows: list[dict[str, Any]] = []
    for j, a in enumerate(attributes):
        col = codes[:, j]
        has = col >= 0
        n, m = int((s & has).sum()), int((rest & has).sum())
        if n == 0:
            continue
        cs = np.bincount(col[s & has], minlength=len(values[a]))
        cr = np.bincount(col[rest & has], minlength=len(values[a]))
        for v in np.flatnonzero(cs):
            x, y = int(cs[v]), int(cr[v])
            p = float(hypergeom.sf(x - 1, n + m, x + y, n))
            rows.append({"attribute": a, "value": values[a][v], "in_slice": x, "n": n,
                         "in_rest": y, "m": m, "share": x / n,
                         "lift": (x / n) / ((x + y) / (n + m)), "p": p})
    q = bh_adjust(np.array([r["p"] for r in rows]))
    for r, qi in zip(rows, q, strict=True):
        r["q"] = float(qi)
        r["enriched"] = bool(qi <= fdr and r["lift"] >= min_lift and r["share"] >= min_share)
    return sorted(rows, key=lambda r: (r["p"], -r["lift"]))


def top_conditions(tests: list[dict], max_attributes: int = 3) -> dict[str, str]:
    """The most significant enriched value per attribute, at most ``max_attributes``
    attributes, in order of significance: ``{attribute: value}``."""
    out: dict[str, str] = {}
    for r in tests:
        if r["enriched"] and r["attribute"] not in out and len(out) < max_attributes:
            out[r["attribute"]] = r["value"]
    return out
