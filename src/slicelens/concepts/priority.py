"""The priority score of a debug image, AACA Eq. 1, and the per-class top-k (step d).

    Score_pri(d_i) = lambda * H[s_n | d_i] - (1 - lambda) * sum_j sim(emb(d_i), emb(c_j(s_n)))

``H`` measures how unsure the current model is of ``d_i`` (natural log). The paper defines
it twice: "where H refers to cross entropy", written ``H[s_n | d_i, D_debug]``, i.e. the
cross entropy ``-ln p(s_n | d_i)`` of the class ``s_n`` the debug image was made for
(``labels`` given), and in the prose as "higher predictive entropy (Gal et al.)",
``-sum_c p_c ln p_c``, which needs no label (``labels`` omitted). They differ on an
image the model gets confidently wrong, the kind a shortcut produces: its predictive
entropy is low, its cross entropy high. ``sim`` is the cosine similarity, and
``emb(c_j(s_n))`` the embedding of the saliency region where confounded concept ``c_j``
of class ``s_n`` was seen. High ``H`` and low similarity to the confounders come first;
images are sorted by descending score and the top ``k`` of each class are kept (Alg. 1
line 17, "Top1000"). Which class a seed's confounded region counts for is the caller's
choice (:mod:`slicelens.repair.aaca`, ``confounded_in``).

Example (hand-computed in tests/test_concepts_core.py)
-------
>>> import numpy as np
>>> s = priority_scores(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]),
...                     np.array([[1.0, 0.0], [0.0, 1.0]]), lam=0.5)
>>> round(float(s[0]), 4)   # 0.5 * ln 2 - 0.5 * (1 + 0)
-0.1534
"""

from __future__ import annotations

import numpy as np

from slicelens.errors import SliceLensError


def predictive_entropy(probs: np.ndarray) -> np.ndarray:
    """``-sum_c p_c ln p_c`` per row of ``probs`` (n, C)."""
    p = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(1)


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``-ln p(label | d)`` per row of ``probs`` (n, C) and ``labels`` (n,)."""
    p = np.asarray(probs, np.float64)
    labels = np.asarray(labels, int)
    if len(labels) != len(p):
        raise SliceLensError(f"{len(labels)} labels for {len(p)} rows of probabilities")
    if len(labels) and (labels.min() < 0 or labels.max() >= p.shape[1]):
        raise SliceLensError(f"labels must be class indices in [0, {p.shape[1]}), "
                             f"got {labels.min()}..{labels.max()}")
    return -np.log(np.clip(p[np.arange(len(p)), labels], 1e-12, 1.0))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def priority_scores(probs: np.ndarray, emb: np.ndarray, confounded_emb: np.ndarray,
                    lam: float = 0.5, labels: np.ndarray | None = None) -> np.ndarray:
    """Eq. 1 for every image: ``probs`` (n, C), ``emb`` (n, d), ``confounded_emb`` (k, d)
    (the class's confounded-region embeddings; k may be 0: no penalty). With ``labels``
    (n,), the class each image is for, ``H`` is the cross entropy ``-ln p(label | d)``;
    without, the predictive entropy."""
    if not 0 <= lam <= 1:
        raise SliceLensError(f"lambda must be in [0, 1], got {lam}")
    h = predictive_entropy(probs) if labels is None else cross_entropy(probs, labels)
    if len(confounded_emb) == 0:
        return lam * h
    sims = _unit(emb) @ _unit(confounded_emb).T
    return lam * h - (1 - lam) * sims.sum(1)


def top_k_per_class(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores of every class (descending; ties by index)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    out = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        order = rows[np.lexsort((rows, -scores[rows]))]
        out.append(order[:k])
    return np.concatenate(out) if out else np.zeros(0, int)
