"""Effects of data changes on a group of errors: fast influence estimates and exact
retraining of the head over bootstrap resamples.

The metrics are the study's axis 2 (Sec. 4.3.2), averaged over the error group ``E``:
``loss`` (cross-entropy), ``gt_prob`` (probability of the true class) and ``pred_prob``
(probability of the class the model predicted). An effect is ``metric(after) -
metric(before)``; :data:`BENEFIT_SIGN` turns it into "how much better the errors get"
(> 0 = better). Beside it is always the change of validation accuracy (Sec. 5.1.2: "the
overall model behaviour ... must be considered"), and the worst change of any single
class's validation accuracy (a fix that trades one class for another shows there).

Influence (Koh & Liang 2017, Eq. 2-3, for groups as Koh et al. 2019): a change perturbs
the head objective by ``(1/n0) * g`` in the gradient, with ``g`` the sum of the affected
samples' loss gradients (times the weight change; for a relabel the gradient difference
between new and old label; for added samples their gradients). The head moves by
``d_theta = -H_c^{-1} g / n0`` (``H`` of ``slicelens.tda.head``, exact for the convex head,
plus the changed rows' curvature for groups, see :func:`influence_effects`), and the
estimate is the metric at ``theta + d_theta``. Exact: refit the head with the
change from the baseline of each bootstrap resample (warm start), and compare paired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slicelens.errors import SliceLensError
from slicelens.tda.head import HessianSolver, fit_head, loss_grads_sum, probs
from slicelens.tda.params import BENEFIT_SIGN, METRICS  # noqa: F401 - BENEFIT_SIGN re-exported
from slicelens.tda.stats import Effect, paired_effect
from slicelens.utils import progress


@dataclass
class Targets:
    """Where effects are measured: the error group and the validation split.

    X_err (k, p), y_err (k,), pred_err (k,): head inputs, labels and the model's
    predictions of the errors; X_val (v, p), y_val (v,): validation.
    """

    X_err: np.ndarray
    y_err: np.ndarray
    pred_err: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    metric: str = "loss"

    def __post_init__(self):
        if self.metric not in METRICS:
            raise SliceLensError(f"metric must be one of {METRICS}, got {self.metric!r}")

    def measure(self, theta: np.ndarray) -> np.ndarray:
        """``[metric on E, validation accuracy, accuracy on E, validation accuracy of each
        class...]`` of head ``theta``, shape (3 + C,)."""
        P = probs(theta, self.X_err)
        k = np.arange(len(self.y_err))
        if self.metric == "loss":
            m = float(-np.log(np.clip(P[k, self.y_err], 1e-300, None)).mean())
        else:
            m = float(P[k, self.y_err if self.metric == "gt_prob" else self.pred_err].mean())
        hit = probs(theta, self.X_val).argmax(1) == self.y_val
        return np.array([m, _mean(hit), float((P.argmax(1) == self.y_err).mean()),
                         *class_accuracies(hit, self.y_val, theta.shape[0])])


def class_accuracies(hit: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Accuracy per class (NaN for a class without samples), shape (n_classes,)."""
    return np.array([_mean(hit[y == c]) for c in range(n_classes)])


def _mean(x) -> float:
    return float(np.mean(x)) if len(x) else np.nan


def effect_columns(diffs: np.ndarray) -> np.ndarray:
    """Differences of :meth:`Targets.measure` (k, 3 + C) -> (k, 4): change of the metric,
    of validation accuracy, of accuracy on E, and the worst change of any class's
    validation accuracy (the largest per-class drop when negative)."""
    d = np.atleast_2d(diffs)
    worst = np.nanmin(d[:, 3:], axis=1) if d.shape[1] > 3 else np.full(len(d), np.nan)
    return np.c_[d[:, :3], worst]


def influence_effects(baseline, changes, targets: Targets, X_add_of) -> np.ndarray:
    """Fast estimate of every change: one Newton step from the baseline head.

    ``d_theta = -H_c^{-1} g / n0`` with ``g`` the change of the gradient sum and ``H_c``
    the Hessian of the changed objective (``H`` plus the changed rows' own curvature).
    For a single sample ``H_c ~ H`` and the step is the influence function (Koh & Liang
    2017, Eq. 3), computed for all such changes with one factorisation; for groups the
    own-curvature term is the one-step correction of Pregibon (1981) that keeps large
    groups (whole classes, x10 weights) from being overshot.

    Parameters
    ----------
    baseline : Baseline
    changes : list of Change
    targets : Targets
    X_add_of : callable ``pos -> (a, p)`` head inputs of pool positions

    Returns
    -------
    float array (len(changes), 4): predicted changes, see :func:`effect_columns`.
    """
    th, X, y, n0 = baseline.theta, baseline.X, baseline.y, baseline.n0
    solver = HessianSolver(th, X, np.ones(n0), n0, baseline.lam)
    steps = np.zeros((len(changes), *th.shape))
    single = [i for i, c in enumerate(changes) if _n_changed(c) <= 1]
    if single:
        G = np.stack([_grad_shift(changes[i], th, X, y, X_add_of) for i in single])
        steps[single] = -solver.solve(G) / n0
    for i, c in enumerate(progress(changes, desc="influence", unit="change")):
        if _n_changed(c) > 1:
            steps[i] = -solver.solve_changed(_grad_shift(c, th, X, y, X_add_of),
                                             _curvature_parts(c, X, X_add_of)) / n0
    before = targets.measure(th)
    diffs = np.array([targets.measure(th + d) - before for d in steps]).reshape(len(changes), -1)
    return effect_columns(diffs) if len(changes) else np.zeros((0, 4))


def _n_changed(c) -> int:
    return len(c.rows) + (0 if c.add_pos is None else len(c.add_pos))


def _curvature_parts(c, X, X_add_of) -> list:
    parts = []
    if c.factor is not None and len(c.rows):
        parts.append((X[c.rows], np.full(len(c.rows), c.factor - 1.0)))
    if c.add_pos is not None:
        parts.append((X_add_of(c.add_pos), np.ones(len(c.add_pos))))
    return parts


def _grad_shift(c, th, X, y, X_add_of) -> np.ndarray:
    g = np.zeros_like(th)
    if c.factor is not None and len(c.rows):
        g += (c.factor - 1.0) * loss_grads_sum(th, X[c.rows], y[c.rows], np.ones(len(c.rows)))
    if c.new_labels is not None and len(c.rows):
        ones = np.ones(len(c.rows))
        g += loss_grads_sum(th, X[c.rows], c.new_labels, ones) - loss_grads_sum(th, X[c.rows], y[c.rows], ones)
    if c.add_pos is not None:
        g += loss_grads_sum(th, X_add_of(c.add_pos), c.add_labels, np.ones(len(c.add_pos)))
    return g


@dataclass
class Exact:
    """Exact effects of one change over paired retrainings."""

    effect: Effect
    global_effect: Effect
    error_accuracy: Effect
    worst_class: Effect


def bootstrap_baselines(baseline, targets: Targets, resamples: int, seed: int) -> list[tuple]:
    """``resamples`` bootstrap resamples of the train split (multinomial counts as weights),
    each with its refit head and measurements: list of ``(w (n0,), theta, measures (3 + C,))``.
    """
    rng = np.random.default_rng(seed)
    n0, C = baseline.n0, baseline.theta.shape[0]
    out = []
    for _ in range(resamples):
        w = rng.multinomial(n0, np.full(n0, 1.0 / n0)).astype(np.float64)
        th = fit_head(baseline.X, baseline.y, n_classes=C, lam=baseline.lam, w=w, n0=n0,
                      init=baseline.theta)
        out.append((w, th, targets.measure(th)))
    return out


def exact_effects(baseline, changes, targets: Targets, boots, X_add_of, *,
                  test: str = "paired-t", level: float = 0.95) -> list[Exact]:
    """Refit the head with each change on each bootstrap resample; paired statistics.

    Parameters
    ----------
    boots : list from :func:`bootstrap_baselines`
    X_add_of : callable ``pos -> (a, p)``

    Returns
    -------
    list of Exact, one per change.
    """
    C, n0 = baseline.theta.shape[0], baseline.n0
    out = []
    for c in progress(changes, desc="exact head retraining", unit="change"):
        X_add = X_add_of(c.add_pos) if c.add_pos is not None else None
        diffs = []
        for w, th_b, m_b in boots:
            X2, y2, w2 = c.apply(baseline.X, baseline.y, w, X_add)
            th = fit_head(X2, y2, n_classes=C, lam=baseline.lam, w=w2, n0=n0, init=th_b)
            diffs.append(targets.measure(th) - m_b)
        d = effect_columns(np.asarray(diffs))
        out.append(Exact(*(paired_effect(d[:, j], level=level, test=test) for j in range(4))))
    return out
