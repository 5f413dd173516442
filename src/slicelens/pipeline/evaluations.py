"""Stored before/after comparisons: every :func:`~slicelens.pipeline.evaluate.evaluate_run`
with a baseline is kept in the evaluated run's folder, so the web app shows a
comparison made by ``slicelens repair``, ``slicelens evaluate`` or the demo (not only the
ones its own jobs made).

Layout: ``<run>/evaluations/<baseline id>.json`` (the report, JSON).

Examples
--------
>>> save_evaluation(run, report)                      # doctest: +SKIP
>>> load_evaluation(run, "run-0001-demo")["verdict"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path


def evaluation_path(run, baseline_id: str) -> Path:
    """Where the comparison of ``run`` with ``baseline_id`` is stored."""
    return run.artifact_path("evaluation", baseline_id)


def save_evaluation(run, report: dict) -> Path:
    """Store a report of :func:`evaluate_run` that has a baseline; returns its path."""
    from slicelens.store.atomic import write_json

    if not report.get("baseline"):
        raise ValueError("only a comparison with a baseline is stored")
    path = evaluation_path(run, report["baseline"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report)
    return path


def load_evaluation(run, baseline_id: str) -> dict | None:
    """The stored comparison of ``run`` with ``baseline_id``, or None when there is none."""
    path = evaluation_path(run, baseline_id)
    if not path.exists():
        return None
    return json.loads(path.read_text())
