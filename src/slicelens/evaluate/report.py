"""The report of ``evaluate_run`` (:func:`slicelens.pipeline.evaluate.evaluate_run`).

A report with a baseline is stored beside the evaluated run as
``<run>/evaluations/<baseline id>.json`` (``run.evaluations()``); its JSON is
:meth:`EvaluationReport.to_json`, the same keys as before it was a
dataclass.

>>> rep = EvaluationReport(run="run-0002-dfr", baseline="run-0001-demo", verdict="beats")
>>> EvaluationReport.from_json(rep.to_json()) == rep
True
>>> list(rep.to_json())[:3]
['run', 'baseline', 'control']

Its rows are typed: :class:`ModelScores` per model, :class:`GroupRow` per ground-truth
group, :class:`SliceRow` per slice. An optional field that was not measured is None and
left out of the JSON (the keys stored stay those of the dicts the rows once were).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

from slicelens.errors import DataError
from slicelens.store.artifacts import ArtifactKind, artifact_path

if TYPE_CHECKING:
    from slicelens.store.run import Run

R = TypeVar("R", bound="_Row")


class _Row:
    """A report row: JSON without the optional fields left at None, read back strictly."""

    #: fields left out of the JSON when None (measured only in some reports)
    OPTIONAL: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in d.items() if not (k in self.OPTIONAL and v is None)}

    @classmethod
    def from_json(cls: type[R], data: dict[str, Any], source: str = "<report>") -> R:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        extra = sorted(set(data) - known)
        if extra:
            raise DataError(f"unknown {cls.__name__} keys {extra}", file=source, field=extra[0])
        try:
            return cls(**data)
        except TypeError as e:
            raise DataError(f"incomplete {cls.__name__}: {e}", file=source) from None


@dataclass
class ModelScores(_Row):
    """One model of a report: robustness under noise (``RobustnessResult``: n, clean, core,
    spurious, rcs and the per-draw accuracies), ``average`` accuracy on the split, and its
    worst reference slice / ground-truth group when those were given."""

    run: str
    role: str  # before / control / after, or model
    n: int
    clean: float
    core: float
    spurious: float
    rcs: float
    core_trials: list[float]
    spurious_trials: list[float]
    average: float = float("nan")
    worst_slice: str | None = None
    worst_slice_accuracy: float | None = None
    worst_group: str | None = None
    worst_group_accuracy: float | None = None

    OPTIONAL = ("worst_slice", "worst_slice_accuracy", "worst_group", "worst_group_accuracy")


@dataclass
class SliceRow(_Row):
    """One slice of the base run's ``slicer`` before and after, with Wilson intervals and
    the change (``slicelens.evaluate.compare.slice_comparison``; the last row is
    ``"(all)"``), and the matched control beside the repair when there is one."""

    slice_id: str
    n: int
    acc_before: float
    low_before: float
    high_before: float
    acc_after: float
    low_after: float
    high_after: float
    delta: float
    acc_control: float | None = None
    delta_vs_control: float | None = None

    OPTIONAL = ("acc_control", "delta_vs_control")


@dataclass
class GroupRow(_Row):
    """One ground-truth group: its ``accuracy`` (a report without baseline,
    ``evaluate.groups.group_accuracy``) or, with a baseline, the before/after columns of
    :class:`SliceRow` (``evaluate.compare.group_comparison``; the last row is ``"(all)"``)."""

    group: str
    n: int
    accuracy: float | None = None
    acc_before: float | None = None
    low_before: float | None = None
    high_before: float | None = None
    acc_after: float | None = None
    low_after: float | None = None
    high_after: float | None = None
    delta: float | None = None
    acc_control: float | None = None
    delta_vs_control: float | None = None

    OPTIONAL = ("accuracy", "acc_before", "low_before", "high_before", "acc_after", "low_after",
                "high_after", "delta", "acc_control", "delta_vs_control")


@dataclass
class EvaluationReport:
    """Clean / core / spurious accuracy, RCS and group / slice tables of a run, beside its
    baseline and matched control.

    Attributes
    ----------
    run, baseline, control : str or None
        Run ids (the evaluated run, the model before repair, its matched control).
    split : str
    n : int
        Images evaluated.
    mask_source, mask_note : str
        Where the core masks came from (``ground_truth`` or ``annotations``), in words.
    ground_truth : str or None
        The ground-truth file used.
    params : dict
        ``RobustnessParams.model_dump()``.
    models : list of ModelScores
        One per model, ``role`` ``before`` / ``control`` / ``after`` (or ``model``):
        clean, core, spurious, rcs, average, worst_slice(_accuracy),
        worst_group(_accuracy).
    groups : list of GroupRow
        Per ground-truth group (before/after with a baseline, else its accuracy).
    slices : list of SliceRow
        Before/after per slice of ``slicer``.
    slicer : str or None
    versus_control : dict
        after - control per metric.
    verdict : str
        In words: does the repair beat its matched control.
    """

    run: str
    baseline: str | None = None
    control: str | None = None
    split: str = "test"
    n: int = 0
    mask_source: str = ""
    mask_note: str = ""
    ground_truth: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    models: list[ModelScores] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    slices: list[SliceRow] = field(default_factory=list)
    slicer: str | None = None
    versus_control: dict[str, float] = field(default_factory=dict)
    verdict: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report as stored (JSON-serialisable; each row its ``to_json``)."""
        rows = ("models", "groups", "slices")
        return {f.name: ([row.to_json() for row in getattr(self, f.name)] if f.name in rows
                         else copy.deepcopy(getattr(self, f.name))) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "<report>") -> EvaluationReport:
        """A report from its JSON (unknown keys are a DataError naming them)."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise DataError(f"unknown evaluation report keys {extra}", file=source,
                            field=extra[0])
        if "run" not in data:
            raise DataError("an evaluation report names its run", file=source, field="run")
        rows = {"models": ModelScores, "groups": GroupRow, "slices": SliceRow}
        typed = {k: [row.from_json(r, source) for r in data[k]]  # type: ignore[attr-defined]
                 for k, row in rows.items() if k in data}
        return cls(**{**data, **typed})

    def model(self, role: str) -> ModelScores | None:
        """The entry of ``models`` with ``role`` (``before``, ``control``, ``after``)."""
        return next((m for m in self.models if m.role == role), None)


#: ``run.artifact(EVALUATION, baseline_id) -> EvaluationReport | None``
EVALUATION: ArtifactKind[EvaluationReport | None] = ArtifactKind("evaluation")


@EVALUATION.reader
def load_report(run: Run, baseline_id: str) -> EvaluationReport | None:
    """The stored comparison of ``run`` with ``baseline_id``, or None when there is none."""
    path = artifact_path(run.path, "evaluation", baseline_id)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise DataError(f"evaluation report is not JSON: {e}", file=str(path)) from None
    return EvaluationReport.from_json(data, str(path))
