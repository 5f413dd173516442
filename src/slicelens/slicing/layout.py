"""The 2-D representation space: UMAP fitted on one split, able to place other splits.

AttributionScanner (Sec. III-D(2)) projects the attribution-weighted feature vectors F_W
to 2-D with UMAP (McInnes et al. 2018) and does everything else there: K-Means slices,
convex-hull mosaic tiles, label spreading. Its case studies use ``n_components=2`` with
``n_neighbors=20, min_dist=0.05`` (Waterbirds, Sec. IV-B) and ``n_neighbors=5,
min_dist=0.01`` (CelebA, Sec. IV-A); the demo data is Waterbirds-like, so the Waterbirds
values are the defaults. The paper names no metric; UMAP's default (euclidean) is ours.

Departure, for speed only: the neighbour graph is computed exactly with scikit-learn
(BLAS distances) and handed to UMAP as a sparse ``metric="precomputed"`` matrix. The
result is UMAP's own algorithm on the same exact k-NN graph UMAP builds itself for small
data, but (a) ``transform`` of 5,000 points takes seconds instead of ~40 s (UMAP's
small-data transform calls a numba metric once per pair through scikit-learn, 10^7
Python calls) and (b) pynndescent is never compiled. ``n_epochs`` defaults to 200
(UMAP's own value above 10,000 points) instead of 500 below it.

Cost: numba compiles UMAP's layout code on the first call in a process (about 15-25 s on
a shared 2-core machine, ~5 s more for the first ``transform``); later calls take about
1.5 s to fit 1,000 points and 4 s to place 5,000 more.

Example
-------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
>>> lay = UmapLayout(n_neighbors=10, seed=0).fit(X)      # doctest: +SKIP
>>> lay.embedding_.shape, lay.transform(X[:5]).shape      # doctest: +SKIP
((60, 2), (5, 2))
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp

from slicelens.errors import DataError, NotFittedError

MIN_POINTS = 5


class UmapLayout:
    """UMAP to 2-D on an exact k-nearest-neighbour graph.

    Parameters
    ----------
    n_neighbors : int, default 20
        UMAP's local neighbourhood size (capped at ``n - 1``).
    min_dist : float, default 0.05
    metric : {"euclidean", "cosine"}, default "euclidean"
        Distance between the input vectors.
    n_epochs : int, default 200
        Layout optimisation epochs (``transform`` uses a third, as UMAP does).
    seed : int, default 0
        UMAP's ``random_state`` (also fixes ``transform``).

    Attributes
    ----------
    embedding_ : ndarray, shape (n, 2), float32
        Coordinates of the fitted vectors.
    """

    def __init__(self, n_neighbors: int = 20, min_dist: float = 0.05,
                 metric: Literal["euclidean", "cosine"] = "euclidean", n_epochs: int = 200,
                 seed: int = 0):
        self.n_neighbors, self.min_dist, self.metric = n_neighbors, min_dist, metric
        self.n_epochs, self.seed = n_epochs, seed

    def fit(self, X: np.ndarray) -> UmapLayout:
        """Fit on ``X`` of shape (n, d); returns self."""
        import umap
        from sklearn.neighbors import NearestNeighbors

        X = np.ascontiguousarray(X, dtype=np.float32)
        if len(X) < MIN_POINTS:
            raise DataError(f"a 2-D layout needs at least {MIN_POINTS} samples, got {len(X)}")
        self.k_ = min(self.n_neighbors, len(X) - 1)
        self.nn_ = NearestNeighbors(n_neighbors=self.k_, metric=self.metric,
                                    algorithm="brute").fit(X)
        graph = self._graph(X, exclude_self=True)
        graph = graph.maximum(graph.T).tocsr()  # UMAP wants a symmetric matrix
        self.umap_ = umap.UMAP(n_neighbors=self.k_, min_dist=self.min_dist, n_components=2,
                               metric="precomputed", n_epochs=self.n_epochs,
                               random_state=self.seed, transform_seed=self.seed, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "precomputed: inverse_transform unavailable"
            self.embedding_ = self.umap_.fit_transform(graph).astype(np.float32)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Place new vectors ``X`` (m, d) in the fitted layout; returns (m, 2) float32."""
        if not hasattr(self, "umap_"):
            raise NotFittedError("UmapLayout is not fitted yet; call fit(X) first")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if len(X) == 0:
            return np.zeros((0, 2), np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "transforming with a precomputed metric"
            return self.umap_.transform(self._graph(X, exclude_self=False)).astype(np.float32)

    def _graph(self, X: np.ndarray, exclude_self: bool) -> sp.csr_matrix:
        """Sparse (len(X), n_fit) matrix of each row's k nearest fitted points' distances.

        With ``exclude_self`` (X is the fitted set) each row drops itself; a row whose
        exact duplicate came first keeps k+1 neighbours, which UMAP accepts.
        """
        k = self.k_ + int(exclude_self)
        dist, idx = self.nn_.kneighbors(X, n_neighbors=k)
        rows = np.repeat(np.arange(len(X)), k)
        cols, dist = idx.ravel(), dist.ravel()
        keep = rows != cols if exclude_self else np.ones(len(rows), bool)
        # an exact duplicate is at distance 0, which a sparse matrix would drop
        dist = np.maximum(dist, 1e-6)
        return sp.csr_matrix((dist[keep], (rows[keep], cols[keep])),
                             shape=(len(X), self.nn_.n_samples_fit_))
