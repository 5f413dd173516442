"""Stored before/after comparisons: every :func:`~slicelens.pipeline.evaluate.evaluate_run`
with a baseline is kept in the evaluated run's folder, so the web app shows a
comparison made by ``slicelens repair``, ``slicelens evaluate`` or the demo (not only the
ones its own jobs made).

Layout: ``<run>/evaluations/<baseline id>.json`` (the report, JSON; ``run.evaluations()``).

Examples
--------
>>> save_evaluation(run, report)                    # doctest: +SKIP
>>> load_evaluation(run, "run-0001-demo").verdict   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from slicelens.evaluate.report import EvaluationReport, load_report
from slicelens.store.artifacts import artifact_path

if TYPE_CHECKING:
    from slicelens.store.run import Run


def evaluation_path(run: Run, baseline_id: str) -> Path:
    """Where the comparison of ``run`` with ``baseline_id`` is stored."""
    return artifact_path(run.path, "evaluation", baseline_id)


def save_evaluation(run: Run, report: EvaluationReport) -> Path:
    """Store a report of :func:`evaluate_run` that has a baseline; returns its path."""
    from slicelens.store.atomic import write_json

    if not report.baseline:
        raise ValueError("only a comparison with a baseline is stored")
    path = evaluation_path(run, report.baseline)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report.to_json())
    return path


def load_evaluation(run: Run, baseline_id: str) -> EvaluationReport | None:
    """The stored comparison of ``run`` with ``baseline_id``, or None when there is none."""
    return load_report(run, baseline_id)
