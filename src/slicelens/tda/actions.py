"""The four actions of the study's design space (Sec. 4.3.1, axis 1) as data changes.

* ``remove`` - drop the group (weights 0).
* ``relabel`` - App. C.4: a misclassified training sample takes the model's predicted
  label; a correctly classified one takes the second most probable class (binary: the
  other class).
* ``upweight`` - multiply the group's weights by ``factor`` (App. C.4 uses 10).
* ``add`` - "collect more data like this". With an unlabeled pool and an oracle for its
  labels (a person, or the hidden labels in a benchmark), the ``ratio * |group|`` pool
  samples nearest to the group (cosine on ``F``) join training with their revealed labels.
  Without them, upweighting the group by ``1 + ratio`` is the proxy (the study itself
  takes upweighting as the approximation of adding data, Sec. 4.4.2).

A :class:`Change` is the concrete result on one group: which training rows change and
how, and which pool rows are added. The exact retraining and the influence estimate both
read it, and :func:`slicelens.tda.result.to_plan` turns it into a TrainingPlan.

Example
-------
>>> relabel_targets(np.array([0, 1]), np.array([1, 1]), np.array([[.2, .8], [.3, .7]])).tolist()
[1, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slicelens.errors import SliceLensError
from slicelens.tda.params import ACTIONS, ActionParams


@dataclass
class Change:
    """One action applied to one training group.

    Attributes
    ----------
    action : str
    rows : int array (m,)
        Positions in the baseline's training arrays whose weight or label changes.
    factor : float or None
        New weight = old weight * factor (0 removes); None = weights unchanged.
    new_labels : int array (m,) or None
        Relabel targets aligned with ``rows``.
    add_pos : int array (a,) or None
        Problem positions of pool samples that join training.
    add_labels : int array (a,) or None
        Their (oracle) labels.
    detail : str
        What was done, in words.
    """

    action: str
    rows: np.ndarray
    factor: float | None = None
    new_labels: np.ndarray | None = None
    add_pos: np.ndarray | None = None
    add_labels: np.ndarray | None = None
    detail: str = ""

    def apply(self, X, y, w, X_add=None):
        """The modified training set ``(X', y', w')``; added rows get weight 1.

        ``X_add`` (a, p) are the head inputs of ``add_pos`` (required when adding).
        """
        y, w = y.copy(), np.asarray(w, np.float64).copy()
        if self.factor is not None:
            w[self.rows] *= self.factor
        if self.new_labels is not None:
            y[self.rows] = self.new_labels
        if self.add_pos is None:
            return X, y, w
        assert self.add_labels is not None, "add_pos without add_labels"
        return (np.vstack([X, X_add]), np.concatenate([y, self.add_labels]),
                np.concatenate([w, np.ones(len(self.add_labels))]))


def relabel_targets(labels: np.ndarray, preds: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """App. C.4's new labels: the prediction if misclassified, else the runner-up class.

    Parameters
    ----------
    labels, preds : int arrays (m,)
    probs : float array (m, C)

    Returns
    -------
    int array (m,), never equal to ``labels``.
    """
    second = np.argsort(-probs, axis=1)[:, 1]
    return np.where(preds != labels, preds, second).astype(np.int64)


def make_change(action: str, group_pos: np.ndarray, problem, baseline, params: ActionParams,
                pool: dict | None = None) -> Change:
    """The :class:`Change` of ``action`` on the training samples at ``group_pos``.

    Parameters
    ----------
    group_pos : int array (m,)
        Problem positions of the group's members (all labelled train samples).
    problem : HeadProblem; baseline : Baseline
    pool : dict, optional
        ``{"pos": int array, "labels": int array}``: pool samples with oracle labels, for
        ``add``. Without it ``add`` is the weight proxy.
    """
    rows = baseline.rows(group_pos)
    if action == "remove":
        return Change(action, rows, factor=0.0, detail="drop")
    if action == "upweight":
        return Change(action, rows, factor=params.upweight, detail=f"weight x{params.upweight:g}")
    if action == "relabel":
        targets = relabel_targets(problem.labels[group_pos], problem.preds[group_pos],
                                  problem.probs[group_pos])
        return Change(action, rows, new_labels=targets,
                      detail="to prediction if misclassified, else runner-up class")
    if action == "add":
        if not pool or len(pool["pos"]) == 0:
            f = 1.0 + params.add_ratio
            return Change(action, rows, factor=f, detail=f"proxy: weight x{f:g} (no labelled pool)")
        m = int(min(np.ceil(params.add_ratio * len(group_pos)), params.max_add, len(pool["pos"])))
        pick = nearest_pool(problem.features[group_pos], problem.features[pool["pos"]], m)
        return Change(action, rows[:0], add_pos=pool["pos"][pick], add_labels=pool["labels"][pick],
                      detail=f"{m} nearest pool samples, oracle labels")
    raise SliceLensError(f"unknown action {action!r}; choose from {ACTIONS}")


def nearest_pool(group_f: np.ndarray, pool_f: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` pool samples closest (cosine) to any group member."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1, metric="cosine").fit(group_f)
    d = nn.kneighbors(pool_f, return_distance=True)[0][:, 0]
    return np.argsort(d, kind="stable")[:m]

