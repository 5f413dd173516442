"""Slicing at scale: fit the 2-D layout on a sample, place every other sample in it.

UMAP and K-Means over every validation sample do not fit one machine at 10^6 samples of
1,280-d features (the k-NN graph alone is 10^12 distances). So the attribution slicer
(``fit_sample``) fits UMAP and K-Means on a random sample of the fit split, and
:class:`KnnPlacer` places the rest, chunk by chunk from the memory-mapped ``fw`` array:

1. PCA (fitted on the sample, ``dim`` components) makes the k-NN search cheap;
2. each new vector goes to the inverse-distance-weighted mean of the 2-D coordinates of
   its ``k`` nearest sample vectors. This is how UMAP's own ``transform`` initialises new
   points (before its extra optimisation epochs, which at 10^6 points would cost more
   than the fit and move points little relative to K-Means cells);
3. its slice is the nearest K-Means centre in the 2-D space (the Voronoi cell the hulls
   are drawn from), within its confusion cell when the slicer segregates by cell.

Memory stays at one chunk of features plus the sample: ``chunk`` rows of ``fw`` are read
at a time, never the whole array.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 16)).astype(np.float32)
>>> coords = X[:, :2] * 3
>>> placer = KnnPlacer(k=5, dim=8).fit(X, coords)
>>> np.allclose(placer.place(X[:3]), coords[:3], atol=1e-3)  # a fitted point lands on itself
True
"""

from __future__ import annotations

import numpy as np


class KnnPlacer:
    """Place vectors in a 2-D layout fitted on a sample (PCA + weighted k-NN mean).

    Parameters
    ----------
    k : int, default 10
        Nearest sample points per new point.
    dim : int, default 64
        PCA components for the neighbour search (no PCA when the vectors have fewer).
    chunk : int, default 20000
        Rows read and placed at a time.
    seed : int, default 0
    """

    def __init__(self, k: int = 10, dim: int = 64, chunk: int = 20_000, seed: int = 0):
        self.k, self.dim, self.chunk, self.seed = k, dim, chunk, seed

    def fit(self, X: np.ndarray, coords: np.ndarray) -> KnnPlacer:
        """``X`` (n, d) the sample's vectors, ``coords`` (n, 2) their fitted layout."""
        from sklearn.decomposition import PCA
        from sklearn.neighbors import NearestNeighbors

        X = np.asarray(X, np.float32)
        self.pca_ = (PCA(n_components=self.dim, random_state=self.seed).fit(X)
                     if X.shape[1] > self.dim else None)
        Z = self._reduce(X)
        self.k_ = min(self.k, len(X))
        self.nn_ = NearestNeighbors(n_neighbors=self.k_, algorithm="brute").fit(Z)
        self.coords_ = np.asarray(coords, np.float64)
        return self

    def _reduce(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float32)
        return X if self.pca_ is None else self.pca_.transform(X).astype(np.float32)

    def place(self, X, rows: np.ndarray | None = None) -> np.ndarray:
        """2-D coordinates (m, 2) float32 of ``X[rows]`` (``X`` may be a memory map;
        it is read ``chunk`` rows at a time)."""
        rows = np.arange(len(X)) if rows is None else np.asarray(rows)
        out = np.empty((len(rows), 2), np.float32)
        for s in range(0, len(rows), self.chunk):
            part = rows[s:s + self.chunk]
            dist, idx = self.nn_.kneighbors(self._reduce(X[part]))  # rows in order: fast reads
            w = 1.0 / np.maximum(dist, 1e-6)
            out[s:s + len(part)] = (self.coords_[idx] * w[..., None]).sum(1) / w.sum(1, keepdims=True)
        return out


def nearest_centre(coords: np.ndarray, cells: np.ndarray, centres: np.ndarray,
                   cell_of: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """Index of the nearest of ``centres`` (K, 2) within each point's cell (-1 when its
    cell has no centre, e.g. an unlabeled sample under segregation), chunk by chunk."""
    out = np.empty(len(coords), np.int64)
    for s in range(0, len(coords), chunk):
        c, cl = coords[s:s + chunk], cells[s:s + chunk]
        d = np.linalg.norm(c[:, None, :] - centres[None], axis=2)
        d[cl[:, None] != cell_of[None, :]] = np.inf
        best = d.argmin(1)
        best[~np.isfinite(d.min(1))] = -1
        out[s:s + chunk] = best
    return out
