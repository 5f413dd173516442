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
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from slicelens.errors import DataError
from slicelens.store.artifacts import artifact_path, register_reader

if TYPE_CHECKING:
    from slicelens.store.run import Run


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
    models : list of dict
        One per model, ``role`` ``before`` / ``control`` / ``after`` (or ``model``):
        clean, core, spurious, rcs, average, worst_slice(_accuracy),
        worst_group(_accuracy).
    groups, slices : list of dict
        Before/after rows per ground-truth group and per slice of ``slicer``.
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
    models: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    slices: list[dict[str, Any]] = field(default_factory=list)
    slicer: str | None = None
    versus_control: dict[str, float] = field(default_factory=dict)
    verdict: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report as stored (JSON-serialisable)."""
        return asdict(self)

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
        return cls(**data)

    def model(self, role: str) -> dict[str, Any] | None:
        """The entry of ``models`` with ``role`` (``before``, ``control``, ``after``)."""
        return next((m for m in self.models if m.get("role") == role), None)


@register_reader("evaluation")
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
