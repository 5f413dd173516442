"""``relabel`` (App. C.4): a misclassified training sample takes the model's predicted
label; a correctly classified one takes the second most probable class (binary: the other
class).

Example
-------
>>> relabel_targets(np.array([0, 1]), np.array([1, 1]), np.array([[.2, .8], [.3, .7]])).tolist()
[1, 0]
"""

from __future__ import annotations

import numpy as np

from slicelens.tda.actions.base import Action, Change, register_action


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


@register_action("relabel")
class Relabel(Action):
    order = 20

    def change(self, rows, group_pos, problem, baseline, params, pool):
        targets = relabel_targets(problem.labels[group_pos], problem.preds[group_pos],
                                  problem.probs[group_pos])
        return Change(self.name, rows, new_labels=targets,
                      detail="to prediction if misclassified, else runner-up class")

    def fill_plan(self, row, plan, ids):
        plan.relabel = {k: int(v) for k, v in row.relabel.items()}
