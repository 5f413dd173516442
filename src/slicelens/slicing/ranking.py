"""A top 10 that covers each failure: redundancy-aware ranking of slices.

The Wilson order of :mod:`slicelens.slicing.metrics` ranks each slice on its own, so a
failure that a mixture splits into several components (one spurious group cut in four)
fills the top of the table with copies of itself and pushes other failures (a rare
case, a flipped digit) past the 10 slices a person looks at first. This module ranks by
**maximal marginal relevance** (MMR; Carbonell & Goldstein, "The use of MMR,
diversity-based reranking for reordering documents and producing summaries", SIGIR
1998, Eq. 1): slices are picked greedily, each time the one maximising

    MMR(i) = lam * rel(i) - (1 - lam) * max_{j picked} sim(i, j)

* ``rel(i) = 1 - acc_high(i)``: the lower end of the Wilson 95% interval of the slice's
  error rate (the key of the plain order, so with ``lam = 1`` MMR gives the Wilson
  order back);
* ``sim(i, j)`` in [0, 1]: how connected the two slices are in the space they were
  clustered in, as the share of k-nearest-neighbour edges between them (the
  *interconnectivity* of Chameleon, Karypis, Han & Kumar, IEEE Computer 1999, used
  there to decide whether two sub-clusters are one cluster):
  ``sim(i, j) = max(E_ij / E_i, E_ji / E_j)`` where ``E_ij`` counts the edges from
  members of ``i`` to their ``k`` nearest samples that land in ``j`` and ``E_i`` all
  edges leaving members of ``i``. Two components that cut one group share many edges
  (the measure is high); two separate failures share none (0).

Slices without evidence of failure (``rel = 0``: the Wilson interval of their error rate
reaches 0) are not diversified: they follow in the plain order (largest first), since
a spread of slices where the model does not fail says nothing about its failures.
``first`` (optional) splits the slices into two tiers ranked one after the other (the
error-aware slicer's bug slices before the rest, HiBug's bug-slice definition); the
similarity to slices already picked carries over from the first tier to the second.
``lam = 0.5`` (equal weight) was fixed before any measurement, not tuned.
"""

from __future__ import annotations

import numpy as np


def knn_edge_similarity(X: np.ndarray, labels: np.ndarray, n_slices: int,
                        k: int = 10) -> np.ndarray:
    """(n_slices, n_slices) interconnectivity ``max(E_ij / E_i, E_ji / E_j)`` (diagonal 1).

    Parameters
    ----------
    X : ndarray (n, d)
        The samples in the space the slices were found in.
    labels : int ndarray (n,)
        Slice index per sample (-1 = none: its edges are not counted).
    n_slices : int
    k : int, default 10
        Neighbours per sample.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (40, 2)), rng.normal(20, 1, (20, 2))]
    >>> lab = np.r_[(X[:40, 0] > 0).astype(int), np.full(20, 2)]   # one blob cut in two
    >>> S = knn_edge_similarity(X, lab, 3, k=5)
    >>> bool(S[0, 1] > 0.1 and S[0, 2] == 0 == S[1, 2])
    True
    """
    from sklearn.neighbors import NearestNeighbors

    X, labels = np.asarray(X, np.float64), np.asarray(labels, np.int64)
    keep = labels >= 0
    S = np.eye(n_slices)
    if keep.sum() < 2:
        return S
    Xk, lk = X[keep], labels[keep]
    kk = int(min(k, len(Xk) - 1))
    idx = NearestNeighbors(n_neighbors=kk + 1).fit(Xk).kneighbors(Xk, return_distance=False)
    idx = np.array([row[row != i][:kk] for i, row in enumerate(idx)])
    E = np.zeros((n_slices, n_slices))
    np.add.at(E, (np.repeat(lk, kk), lk[idx].ravel()), 1.0)
    share = E / np.maximum(E.sum(1, keepdims=True), 1.0)
    S = np.maximum(share, share.T)
    np.fill_diagonal(S, 1.0)
    return S


def mmr_order(relevance: np.ndarray, similarity: np.ndarray, lam: float = 0.5,
              first: np.ndarray | None = None) -> np.ndarray:
    """Indices in maximal-marginal-relevance order (see the module docstring).

    Ties go to the lower index (give the slices in their plain order for a stable
    result).

    Examples
    --------
    >>> rel = np.array([0.9, 0.88, 0.6])          # 0 and 1: one failure cut in two
    >>> sim = np.array([[1, .8, 0], [.8, 1, 0], [0, 0, 1]])
    >>> mmr_order(rel, sim).tolist()               # the other failure comes second
    [0, 2, 1]
    >>> mmr_order(rel, sim, lam=1.0).tolist()      # lam = 1: by relevance alone
    [0, 1, 2]
    """
    rel = np.asarray(relevance, np.float64)
    S = np.asarray(similarity, np.float64)
    n = len(rel)
    tier = np.zeros(n, np.int64) if first is None else np.where(np.asarray(first, bool), 0, 1)
    picked: list[int] = []
    left = np.ones(n, bool)
    max_sim = np.zeros(n)
    while left.any():
        t = tier[left].min()
        cand = np.flatnonzero(left & (tier == t))
        score = lam * rel[cand] - (1 - lam) * max_sim[cand]
        i = int(cand[np.argmax(score)])  # argmax: first of ties
        picked.append(i)
        left[i] = False
        max_sim = np.maximum(max_sim, S[i])
    return np.array(picked, np.int64)


def mmr_slice_order(slices, X: np.ndarray, labels: np.ndarray, lam: float = 0.5,
                    first: np.ndarray | None = None, k: int = 10) -> np.ndarray:
    """MMR order of fitted slices: relevance from their Wilson interval, similarity from
    the kNN edges of ``X`` (the clustered space, one row per fitted sample)."""
    from slicelens.slicing.metrics import rank_key

    base = np.array(sorted(range(len(slices)), key=lambda i: rank_key(slices[i].metrics)),
                    np.int64)
    rel = np.array([1.0 - float(slices[i].metrics["acc_high"]) for i in base])
    rel = np.nan_to_num(rel, nan=0.0)
    fails = rel > 1e-9  # the Wilson bound of an all-correct slice is 1 up to rounding
    S = knn_edge_similarity(X, labels, len(slices), k)[np.ix_(base, base)]
    f = None if first is None else np.asarray(first, bool)[base]
    head = np.flatnonzero(fails)
    order = head[mmr_order(rel[head], S[np.ix_(head, head)], lam,
                           None if f is None else f[head])]
    # slices with no evidence of failure (error-rate bound 0) keep the plain order
    return np.r_[base[order], base[~fails]].astype(np.int64)
