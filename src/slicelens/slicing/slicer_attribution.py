"""AttributionScanner's metadata-free slices (Sec. III-D(2), App. A-II).

1. UMAP projects the attribution-weighted feature vectors F_W (Eq. 1, computed at
   extraction) of the fit split to 2-D: the "attribution representation space".
2. K-Means partitions that 2-D space. Over-clustering as in the paper (and Domino): start
   with ``min_clusters`` and add ``step`` clusters until every slice's attribution
   consistency C_S (Eq. A3-A4: mean cosine of the members' F_W to their centroid) reaches
   ``threshold`` (0.8 in the paper), or ``max_clusters`` is reached (then
   ``evidence["threshold_reached"]`` is False).
3. Each slice gets its convex hull in the 2-D space (the mosaic tile), its metrics and a
   description; slices are ranked by the Wilson upper bound of their accuracy.

Choices the paper leaves open, and ours:

* K-Means runs on the 2-D UMAP coordinates, not on F_W: the paper clusters "on top of
  the attribution representation space" and relies on K-Means' Voronoi cells in that
  space for non-overlapping convex hulls (Sec. III-E), which only holds if both live in
  the same 2-D space. Consistency is still measured on F_W, as Eq. A4 says.
* Where to start: ReLU features are non-negative, so cosines are high and on the demo
  data two clusters already pass 0.8 (one cluster gives 0.76). The paper's case studies
  use 46-50 clusters; ``min_clusters`` (default 24) sets the resolution and the
  threshold only adds clusters where attributions are still mixed.
* Small slices are kept, never merged into a neighbour (the paper insists rare slices
  stay visible). Slices below ``min_size`` members are exempt from the threshold check:
  their centroid consistency says little (one member always scores 1).
* ``assign`` places another split's samples with UMAP's ``transform`` and gives each
  the nearest K-Means centroid in the same 2-D space.
* Scale: a fit split larger than ``fit_sample`` (default 20,000) is sliced on a random
  sample of that size (UMAP, K-Means, consistency); every other sample is placed in the
  layout and given its nearest centre by :mod:`slicelens.slicing.placement`, reading the
  memory-mapped F_W a chunk at a time. ``evidence["fitted"]`` / ``["placed"]`` say how
  many of each; below the sample size nothing changes.
* ``segregate="confusion"`` (off by default) clusters each (label, prediction) cell of
  the confusion matrix apart, in the same 2-D layout, with the clusters shared among
  cells in proportion to their sizes. The paper shows its mosaic "segregated by the
  model's confusion matrix" (Fig. 2E); doing the same when slicing makes every slice
  pure in label and prediction. Hulls of different cells may then overlap in the
  shared layout, and samples without a label (the pool) are assigned to no slice (-1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from slicelens.slicing.base import Slicer, register_slicer
from slicelens.slicing.consistency import attribution_consistency
from slicelens.slicing.layout import UmapLayout
from slicelens.slicing.metrics import build_slices, split_rows
from slicelens.slicing.placement import KnnPlacer, nearest_centre

if TYPE_CHECKING:
    from slicelens.store.run import Run


class AttributionParams(BaseModel):
    """Parameters of the attribution slicer (defaults: the paper's, see module doc)."""

    model_config = ConfigDict(extra="forbid")

    n_neighbors: int = Field(20, ge=2, description="UMAP n_neighbors (paper, Waterbirds: 20)")
    min_dist: float = Field(0.05, ge=0, le=1, description="UMAP min_dist (paper, Waterbirds: 0.05)")
    metric: Literal["euclidean", "cosine"] = Field("euclidean", description="UMAP input metric")
    n_epochs: int = Field(200, ge=10, description="UMAP layout epochs")
    threshold: float = Field(0.8, ge=0, le=1,
                             description="attribution consistency every slice must reach (App. A-II)")
    min_clusters: int = Field(24, ge=2, description="K-Means clusters to start from")
    step: int = Field(4, ge=1, description="clusters added per over-clustering round")
    max_clusters: int = Field(96, ge=2, description="stop over-clustering here")
    min_size: int = Field(5, ge=1,
                          description="slices smaller than this are kept but exempt from the threshold")
    segregate: Literal["none", "confusion"] = Field(
        "none", description="none: one clustering (the paper's unified mosaic); confusion: "
                            "cluster each (label, prediction) cell apart (the paper's Fig. 2E view)")
    seed: int = Field(0, description="random seed of UMAP and K-Means")
    fit_sample: int = Field(20_000, ge=100, description="fit UMAP and K-Means on a random "
                            "sample of this many samples; place the rest (for large runs)")


@register_slicer("attribution")
class AttributionSlicer(Slicer):
    """K-Means over-clustering of the UMAP 2-D attribution space (AttributionScanner).

    Examples
    --------
    >>> from slicelens.store import Workspace                               # doctest: +SKIP
    >>> run = Workspace("ws", create=False).latest_run()                    # doctest: +SKIP
    >>> s = AttributionSlicer(min_clusters=16).fit(run, split="val")        # doctest: +SKIP
    >>> s.slices_[0].description, s.assign(run, "test").shape               # doctest: +SKIP
    """

    p_: AttributionParams  # the validated parameters (set in __init__/fit)
    Params = AttributionParams
    requires = ("fw",)

    def _fit(self, run: Run, split: str) -> None:
        p = self.p_
        samples = run.samples
        rows = split_rows(samples, split)
        fw_all = run.array("fw")  # memory-mapped: read by rows, never whole
        fit = np.arange(len(rows))
        if len(rows) > p.fit_sample:
            rng = np.random.default_rng(p.seed)
            fit = np.sort(rng.choice(len(rows), p.fit_sample, replace=False))
        fw = np.asarray(fw_all[rows[fit]], dtype=np.float32)
        self.layout_model_ = UmapLayout(p.n_neighbors, p.min_dist, p.metric, p.n_epochs,
                                        p.seed).fit(fw)
        coords = self.layout_model_.embedding_
        all_cells = self._cells(samples.iloc[rows], len(run.classes))
        cells = all_cells[fit]
        k = min(p.min_clusters, len(fit))
        trace = []
        while True:
            labels, centres, cell_of = _kmeans_by_cell(coords, cells, k, p.seed)
            n_clusters = len(centres)
            cons = attribution_consistency(fw, labels, n_clusters)
            sizes = np.bincount(labels, minlength=n_clusters)
            checked = cons[sizes >= p.min_size]
            worst = float(checked.min()) if checked.size else 1.0
            trace.append({"k": n_clusters, "min_consistency": worst})
            if worst >= p.threshold or k >= min(p.max_clusters, len(fit)):
                break
            k = min(k + p.step, p.max_clusters, len(fit))
        self.placer_ = None
        if len(fit) < len(rows):  # place the rest in the sample's layout and cells
            self.placer_ = KnnPlacer(seed=p.seed).fit(fw, coords)
            rest = np.setdiff1d(np.arange(len(rows)), fit)
            full = np.empty((len(rows), 2), np.float32)
            full[fit], full[rest] = coords, self.placer_.place(fw_all, rows[rest])
            full_labels = np.empty(len(rows), np.int64)
            full_labels[fit] = labels
            full_labels[rest] = nearest_centre(full[rest], all_cells[rest], centres, cell_of)
            coords, labels = full, full_labels
            sizes = np.bincount(labels[labels >= 0], minlength=n_clusters)
        typicality = np.where(labels >= 0, -np.linalg.norm(coords - centres[labels], axis=1),
                              -np.inf)
        polygons = [hull_polygon(coords[labels == c], coords) for c in range(n_clusters)]
        evidence = [{"consistency": float(cons[c]), "centroid": centres[c].tolist(),
                     "small": bool(sizes[c] < p.min_size), "fitted": int(len(fit)),
                     "placed": int(len(rows) - len(fit))} for c in range(n_clusters)]
        slices, ranked = build_slices(self.name, samples["id"].to_numpy()[rows], labels,
                                      typicality, samples.iloc[rows], run.classes,
                                      polygons, evidence)
        self.slices_, self.labels_ = slices, ranked
        self.sample_ids_ = samples["id"].to_numpy(str)[rows]
        self.layout_ = coords
        order = np.empty(n_clusters, np.int64)
        used, first = np.unique(labels, return_index=True)
        order[ranked[first[used >= 0]]] = used[used >= 0]
        self.centres_, self.cell_of_ = centres[order], cell_of[order]
        self.trace_ = trace
        self.threshold_reached_ = worst >= p.threshold
        for s in slices:
            s.evidence.update(n_clusters=n_clusters, threshold_reached=self.threshold_reached_)

    def _assign(self, run: Run, split: str) -> np.ndarray:
        rows = split_rows(run.samples, split)
        if self.placer_ is not None:  # a large run: place by the sample, a chunk at a time
            coords = self.placer_.place(run.array("fw"), rows)
        else:
            coords = self.layout_model_.transform(np.asarray(run.array("fw")[rows], np.float32))
        cells = self._cells(run.samples.iloc[rows], len(run.classes))
        # -1: a cell the fit split did not have (e.g. unlabeled under segregation)
        return nearest_centre(coords, cells, self.centres_, self.cell_of_)

    def _cells(self, samples, n_classes: int) -> np.ndarray:
        """Cell per sample: 0 for all (unified), else ``label * C + pred`` (-1 unlabeled)."""
        if self.p_.segregate == "none":
            return np.zeros(len(samples), np.int64)
        label = samples["label"].to_numpy(np.int64)
        return np.where(label >= 0, label * n_classes + samples["pred"].to_numpy(np.int64), -1)


def _kmeans_by_cell(coords: np.ndarray, cells: np.ndarray, k: int, seed: int):
    """K-Means on the 2-D coordinates within each cell, ``k`` clusters shared in
    proportion to the cells' sizes (at least one per cell).

    Returns
    -------
    labels : int array (n,); centres : (K, 2); cell_of : int array (K,)
    """
    from sklearn.cluster import KMeans

    labels = np.empty(len(coords), np.int64)
    centres: list[np.ndarray] = []
    cell_of: list[int] = []
    for cell in np.unique(cells):
        idx = np.flatnonzero(cells == cell)
        k_cell = int(min(len(idx), max(1, round(k * len(idx) / len(coords)))))
        km = KMeans(n_clusters=k_cell, n_init=4, random_state=seed).fit(coords[idx])
        labels[idx] = km.labels_ + len(centres)
        centres.extend(km.cluster_centers_)
        cell_of.extend([cell] * k_cell)
    return labels, np.asarray(centres, np.float64), np.asarray(cell_of, np.int64)


def hull_polygon(points: np.ndarray, all_points: np.ndarray) -> list[list[float]]:
    """Convex hull of a slice's 2-D points, counter-clockwise, as ``[[x, y], ...]``.

    Fewer than 3 points, or collinear ones, have no 2-D hull: they get the box around
    them padded by 1% of the whole layout's extent (so the tile stays visible).

    Parameters
    ----------
    points : ndarray, shape (N, 2)
    all_points : ndarray, shape (n, 2)
        The whole layout (for the padding scale).
    """
    from scipy.spatial import ConvexHull, QhullError

    points = np.asarray(points, np.float64)
    if len(points) >= 3:
        try:
            return points[ConvexHull(points).vertices].tolist()
        except QhullError:
            pass  # collinear or duplicate points: fall through to the box
    pad = 0.01 * float(np.ptp(all_points, axis=0).max() or 1.0)
    (x0, y0), (x1, y1) = points.min(0) - pad, points.max(0) + pad
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
