"""Refitting a pooled-linear head on fixed features: DFR's last-layer retraining.

Kirichenko et al. 2023 (Deep Feature Reweighting) keep the feature extractor and refit
the last layer, as an L1-regularised logistic regression on standardised features, on
a group-balanced held-out set, with the regularisation strength chosen by the worst
group's accuracy on another held-out part. slicelens does the same with scikit-learn's
``LogisticRegression`` and folds the standardisation into the head's weights, so the
result is an ordinary ``nn.Linear`` of the user's model.

Example
-------
>>> rng = np.random.default_rng(0)
>>> f = rng.normal(size=(200, 5)); y = (f[:, 0] > 0).astype(int)
>>> fit = fit_linear_head(f[:100], y[:100], None, f[100:], y[100:], None, n_classes=2)
>>> fit.weight.shape, fit.val_score > 0.9
((2, 5), True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

#: Inverse regularisation strengths tried (DFR's grid).
C_GRID = (1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)


@dataclass
class HeadFit:
    """A refitted head: ``logits = features @ weight.T + bias``.

    weight : float32 (C, d); bias : float32 (C,); C : the chosen regularisation;
    val_score : its selection score; scores : (C or "power p, C c") -> score for every
    setting tried; power : the chosen weight exponent.
    """

    weight: np.ndarray
    bias: np.ndarray
    C: float
    val_score: float
    scores: dict
    power: float = 1.0


def _score(pred, y, groups) -> float:
    correct = pred == y
    if groups is None:
        return float(correct.mean())
    accs = [correct[groups == g].mean() for g in np.unique(groups) if g >= 0]
    return float(min(accs)) if accs else float(correct.mean())


def fit_linear_head(features, y, weight, val_features, val_y, val_groups, *, n_classes: int,
                    Cs=C_GRID, penalty: str = "l1", seed: int = 0, powers=(1.0,)) -> HeadFit:
    """Fit a logistic-regression head for each ``C`` (and weight exponent) and keep the
    best on validation.

    Parameters
    ----------
    features : float array (n, d)
        Pooled features of the head's training samples.
    y : int array (n,)
    weight : float array (n,) or None
        Sample weights (group-balancing); None = 1.
    val_features : float array (m, d); val_y : int array (m,)
    val_groups : int array (m,) or None
        Groups whose worst accuracy selects ``C`` (``-1`` = none); None: accuracy.
    n_classes : int
        Classes of the model (classes absent from ``y`` get a bias of -30).
    Cs : sequence of float
    penalty : {"l1", "l2"}
    powers : sequence of float
        Candidate exponents of ``weight`` (``weight ** power``; 0 = unweighted); each is
        tried with every ``C``.

    Returns
    -------
    HeadFit
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    features = np.asarray(features, np.float64)
    mu, sd = features.mean(0), features.std(0) + 1e-6
    z, zv = (features - mu) / sd, (np.asarray(val_features, np.float64) - mu) / sd
    best = None
    scores = {}
    base_w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    for power in powers:
        w = base_w ** power if power else np.ones(len(y))
        for C in Cs:
            lr = LogisticRegression(C=C, l1_ratio=1.0 if penalty == "l1" else 0.0,
                                    solver="liblinear" if penalty == "l1" else "lbfgs",
                                    max_iter=1000, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                lr.fit(z, y, sample_weight=w)
            W, b = _full_weights(lr, n_classes)
            score = _score((zv @ W.T + b).argmax(1), np.asarray(val_y), val_groups)
            key = float(C) if len(powers) == 1 else f"power {power:g}, C {C:g}"
            scores[key] = score
            if best is None or score > best[0]:
                best = (score, C, W, b, power)
    assert best is not None  # at least one (power, C) was fitted
    score, C, W, b, power = best
    # fold the standardisation in: (f - mu) / sd @ W.T + b = f @ (W / sd).T + (b - W @ (mu / sd))
    weight_f = (W / sd).astype(np.float32)
    bias_f = (b - W @ (mu / sd)).astype(np.float32)
    return HeadFit(weight_f, bias_f, float(C), float(score), scores, float(power))


def _full_weights(lr, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(C, d) weights and (C,) biases over all ``n_classes`` from a fitted ``lr``."""
    d = lr.coef_.shape[1]
    W, b = np.zeros((n_classes, d)), np.full(n_classes, -30.0)
    cls = lr.classes_.astype(int)
    if len(cls) == 2 and lr.coef_.shape[0] == 1:   # binary: logit of class 1 vs class 0
        W[cls[1]], b[cls[1]] = lr.coef_[0], lr.intercept_[0]
        b[cls[0]] = 0.0
    else:
        W[cls], b[cls] = lr.coef_, lr.intercept_
    return W, b
