"""Spuriousness propagation: a few human marks become a score for every slice.

AttributionScanner Sec. III-E(2) and Appendix A-IV: label spreading (Zhou et al.) on a
graph over the 2-D attribution layout, ``w_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))``,
``T = D^-1/2 W D^-1/2``, ``Y(t+1) = alpha T Y(t) + (1 - alpha) Y``, with scikit-learn's
``LabelSpreading`` at its default settings (``kernel="rbf"``, ``gamma=20``,
``alpha=0.2``, ``max_iter=30``), as the paper does.

Nodes are the samples the slicer was fitted on. Samples of slices marked ``spurious`` get
label 1, of slices marked ``core`` label 0, all others -1 (unlabeled). A slice's
spuriousness is the mean propagated ``P(spurious)`` of its members. A human mark always
overrides: a marked slice shows 1.0 (spurious) or 0.0 (core) with source ``"human"``.

Where slicelens departs from the paper, and why:

- **Layout scale.** UMAP coordinates have an arbitrary scale (tens of units), while
  ``gamma=20`` assumes unit-scale data; on raw coordinates a third of the samples of the
  demo get no label mass at all. The layout is therefore standardised first (centred,
  divided by its overall standard deviation, which keeps its shape); then the defaults
  apply unchanged (``sigma = 1/sqrt(2 gamma) ~ 0.16`` standard deviations).
- **Unreached samples.** A sample the graph gives no label mass gets NaN, not 0; a slice
  whose members are all unreached shows NaN (never an invented number).
- **Marks of one kind only.** Label spreading needs two classes to give probabilities
  (with one class every reached sample would be 1.0). With only spurious (only core)
  marks, the score is the *relative affinity* to the marked samples: the unnormalised
  label-spreading mass of the one class, divided by its maximum (for core-only marks,
  one minus it). It ranks slices by closeness to what was marked but is not a
  calibrated probability; the result says so in ``attrs["note"]``.
- **Wrong-labels marks** do not seed the propagation (they say nothing about
  spurious vs core); those slices keep their propagated score, and ``mark`` shows the
  human label.
- **Size.** Above ``max_samples`` fitted samples (a dense ``n x n`` kernel), the graph is
  built on a seeded random subset and the other samples get ``predict_proba``.

With no core/spurious mark at all, every unmarked slice gets NaN with source ``"none"``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

COLUMNS = ["slice_id", "spuriousness", "source", "mark"]


class PropagationParams(BaseModel):
    """Propagation settings: the method, and label spreading's (scikit-learn's defaults,
    as the paper uses them)."""

    method: Literal["distance", "label-spreading"] = Field(
        "distance", description="calibrated distances to the marked slices in the layout "
        "(ranks, does not saturate; slicelens.feedback.calibrated), or the paper's label "
        "spreading")
    kernel: Literal["rbf", "knn"] = Field("rbf", description="graph kernel")
    gamma: float = Field(20.0, gt=0, description="rbf kernel width on the standardised layout")
    n_neighbors: int = Field(7, ge=1, description="neighbours of the knn kernel")
    alpha: float = Field(0.2, gt=0, lt=1, description="clamping factor (share of propagated label)")
    max_iter: int = Field(30, ge=1, description="label-spreading iterations")
    max_samples: int = Field(4000, ge=10, description="graph nodes at most (a seeded subset above)")
    seed: int = Field(0, description="seed of the subset when there are more than max_samples")


def spuriousness(run: Run, slice_set, annotations, params: PropagationParams | None = None) -> pd.DataFrame:
    """Spuriousness per slice from human marks.

    Parameters
    ----------
    run : Run or None
        Not read (the layout lives in the slice set); kept so that the signature matches
        the other feedback functions.
    slice_set : SliceSet
        With ``layout`` (n_fit, 2), ``sample_ids`` (n_fit,) and ``labels`` (n_fit,).
    annotations : dict slice id -> Annotation, or list of Annotation
        The marks in force (see :func:`slicelens.feedback.slice_marks`), or any list of
        annotations (only active slice marks scoped to this slicer count, the one changed
        last per slice wins); a mark on a slice id absent from ``slice_set`` is an error.
    params : PropagationParams, optional

    Returns
    -------
    DataFrame
        One row per slice, in slice-set order: ``slice_id``, ``spuriousness`` (float in
        [0, 1] or NaN), ``source`` (``"human"``, ``"propagated"`` or ``"none"``), ``mark``
        (the human label or ``""``). ``attrs["note"]`` explains how the numbers were made.

    Examples
    --------
    >>> spuriousness(None, slice_set, {"attribution-03": ann})   # doctest: +SKIP
    """
    del run
    p = params or PropagationParams()
    marks = _marks_by_slice(annotations, slice_set)
    seed_labels = {sid: {"spurious": 1, "core": 0}[lab] for sid, lab in marks.items()
                   if lab in ("spurious", "core")}
    kinds = set(seed_labels.values())
    if not kinds:
        prob = np.full(len(slice_set.sample_ids), np.nan)
        note = "no core/spurious mark yet: nothing to propagate"
    else:
        layout = _standardised_layout(slice_set)
        y = np.full(len(layout), -1, dtype=np.int64)
        index = {s.id: i for i, s in enumerate(slice_set.slices)}
        for sid, lab in seed_labels.items():
            y[slice_set.labels == index[sid]] = lab
        if p.method == "distance":
            from slicelens.feedback.calibrated import distance_scores

            cents = np.array([layout[slice_set.labels == i].mean(axis=0)
                              for i in range(len(slice_set.slices)) if (slice_set.labels == i).any()])
            prob = distance_scores(layout, y == 1, y == 0, cents)
            note = ("calibrated distances to the marked slices in the standardised layout "
                    "(> 0.5: closer to a spurious mark than to a core mark)" if len(kinds) == 2
                    else "distance to the marked slices of one kind (> 0.5: within ~1.18 "
                    "median slice spacings of a spurious mark); mark the other kind too")
        elif len(kinds) == 2:
            prob = _spread(layout, y, p)
            note = "label spreading on the standardised 2-D layout (two classes)"
        else:
            aff = _one_class_affinity(layout, y >= 0, p)
            prob = aff if kinds == {1} else 1.0 - aff
            kind = "spurious" if kinds == {1} else "core"
            note = (f"only {kind} marks so far: scores are relative affinity to the marked "
                    "slices, not probabilities; mark a slice of the other kind to calibrate")
    rows = []
    for i, s in enumerate(slice_set.slices):
        mark = marks.get(s.id, "")
        if mark in ("spurious", "core"):
            rows.append((s.id, 1.0 if mark == "spurious" else 0.0, "human", mark))
            continue
        members = prob[slice_set.labels == i]
        finite = members[np.isfinite(members)]
        value = float(finite.mean()) if finite.size else float("nan")
        rows.append((s.id, value, "propagated" if kinds else "none", mark))
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs["note"] = note
    return out


def _marks_by_slice(annotations, slice_set) -> dict[str, str]:
    """Slice id -> label in force. A list may hold any annotations: only active slice marks
    of this slicer count, and the one changed last wins (as ``slice_marks``)."""
    if isinstance(annotations, dict):  # keyed by the slice each mark is in force on
        items = list(annotations.items())
    else:
        items = [(a.target_id, a) for a in sorted(
            (a for a in annotations if a.target_type == "slice"
             and a.scope == slice_set.slicer and a.status == "active"),
            key=lambda a: (a.updated_at, a.id))]
    known = {s.id for s in slice_set.slices}
    out = {}
    for sid, a in items:
        if sid not in known:
            raise SliceLensError(f"mark {a.id} is on slice {sid!r}, which the "
                                 f"{slice_set.slicer!r} slice set does not have")
        out[sid] = a.label
    return out


def _standardised_layout(slice_set) -> np.ndarray:
    if slice_set.layout is None:
        raise SliceLensError(f"slice set {slice_set.slicer!r} has no 2-D layout; spuriousness "
                             "propagation needs one (use a slicer with a layout, e.g. attribution)")
    xy = np.asarray(slice_set.layout, dtype=np.float64)
    if xy.ndim != 2 or xy.shape != (len(slice_set.sample_ids), 2):
        raise SliceLensError(f"layout of {slice_set.slicer!r} has shape {xy.shape}, expected "
                             f"({len(slice_set.sample_ids)}, 2)")
    xy = xy - xy.mean(axis=0)
    scale = xy.std()
    return xy / scale if scale > 0 else xy


def _node_subset(n: int, seeds: np.ndarray, p: PropagationParams) -> np.ndarray:
    """Graph nodes: all samples, or a seeded subset of ``max_samples`` plus every seed."""
    if n <= p.max_samples:
        return np.arange(n)
    pick = np.random.default_rng(p.seed).choice(n, p.max_samples, replace=False)
    return np.union1d(pick, np.flatnonzero(seeds))


def _affinity(a: np.ndarray, b: np.ndarray, p: PropagationParams):
    """Kernel between rows of ``a`` (n_a, 2) and ``b`` (n_b, 2), as LabelSpreading builds it."""
    if p.kernel == "rbf":
        from sklearn.metrics.pairwise import rbf_kernel

        return rbf_kernel(a, b, gamma=p.gamma)
    from sklearn.neighbors import NearestNeighbors

    k = min(p.n_neighbors, len(b))
    return NearestNeighbors(n_neighbors=k).fit(b).kneighbors_graph(a, k, mode="connectivity")


def _extend(nodes_xy: np.ndarray, values: np.ndarray, xy: np.ndarray,
            p: PropagationParams) -> np.ndarray:
    """Kernel-weighted mean of node ``values`` (n_nodes, c) at new points ``xy`` (n, 2).

    What ``LabelSpreading.predict_proba`` does for unseen samples, before normalising;
    rows with zero kernel weight give NaN.
    """
    out = np.full((len(xy), values.shape[1]), np.nan)
    for chunk in np.array_split(np.arange(len(xy)), max(1, len(xy) // 2000)):
        w = _affinity(xy[chunk], nodes_xy, p)
        num = np.asarray(w @ values)
        tot = np.asarray(w.sum(axis=1)).reshape(-1, 1)
        out[chunk] = np.where(tot > 0, num / np.where(tot > 0, tot, 1), np.nan)
    return out


def _spread(layout: np.ndarray, y: np.ndarray, p: PropagationParams) -> np.ndarray:
    """P(spurious) per sample, shape (n,); NaN where the graph gives no label mass."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.semi_supervised import LabelSpreading

    nodes = _node_subset(len(layout), y >= 0, p)
    ls = LabelSpreading(kernel=p.kernel, gamma=p.gamma, n_neighbors=p.n_neighbors,
                        alpha=p.alpha, max_iter=p.max_iter)
    with warnings.catch_warnings():  # not converging in max_iter is the paper's setting
        warnings.simplefilter("ignore", ConvergenceWarning)
        ls.fit(layout[nodes], y[nodes])
    dist = ls.label_distributions_  # rows sum to 1, or 0 when no label mass arrived
    prob = np.full(len(layout), np.nan)
    reached = dist.sum(axis=1) > 0
    col = list(ls.classes_).index(1)
    prob[nodes[reached]] = dist[reached, col]
    rest = np.setdiff1d(np.arange(len(layout)), nodes)
    if len(rest):
        ext = _extend(layout[nodes], dist, layout[rest], p)
        tot = ext.sum(axis=1)
        prob[rest] = np.where(tot > 0, ext[:, col] / np.where(tot > 0, tot, 1), np.nan)
    return prob


def _one_class_affinity(layout: np.ndarray, seeds: np.ndarray, p: PropagationParams) -> np.ndarray:
    """Relative label-spreading mass of the one marked class, shape (n,), in [0, 1].

    The iteration of Appendix A-IV on LabelSpreading's graph ``S = D^-1/2 W D^-1/2``
    (zero diagonal), ``F(t+1) = alpha S F(t) + (1 - alpha) Y``, without the final row
    normalisation (which would make every reached sample 1.0); then ``F / max F``.
    """
    from scipy.sparse import csgraph, issparse

    nodes = _node_subset(len(layout), seeds, p)
    xy = layout[nodes]
    w = _affinity(xy, xy, p)
    s = -csgraph.laplacian(w, normed=True)
    if issparse(s):
        s = s.tolil()
        s.setdiag(0.0)
        s = s.tocsr()
    else:
        np.fill_diagonal(s, 0.0)
    y0 = (1 - p.alpha) * seeds[nodes].astype(np.float64)
    f = seeds[nodes].astype(np.float64)
    for _ in range(p.max_iter):
        f = p.alpha * np.asarray(s @ f).ravel() + y0
    aff = np.full(len(layout), np.nan)
    aff[nodes] = f / f.max()
    rest = np.setdiff1d(np.arange(len(layout)), nodes)
    if len(rest):
        aff[rest] = _extend(xy, aff[nodes, None], layout[rest], p)[:, 0]
    return aff


def current_spuriousness(workspace: Workspace, run: Run, slicer: str,
                         params: PropagationParams | None = None) -> pd.DataFrame:
    """:func:`spuriousness` from the stored slice set and the marks in force now."""
    from slicelens.feedback.annotations import slice_marks
    from slicelens.slicing.base import SliceSet

    return spuriousness(run, SliceSet.load(run.path, slicer), slice_marks(workspace, run, slicer),
                        params)


def with_slice_metrics(table: pd.DataFrame, slice_set) -> pd.DataFrame:
    """``table`` plus each slice's ``size``, ``accuracy`` and ``description`` (for display)."""
    meta = pd.DataFrame([{"slice_id": s.id, "size": s.metrics.get("size", s.size),
                          "accuracy": s.metrics.get("accuracy", float("nan")),
                          "description": s.description} for s in slice_set.slices])
    out = table.merge(meta, on="slice_id", how="left")
    out.attrs.update(table.attrs)
    return out
