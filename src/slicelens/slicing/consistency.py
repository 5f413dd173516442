"""Consistency measures of AttributionScanner's Appendix A-I and A-II.

* Slice attribution consistency (App. A-II, Eq. A3-A4): the mean cosine similarity of
  each member's attribution-weighted feature vector ``F_W`` to the slice centroid
  ``S^c = mean_j F_W^j``; the attribution slicer over-clusters until every slice reaches
  a threshold (0.8 in the paper).
* Neighbour consistency of a 2-D representation space (App. A-I, Fig. 4): for each point,
  the mean over its 10 nearest neighbours in the space of the cosine similarity of the
  original pooled features ``F`` (Eq. A1) and of ``1 / W(M_i, M_j)``, the inverse
  Wasserstein distance between the attribution masks (Eq. A2).

Wasserstein distance: the paper does not say how masks become distributions. Here each
``(m, k)`` map (summing to 1, as the run stores it) is a distribution of mass over the
grid cells' centres, placed in the unit square (cell ``(i, j)`` at
``((i + .5) / m, (j + .5) / k)``), and W is the exact 2-D earth mover's distance with
euclidean ground distance (POT's network simplex, ``ot.emd2``). A distance of 0.1 means
the attribution mass moved on average a tenth of the image side. We do not use
``scipy.stats.wasserstein_distance`` on the flattened maps: that treats the map values
as samples of a 1-D distribution, so two maps with the same histogram at opposite
corners would be at distance 0. ``W`` is floored at ``1e-6`` so identical maps give a
finite similarity; means are therefore also reported as the mean distance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slicelens.utils import progress

W_FLOOR = 1e-6


def _unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    norm = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.where(norm > 0, norm, 1.0)


def slice_consistency(fw: np.ndarray) -> float:
    """Attribution consistency ``C_S`` of one slice (App. A-II, Eq. A3-A4).

    Parameters
    ----------
    fw : ndarray, shape (N, d)
        The members' attribution-weighted feature vectors, N >= 1.

    Returns
    -------
    float
        ``mean_j cos(F_W^j, S^c)`` with ``S^c = mean_j F_W^j``; 1.0 for one member.

    Examples
    --------
    >>> round(slice_consistency(np.array([[1.0, 0.0], [0.0, 1.0]])), 4)   # cos 45 deg
    0.7071
    """
    fw = np.asarray(fw, dtype=np.float64)
    if fw.ndim != 2 or len(fw) == 0:
        raise ValueError(f"fw must be (N, d) with N >= 1, got shape {fw.shape}")
    centroid = fw.mean(axis=0)
    return float((_unit_rows(fw) @ _unit_rows(centroid)).mean())


def attribution_consistency(fw: np.ndarray, labels: np.ndarray, n_slices: int) -> np.ndarray:
    """``C_S`` of every slice of a partition.

    Parameters
    ----------
    fw : ndarray, shape (n, d)
    labels : int array, shape (n,)
        Slice index per sample in ``0 .. n_slices - 1`` (-1 = in no slice, ignored).
    n_slices : int

    Returns
    -------
    ndarray, shape (n_slices,)
        NaN for an empty slice.
    """
    labels = np.asarray(labels)
    out = np.full(n_slices, np.nan)
    for c in range(n_slices):
        members = labels == c
        if members.any():
            out[c] = slice_consistency(fw[members])
    return out


def grid_cost(shape: tuple[int, int]) -> np.ndarray:
    """Euclidean distances between the cell centres of an ``(m, k)`` grid in the unit
    square, shape (m*k, m*k)."""
    m, k = shape
    ii, jj = np.meshgrid((np.arange(m) + 0.5) / m, (np.arange(k) + 0.5) / k, indexing="ij")
    pos = np.stack([ii.ravel(), jj.ravel()], axis=1)
    return np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))


def map_distance(a: np.ndarray, b: np.ndarray, cost: np.ndarray | None = None) -> float:
    """2-D earth mover's distance between two attribution maps of shape (m, k).

    Each map is renormalised to sum 1 (stored maps are float16). ``cost`` is
    :func:`grid_cost` of the shape (computed when omitted).

    Examples
    --------
    >>> a = np.zeros((2, 2)); a[0, 0] = 1
    >>> b = np.zeros((2, 2)); b[0, 1] = 1
    >>> map_distance(a, b)     # one cell = half the unit side
    0.5
    """
    try:
        import ot
    except ImportError:
        from slicelens.errors import SliceLensError

        raise SliceLensError("the earth mover's distance between maps needs POT: "
                             "pip install 'slicelens[diagnostics]'") from None

    cost = grid_cost(np.shape(a)) if cost is None else cost
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(ot.emd2(a / a.sum(), b / b.sum(), cost))


def neighbour_consistency(coords: np.ndarray, features: np.ndarray, maps: np.ndarray,
                          k: int = 10, points: np.ndarray | None = None) -> pd.DataFrame:
    """Local consistency of features (Eq. A1) and attributions (Eq. A2) in a 2-D space.

    Parameters
    ----------
    coords : ndarray, shape (n, 2)
        The representation space (e.g. a UMAP layout).
    features : ndarray, shape (n, d)
        Original pooled feature vectors ``F``.
    maps : ndarray, shape (n, m, k)
        Attribution masks, each summing to 1.
    k : int, default 10
        Neighbours per point (the paper's top 10).
    points : int array, optional
        Indices of the points to evaluate (default: all ``n``).

    Returns
    -------
    DataFrame, one row per evaluated point: ``index``, ``feature_similarity`` (mean cosine
    to its k neighbours), ``attribution_distance`` (mean W) and
    ``attribution_similarity`` (mean 1/W).
    """
    from sklearn.neighbors import NearestNeighbors

    coords = np.asarray(coords, np.float64)
    n = len(coords)
    points = np.arange(n) if points is None else np.asarray(points)
    k = min(k, n - 1)
    _, nbrs = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords[points])
    # only the evaluated points and their neighbours are read (features may be memory-mapped)
    needed = np.unique(np.concatenate([points, nbrs.ravel()]))
    unit = _unit_rows(np.asarray(features[needed]))
    at = np.full(n, -1, np.int64)
    at[needed] = np.arange(len(needed))
    cost = grid_cost(maps.shape[1:])
    rows = []
    for p, row in progress(zip(points, nbrs, strict=True), total=len(points),
                           desc="neighbour consistency"):
        row = row[row != p][:k]
        dist = np.array([map_distance(maps[p], maps[q], cost) for q in row])
        sim = unit[at[row]] @ unit[at[p]]
        rows.append({"index": int(p), "feature_similarity": float(sim.mean()),
                     "attribution_distance": float(dist.mean()),
                     "attribution_similarity": float((1.0 / np.maximum(dist, W_FLOOR)).mean())})
    return pd.DataFrame(rows)


def compare_spaces(spaces: dict[str, np.ndarray], features: np.ndarray, maps: np.ndarray,
                   k: int = 10, n_points: int | None = 300, seed: int = 0) -> pd.DataFrame:
    """The paper's Fig. 4 numbers for several 2-D spaces of the same samples.

    Parameters
    ----------
    spaces : dict name -> ndarray (n, 2)
        E.g. ``{"feature space (F)": ..., "attribution space (F_W)": ...}``.
    features : ndarray (n, d); maps : ndarray (n, m, k)
    k : int
    n_points : int, optional
        Evaluate this many random points (the same in every space); None = all.
    seed : int

    Returns
    -------
    DataFrame with one row per space: ``space, feature_similarity,
    attribution_similarity, attribution_distance, n_points``.
    """
    n = len(features)
    points = np.arange(n)
    if n_points is not None and n_points < n:
        points = np.sort(np.random.default_rng(seed).choice(n, n_points, replace=False))
    rows = []
    for name, coords in spaces.items():
        per = neighbour_consistency(coords, features, maps, k=k, points=points)
        rows.append({"space": name,
                     "feature_similarity": float(per["feature_similarity"].mean()),
                     "attribution_similarity": float(per["attribution_similarity"].mean()),
                     "attribution_distance": float(per["attribution_distance"].mean()),
                     "n_points": len(points)})
    return pd.DataFrame(rows)
