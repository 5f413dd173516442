"""Slice metrics and the slice ranking: pure NumPy / pandas functions.

A slice's numbers come from the run's per-sample table (``id, label, split, pred,
confidence, loss, correct``); nothing here reads images or arrays. ``n`` is the number of
samples in the slice; unlabeled samples (``label == -1``) count in ``size`` but not in
accuracy, loss or the confusion breakdown.

Ranking
-------
Slices are ranked by the **upper** end of the Wilson 95% interval of their accuracy,
ascending (the same order as the lower end of the error-rate interval, descending, since
the Wilson interval of ``1 - p`` is ``1 - (high, low)``). The upper bound is what the
data cannot rule out: a slice ranks first only when even an optimistic reading of its
accuracy is low. A 2-sample slice with 0/2 correct has an upper bound of 0.66 and ranks
below a 200-sample slice at 40% accuracy (upper bound 0.47), whereas ranking by the point
estimate would put every tiny all-wrong slice on top (Domino and HiBug rank by raw error,
which is why their tables are led by slices of a handful of samples).

Example
-------
>>> lo, hi = wilson_interval(8, 10)
>>> round(lo, 4), round(hi, 4)
(0.4902, 0.9433)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: How many (label, prediction) cells the confusion breakdown keeps.
TOP_CELLS = 3


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``.

    ``p = k/n``; ``centre = (p + z^2/(2n)) / (1 + z^2/n)``;
    ``half = z sqrt(p(1-p)/n + z^2/(4n^2)) / (1 + z^2/n)``.

    Parameters
    ----------
    k : int
        Successes, ``0 <= k <= n``.
    n : int
        Trials; ``n == 0`` gives the uninformative ``(0.0, 1.0)``.
    z : float, default 1.96
        Normal quantile (1.96 for a 95% interval).

    Returns
    -------
    (low, high) : tuple of float in [0, 1]
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def confusion_cells(labels: np.ndarray, preds: np.ndarray, classes: list[str],
                    top: int = TOP_CELLS) -> list[dict]:
    """The most frequent (label, prediction) pairs of labelled samples.

    Parameters
    ----------
    labels, preds : int arrays, shape (n,)
        Class indices; samples with ``label < 0`` are ignored.
    classes : list of str
    top : int
        How many cells to keep.

    Returns
    -------
    list of dict ``{"label", "prediction", "n", "text"}``, most frequent first (ties: by
    label then prediction index), ``text`` like ``"label: 0-4; prediction: 5-9"``.
    """
    labels, preds = np.asarray(labels), np.asarray(preds)
    keep = labels >= 0
    C = len(classes)
    counts = np.bincount(labels[keep] * C + preds[keep], minlength=C * C)
    order = np.lexsort((np.arange(C * C), -counts))
    cells = []
    for cell in order[:top]:
        if counts[cell] == 0:
            break
        lab, pred = classes[cell // C], classes[cell % C]
        cells.append({"label": lab, "prediction": pred, "n": int(counts[cell]),
                      "text": f"label: {lab}; prediction: {pred}"})
    return cells


def slice_metrics(samples_subset: pd.DataFrame, classes: list[str]) -> dict:
    """Size, accuracy with its Wilson interval, confidence, loss and confusion of a slice.

    Parameters
    ----------
    samples_subset : DataFrame, n rows
        Rows of ``run.samples`` (columns ``label, pred, confidence, loss, correct``).
    classes : list of str
        Class names, indexed by ``label`` / ``pred``.

    Returns
    -------
    dict with ``size`` (n), ``n_labeled``, ``accuracy``, ``acc_low``, ``acc_high`` (Wilson
    95%), ``errors``, ``confidence`` (mean), ``loss`` (mean over labelled), ``confusion``
    (see :func:`confusion_cells`) and ``confusion_text`` (the dominant cell with its
    count, e.g. ``"label: 0-4; prediction: 5-9 (n=83 of 90)"``). Means of empty sets are NaN.

    Examples
    --------
    >>> s = pd.DataFrame({"label": [0, 0, 1, -1], "pred": [1, 1, 1, 0],
    ...                   "confidence": [.9, .8, .7, .6], "loss": [2., 1., .1, np.nan],
    ...                   "correct": pd.array([False, False, True, pd.NA], "boolean")})
    >>> m = slice_metrics(s, ["a", "b"])
    >>> m["size"], m["errors"], round(m["accuracy"], 3), m["confusion_text"]
    (4, 2, 0.333, 'label: a; prediction: b (n=2 of 3)')
    """
    labels = samples_subset["label"].to_numpy(np.int64)
    lab = labels >= 0
    correct = samples_subset["correct"].to_numpy(dtype=bool, na_value=False)[lab]
    n_lab, k = int(lab.sum()), int(correct.sum())
    low, high = wilson_interval(k, n_lab)
    cells = confusion_cells(labels, samples_subset["pred"].to_numpy(np.int64), classes)
    text = f"{cells[0]['text']} (n={cells[0]['n']} of {n_lab})" if cells else "no labelled samples"
    return {
        "size": int(len(samples_subset)),
        "n_labeled": n_lab,
        "accuracy": k / n_lab if n_lab else float("nan"),
        "acc_low": low,
        "acc_high": high,
        "errors": n_lab - k,
        "confidence": _mean(samples_subset["confidence"].to_numpy(np.float64)),
        "loss": _mean(samples_subset["loss"].to_numpy(np.float64)[lab]),
        "confusion": cells,
        "confusion_text": text,
    }


def rank_key(metrics: dict) -> tuple[float, int]:
    """Sort key of a slice: Wilson upper bound of accuracy ascending, then size descending.

    See the module docstring for why the upper bound.
    """
    return float(metrics["acc_high"]), -int(metrics["size"])


def rank_order(metrics: list[dict]) -> np.ndarray:
    """Indices that sort slices from most to least problematic (stable), shape (n_slices,)."""
    keys = [rank_key(m) for m in metrics]
    return np.array(sorted(range(len(keys)), key=lambda i: keys[i]), dtype=np.int64)


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def build_slices(prefix: str, sample_ids: np.ndarray, labels: np.ndarray,
                 typicality: np.ndarray, samples: pd.DataFrame, classes: list[str],
                 polygons: list | None = None, evidence: list[dict] | None = None):
    """Turn a clustering into ranked :class:`~slicelens.slicing.base.Slice` objects.

    Parameters
    ----------
    prefix : str
        Slice ids are ``f"{prefix}-{rank:02d}"`` (rank 0 = most problematic).
    sample_ids : str array, shape (n,)
    labels : int array, shape (n,)
        Cluster index per sample, ``0 .. n_clusters - 1`` (or -1 = none).
    typicality : float array, shape (n,)
        Higher = more typical of its cluster (e.g. minus the distance to the centroid);
        each slice lists its members most typical first.
    samples : DataFrame, n rows
        ``run.samples`` rows aligned with ``sample_ids``.
    polygons, evidence : list, optional
        Per cluster (indexed like ``labels``).

    Returns
    -------
    slices : list of Slice, ranked by :func:`rank_key`
    new_labels : int array, shape (n,)
        ``labels`` renumbered to index into ``slices`` (-1 stays -1).
    """
    from slicelens.slicing.base import Slice

    n_clusters = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    members, metrics = [], []
    for c in range(n_clusters):
        idx = np.flatnonzero(labels == c)
        idx = idx[np.argsort(-typicality[idx], kind="stable")]
        members.append(idx)
        metrics.append(slice_metrics(samples.iloc[idx], classes))
    order = rank_order(metrics)
    remap = np.full(n_clusters + 1, -1, dtype=np.int64)  # last entry maps -1 to -1
    remap[order] = np.arange(len(order))
    slices = []
    for rank, c in enumerate(order):
        m = metrics[c]
        slices.append(Slice(
            id=f"{prefix}-{rank:02d}", members=np.asarray(sample_ids)[members[c]],
            description=m["confusion_text"],
            metrics=m, polygon=None if polygons is None else polygons[c],
            evidence={} if evidence is None else evidence[c]))
    return slices, remap[labels]


def split_rows(samples: pd.DataFrame, split: str) -> np.ndarray:
    """Row positions of ``split`` in a run's sample table, shape (n_split,).

    Raises :class:`~slicelens.errors.DataError` naming the field when the split is empty.
    """
    from slicelens.errors import DataError

    rows = np.flatnonzero(samples["split"].to_numpy() == split)
    if len(rows) == 0:
        have = sorted(samples["split"].unique().tolist())
        raise DataError(f"no samples in split {split!r}; the run has {', '.join(have)}",
                        field="split")
    return rows


def best_match(slices, truth: set, k: int = 10) -> dict:
    """How well ranked slices recover a known group (for benchmarks and the demo).

    Parameters
    ----------
    slices : list of Slice
        Ranked (index 0 first), members most typical first.
    truth : set of str
        Sample ids of the ground-truth group (same split as the slices).
    k : int, default 10
        Top slices searched and top members per slice for precision-at-k.

    Returns
    -------
    dict with the best-F1 slice's ``f1``, ``precision``, ``recall`` and ``rank`` (None
    when no slice meets the group), and ``p_at_k``: over the ``k`` top-ranked slices,
    the best share of a slice's ``k`` most typical members that are in the group
    (Domino's dcbench precision-at-k, restricted to what a person looks at first).

    Examples
    --------
    >>> from slicelens.slicing.base import Slice
    >>> s = [Slice("a", ["x", "y", "z"]), Slice("b", ["u", "v"])]
    >>> m = best_match(s, {"u", "v", "x"}, k=2)
    >>> m["rank"], round(m["f1"], 3), m["p_at_k"]
    (1, 0.8, 1.0)
    """
    out: dict[str, Any] = {"f1": 0.0, "precision": 0.0, "recall": 0.0, "rank": None,
                           "p_at_k": 0.0}
    for rank, s in enumerate(slices):
        hits = np.array([m in truth for m in s.members], dtype=bool)
        if hits.any():
            p, r = hits.mean(), hits.sum() / len(truth)
            f1 = 2 * p * r / (p + r)
            if f1 > out["f1"]:
                out.update(f1=float(f1), precision=float(p), recall=float(r), rank=rank)
        if rank < k and len(hits):
            out["p_at_k"] = max(out["p_at_k"], float(hits[:k].mean()))
    return out
