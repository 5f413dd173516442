"""Comparisons are stored beside the evaluated run and read back (the web app's Repair
tab shows comparisons made by the CLI or the demo)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from slicelens.errors import DataError
from slicelens.evaluate.report import EvaluationReport
from slicelens.pipeline.evaluations import evaluation_path, load_evaluation, save_evaluation


def test_a_comparison_round_trips_per_baseline(tmp_path):
    run = SimpleNamespace(path=tmp_path / "run-0002-dfr")
    assert load_evaluation(run, "run-0001-demo") is None
    report = EvaluationReport(run="run-0002-dfr", baseline="run-0001-demo", verdict="beats",
                              slices=[{"slice_id": "a", "delta": -0.4}])
    path = save_evaluation(run, report)
    assert path == evaluation_path(run, "run-0001-demo") == tmp_path / "run-0002-dfr" / \
        "evaluations" / "run-0001-demo.json"
    assert load_evaluation(run, "run-0001-demo") == report
    assert load_evaluation(run, "run-0003-control") is None
    with pytest.raises(ValueError, match="baseline"):
        save_evaluation(run, EvaluationReport(run="run-0002-dfr", baseline=None))


def test_the_stored_json_keeps_its_keys_and_a_bad_one_is_named(tmp_path):
    run = SimpleNamespace(path=tmp_path / "run-0002-dfr")
    path = save_evaluation(run, EvaluationReport(run="run-0002-dfr", baseline="run-0001-demo"))
    assert set(json.loads(path.read_text())) == {
        "run", "baseline", "control", "split", "n", "mask_source", "mask_note", "ground_truth",
        "params", "models", "groups", "slices", "slicer", "versus_control", "verdict"}
    path.write_text(json.dumps({"run": "run-0002-dfr", "verdikt": "x"}))
    with pytest.raises(DataError, match="verdikt") as e:
        load_evaluation(run, "run-0001-demo")
    assert str(path) in str(e.value)
