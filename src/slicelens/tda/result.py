"""The typed answer of training-data attribution, and its conversion to a training plan.

One :class:`TDARow` per (training group, action): the effect on the error group (mean,
interval, p-value, flagged when not significant), the effect on validation accuracy
beside it, how it was obtained (``"exact"`` head retraining over ``n_retrains`` paired
resamples, or the ``"influence"`` estimate only) and the concrete change, so that
:func:`to_plan` gives the :class:`~slicelens.repair.plan.TrainingPlan` the repair loop
runs. Score direction: ``benefit > 0`` means the errors get better.

Example
-------
>>> from slicelens.tda.groups import TrainingGroup
>>> row = TDARow(TrainingGroup("label a", "label", ["s1"]), "remove", "loss", effect=-0.2)
>>> to_plan(row).remove
['s1']
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.errors import SliceLensError
from slicelens.repair.plan import TrainingPlan
from slicelens.store.artifacts import ArtifactKind
from slicelens.tda.groups import ErrorGroup, TrainingGroup
from slicelens.tda.params import BENEFIT_SIGN

if TYPE_CHECKING:
    from slicelens.store.run import Run

NAN = float("nan")


@dataclass
class TDARow:
    """One ranked answer: what doing ``action`` to ``group`` does to the errors.

    Attributes
    ----------
    group : TrainingGroup
    action : str
        ``remove``, ``relabel``, ``upweight`` or ``add``.
    metric : str
        ``loss``, ``gt_prob`` or ``pred_prob`` on the error group.
    effect, ci_low, ci_high : float
        Mean change of the metric and its interval (NaN interval for influence rows).
    p_value, p_adjusted : float
        Paired test across retrainings (``slicelens.tda.stats``); adjusted = BH over the
        exact rows of the table.
    significant : bool
        ``p_adjusted < alpha`` (False for influence-only rows: nothing was retrained).
    global_effect, global_ci_low, global_ci_high : float
        Change of validation accuracy.
    error_accuracy_effect : float
        Change of accuracy on the error group (share of errors fixed).
    worst_class_effect : float
        The smallest change of any class's validation accuracy (negative = that class
        loses accuracy).
    n_retrains : int
        Paired retrainings behind the numbers (0 for influence rows).
    method : {"exact", "influence"}
    predicted_effect, predicted_global : float
        The influence estimate (also kept on exact rows, for comparison).
    detail : str
    factor : float or None
        Weight factor the action applies to the group (0 = remove).
    relabel : dict id -> int; add : dict pool id -> int
    error_group : str
    rank : int
    """

    group: TrainingGroup
    action: str
    metric: str
    effect: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    p_value: float = NAN
    p_adjusted: float = NAN
    significant: bool = False
    global_effect: float = NAN
    global_ci_low: float = NAN
    global_ci_high: float = NAN
    error_accuracy_effect: float = NAN
    worst_class_effect: float = NAN
    n_retrains: int = 0
    method: str = "influence"
    predicted_effect: float = NAN
    predicted_global: float = NAN
    detail: str = ""
    factor: float | None = None
    relabel: dict[str, int] = field(default_factory=dict)
    add: dict[str, int] = field(default_factory=dict)
    error_group: str = ""
    rank: int = 0

    @property
    def benefit(self) -> float:
        """The effect signed so that > 0 means the errors get better."""
        return BENEFIT_SIGN[self.metric] * self.effect

    def to_json(self) -> dict:
        d = asdict(self)
        d["group"] = self.group.to_json()
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}

    @classmethod
    def from_json(cls, d: dict) -> TDARow:
        d = dict(d)
        d["group"] = TrainingGroup(**d["group"])
        floats = [k for k, f in cls.__dataclass_fields__.items() if f.type == "float"]
        for k in floats:
            d[k] = NAN if d.get(k) is None else float(d[k])
        return cls(**d)


@dataclass
class TDAResult:
    """Ranked rows for one error group, with the baseline they are measured against.

    Attributes
    ----------
    error_group : ErrorGroup
    metric : str
    rows : list of TDARow
        Exact rows first (ranked), then influence-only rows (ranked).
    baseline : dict
        ``l2``, ``agreement_val`` / ``agreement_train`` (refit head vs the model's
        predictions), ``agreement_errors`` (share of the error group the refit head also
        gets wrong), ``metric_before``, ``val_accuracy_before``, ``n_train``,
        ``baseline_retrains``.
    params : dict
    run_id : str
    """

    error_group: ErrorGroup
    metric: str
    rows: list[TDARow]
    baseline: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    run_id: str = ""

    def row(self, rank: int) -> TDARow:
        """The row with this 1-based rank."""
        for r in self.rows:
            if r.rank == rank:
                return r
        raise SliceLensError(f"no row {rank}; the table has ranks 1-{len(self.rows)}")

    def table(self, top: int | None = None) -> pd.DataFrame:
        """The ranked table (one line per row, the numbers a person reads)."""
        rows = self.rows[:top] if top else self.rows
        return pd.DataFrame([{
            "rank": r.rank, "group": r.group.name, "size": r.group.size, "action": r.action,
            "effect": r.effect, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value,
            "significant": r.significant, "val_acc_change": r.global_effect,
            "val_acc_ci_low": r.global_ci_low, "val_acc_ci_high": r.global_ci_high,
            "errors_fixed": r.error_accuracy_effect, "worst_class_change": r.worst_class_effect,
            "method": r.method,
            "n_retrains": r.n_retrains, "detail": r.detail} for r in rows])

    def to_json(self) -> dict:
        return {"error_group": self.error_group.to_json(), "metric": self.metric,
                "rows": [r.to_json() for r in self.rows], "baseline": self.baseline,
                "params": self.params, "run_id": self.run_id}

    def save(self, path) -> Path:
        """Write the result as JSON atomically."""
        from slicelens.store.atomic import write_bytes

        path = Path(path)
        write_bytes(path, json.dumps(self.to_json()).encode())
        return path

    @classmethod
    def load(cls, path) -> TDAResult:
        try:
            d = json.loads(Path(path).read_text())
            return cls(ErrorGroup(**d["error_group"]), d["metric"],
                       [TDARow.from_json(r) for r in d["rows"]], d["baseline"], d["params"],
                       d["run_id"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SliceLensError(f"cannot read attribution result {path}: {e}") from None


def to_plan(row: TDARow) -> TrainingPlan:
    """The :class:`TrainingPlan` that carries out ``row``'s action on its group.

    The row's action writes its change (``Action.fill_plan``): remove -> ``remove``;
    relabel -> ``relabel``; upweight and the add proxy -> ``weights``; add from the pool ->
    ``add`` (pool id -> oracle label).
    """
    from slicelens.tda.actions.base import get_action

    ids = row.group.ids.tolist()
    plan = TrainingPlan(
        strategy="tda-action",
        params={"group": row.group.name, "group_kind": row.group.kind, "action": row.action,
                "factor": row.factor, "metric": row.metric, "error_group": row.error_group},
        description=(f"{row.action} '{row.group.name}' ({row.detail}) to fix "
                     f"'{row.error_group}': {row.metric} change {row.effect:+.4f} ({row.method})"))
    get_action(row.action).fill_plan(row, plan, ids)
    return plan


#: ``run.artifact(TDA_RESULT, name) -> TDAResult`` (``name``: the error group's slug)
TDA_RESULT: ArtifactKind[TDAResult] = ArtifactKind("tda")


@TDA_RESULT.reader
def _read_result(run: Run, name: str) -> TDAResult:
    """``run.tda_results()``: the result stored as ``<run>/tda/<name>.json``."""
    return TDAResult.load(run.artifact_path("tda", name))
