"""The action family of training-data attribution (the study's design space, Sec. 4.3.1,
axis 1): what an action is, the :class:`Change` it makes, and its registry.

An action is a registered class that owns three things, so adding one is one module of
``slicelens.tda.actions`` (found by ``ACTION_FAMILY.discover``):

* its change: :meth:`Action.change` -> :class:`Change` on one training group, read by
  the exact retraining and the influence estimate alike;
* its plan: :meth:`Action.fill_plan` writes the change of a ranked row into a
  :class:`~slicelens.repair.plan.TrainingPlan` (``slicelens.tda.result.to_plan``);
* its label: :meth:`Action.label`, how a row's action reads in a table.

Its parameters are its ``Params`` (a pydantic model); ``slicelens.tda.params.ActionParams``
joins those of every action, so each is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import BaseModel

from slicelens.errors import SliceLensError
from slicelens.registry import Family


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


class Action:
    """Base of every action.

    Attributes
    ----------
    name : str
        Registry name (set by ``@register_action``).
    order : int
        Position in the default list of actions (``TDAParams.actions``).
    Params : pydantic model
        The settings this action reads (joined into ``ActionParams``).
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 0
    Params: ClassVar[type[BaseModel]] = BaseModel

    def change(self, rows: np.ndarray, group_pos: np.ndarray, problem, baseline, params,
               pool: dict | None) -> Change:  # pragma: no cover - abstract
        """The :class:`Change` on the group (``rows``: its positions in the baseline's
        training arrays; ``group_pos``: its problem positions)."""
        raise NotImplementedError

    def fill_plan(self, row, plan, ids: list[str]) -> None:
        """Write ``row``'s change into ``plan``: pool additions, else a weight factor."""
        if row.add:
            plan.add = {k: int(v) for k, v in row.add.items()}
        elif row.factor is not None:
            plan.weights = {i: float(row.factor) for i in ids}
        else:
            raise SliceLensError(f"row {row.rank} ({row.action}) carries no change to plan")

    def label(self, row) -> str:
        """The action of ``row`` in words, for tables."""
        return self.name


ACTIONS_REGISTRY: dict[str, type[Action]] = {}
#: The action family: every module of ``slicelens.tda.actions``.
ACTION_FAMILY = Family("action", "slicelens.tda.actions", base=Action, registry=ACTIONS_REGISTRY)
#: Class decorator adding an action under ``name``.
register_action = ACTION_FAMILY.register


def get_action(name: str) -> Action:
    """A new action by name; an unknown name lists the known ones."""
    return ACTION_FAMILY.create(name)


def make_change(action: str, group_pos: np.ndarray, problem, baseline, params,
                pool: dict | None = None) -> Change:
    """The :class:`Change` of ``action`` on the training samples at ``group_pos``.

    Parameters
    ----------
    group_pos : int array (m,)
        Problem positions of the group's members (all labelled train samples).
    problem : HeadProblem; baseline : Baseline
    params : ActionParams
    pool : dict, optional
        ``{"pos": int array, "labels": int array}``: pool samples with oracle labels, for
        ``add``. Without it ``add`` is the weight proxy.
    """
    rows = baseline.rows(group_pos)
    return get_action(action).change(rows, group_pos, problem, baseline, params, pool)
