"""Parameters of training-data attribution, declared once (CLI options, API schema, the
stored result), and the names of the design space's axes. Light to import (pydantic only).
"""

from __future__ import annotations

from typing import Literal, cast

from pydantic import BaseModel, Field

ACTIONS = ("remove", "relabel", "upweight", "add")
METRICS = ("loss", "gt_prob", "pred_prob")
KINDS = ("label", "pred", "confusion", "slice", "attribute", "knn", "sample")
AUTO_KINDS = ("label", "pred", "confusion", "slice", "attribute", "knn")

Action = Literal["remove", "relabel", "upweight", "add"]
Kind = Literal["label", "pred", "confusion", "slice", "attribute", "knn", "sample"]


class ActionParams(BaseModel):
    """Settings of the actions."""

    upweight: float = Field(10.0, gt=1, description="weight factor of 'upweight' (App. C.4: 10)")
    add_ratio: float = Field(1.0, gt=0, description="'add' brings ratio x group size new samples "
                             "(from the pool, else as the weight proxy 1 + ratio)")
    max_add: int = Field(500, ge=1, description="most pool samples one 'add' brings")


class TDAParams(ActionParams):
    """Settings of :func:`slicelens.tda.attribute.attribute`."""

    candidates: list[Kind] = Field(cast("list[Kind]", list(AUTO_KINDS)), description=f"kinds of training groups, of {KINDS}")
    actions: list[Action] = Field(cast("list[Action]", list(ACTIONS)), description="actions to evaluate")
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
