"""Parameters of training-data attribution, declared once (CLI options, API schema, the
stored result), and the names of the design space's axes.

The actions and the candidate-group kinds are registered classes (``slicelens.tda.actions``,
``slicelens.tda.kinds``); their names, in their ``order``, make the ``Literal`` choices
here, and :class:`ActionParams` joins every action's ``Params``, so a new action or kind
is one file. Imports pydantic and numpy only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, create_model

from slicelens.tda.actions.base import ACTION_FAMILY
from slicelens.tda.kinds.base import KIND_FAMILY

ACTIONS = tuple(ACTION_FAMILY.names())
METRICS = ("loss", "gt_prob", "pred_prob")
#: sign that turns a metric's change (after - before) into "how much better the errors get"
BENEFIT_SIGN = {"loss": -1.0, "gt_prob": 1.0, "pred_prob": -1.0}
KINDS = tuple(KIND_FAMILY.names())
AUTO_KINDS = tuple(k for k in KINDS if KIND_FAMILY.get(k).auto)

Action = Literal[ACTIONS]  # type: ignore[valid-type]
Kind = Literal[KINDS]  # type: ignore[valid-type]

#: Settings of the actions: the fields of every action's ``Params``, in the actions' order.
ActionParams = create_model(
    "ActionParams", __doc__="Settings of the actions.", __module__=__name__,
    __base__=tuple(dict.fromkeys(ACTION_FAMILY.get(a).Params for a in reversed(ACTIONS)
                                 if ACTION_FAMILY.get(a).Params.model_fields)) or BaseModel)


class TDAParams(ActionParams):
    """Settings of :func:`slicelens.tda.attribute.attribute`."""

    candidates: list[Kind] = Field(list(AUTO_KINDS), description=f"kinds of training groups, of {KINDS}")
    actions: list[Action] = Field(list(ACTIONS), description="actions to evaluate")
    metric: Literal["loss", "gt_prob", "pred_prob"] = Field(
        "loss", description="metric on the error group: loss, ground-truth-class or predicted-class probability")
    top: int = Field(10, ge=0, description="rows measured exactly (head retraining)")
    resamples: int = Field(5, ge=2, description="bootstrap resamples per exact effect")
    exact: bool = Field(True, description="retrain the head for the top rows (else influence only)")
    seed: int = Field(0, description="seed of the bootstrap resamples")
    knn: int = Field(10, ge=1, description="nearest training neighbours per error")
    min_group: int = Field(5, ge=1, description="smallest candidate group (single samples exempt)")
    l2: float | None = Field(None, gt=0, description="head L2 strength (default: the one agreeing best with the model)")
    test: Literal["paired-t", "nguyen"] = Field("paired-t", description="significance test across resamples")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level (BH-adjusted)")
    max_accuracy_drop: float = Field(0.01, ge=0, description="rows losing more validation accuracy rank last")
    max_class_drop: float = Field(0.05, ge=0, description="rows losing more accuracy on any validation class rank last")
