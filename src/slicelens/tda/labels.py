"""Wrong-label detection: rank training samples by how much their label fights the rest.

Two scores on the convex head (``slicelens.tda.head``), higher = more likely mislabelled:

* ``margin`` - the cross-validated margin ``max_{c != y} p_c - p_y`` where ``p`` comes
  from a head fitted on the other folds (the sample's own label never votes for itself;
  as cleanlab's self-confidence, in margin form).
* ``self_influence`` - ``g_i^T H^{-1} g_i / n0`` with ``g_i = (p_i - e_{y_i}) x_i^T``: how
  much removing sample ``i`` would change its own loss, to first order (Koh & Liang 2017,
  Sec. 5.4 use it to find wrong labels; TracIn's self-influence is the same idea).

The model's own training ``loss`` is kept beside them as the plain baseline, and the
suggested label is App. C.4's relabel target.

Example
-------
>>> margins(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([1, 1])).round(1).tolist()
[0.8, -0.6]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slicelens.errors import SliceLensError
from slicelens.tda.actions import relabel_targets
from slicelens.tda.head import HessianSolver, fit_head, probs

SCORES = ("margin", "self_influence", "loss")


def margins(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``max_{c != y} p_c - p_y`` per row of probabilities ``P`` (n, C); shape (n,)."""
    k = np.arange(len(y))
    other = P.copy()
    other[k, y] = -np.inf
    return other.max(1) - P[k, y]


def cv_margin(X, y, n_classes: int, lam: float, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold :func:`margins` of the head (``folds`` stratified folds), shape (n,)."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y, minlength=n_classes)
    folds = int(min(folds, counts[counts > 0].min()))
    if folds < 2:
        raise SliceLensError("a class has a single training sample; cross-validation needs two")
    P = np.zeros((len(y), n_classes))
    for fit_idx, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        theta = fit_head(X[fit_idx], y[fit_idx], n_classes=n_classes, lam=lam)
        P[held] = probs(theta, X[held])
    return margins(P, y)


def self_influence(theta, X, y, lam: float) -> np.ndarray:
    """``g_i^T H^{-1} g_i / n`` per training sample (explicit Hessian only), shape (n,)."""
    n = len(y)
    solver = HessianSolver(theta, X, np.ones(n), n, lam)
    if solver.factor is None:
        raise SliceLensError(f"self-influence needs the explicit head Hessian ({theta.size} "
                             "parameters is too many); use the margin score")
    R = probs(theta, X)
    R[np.arange(n), y] -= 1.0
    G = R[:, :, None] * X[:, None, :]             # (n, C, p) per-sample gradients
    return (solver.solve(G) * G).sum(axis=(1, 2)) / n


def wrong_label_scores(problem, baseline, *, folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Every labelled training sample with its scores.

    Returns
    -------
    DataFrame with columns ``id, label, pred, suggested, margin, self_influence, loss``
    (class names for labels; ``self_influence`` NaN when the head is too large).
    """
    pos, X, y = baseline.train, baseline.X, baseline.y
    C = problem.n_classes
    try:
        si = self_influence(baseline.theta, X, y, baseline.lam)
    except SliceLensError:
        si = np.full(len(y), np.nan)
    P = problem.probs[pos]
    cls = np.asarray(problem.classes, dtype=object)
    return pd.DataFrame({
        "id": problem.ids[pos], "label": cls[y], "pred": cls[problem.preds[pos]],
        "suggested": cls[relabel_targets(y, problem.preds[pos], P)],
        "margin": cv_margin(X, y, C, baseline.lam, folds, seed), "self_influence": si,
        "loss": -np.log(np.clip(P[np.arange(len(y)), y], 1e-12, None))})
