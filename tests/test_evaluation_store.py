"""Comparisons are stored beside the evaluated run and read back (the web app's Repair
tab shows comparisons made by the CLI or the demo)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from slicelens.errors import DataError
from slicelens.evaluate.compare import group_comparison, slice_comparison
from slicelens.evaluate.groups import group_accuracy
from slicelens.evaluate.report import EvaluationReport, GroupRow, ModelScores, SliceRow
from slicelens.evaluate.robustness import RobustnessResult
from slicelens.pipeline.evaluations import evaluation_path, load_evaluation, save_evaluation


def test_a_comparison_round_trips_per_baseline(tmp_path):
    run = SimpleNamespace(path=tmp_path / "run-0002-dfr")
    assert load_evaluation(run, "run-0001-demo") is None
    report = EvaluationReport(run="run-0002-dfr", baseline="run-0001-demo", verdict="beats",
                              slices=[SliceRow("a", 5, 0.8, 0.4, 0.9, 0.4, 0.1, 0.7, -0.4)])
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


def _plain_report() -> dict:
    """A report as evaluate_run stored it when its rows were dicts, from the same tables."""
    ids = list("abcdef")
    before = pd.DataFrame({"id": ids, "label": [0, 1, 0, 1, 0, -1],
                           "correct": [True, False, False, True, True, False]})
    after = before.assign(correct=[True, True, False, True, False, True])
    control = before.assign(correct=[False, True, True, True, True, False])
    names = pd.Series(["s1", "s1", "", "s2", "s2", "s1"], index=ids)
    slices = slice_comparison(before, after, names)
    vs = slice_comparison(control, after, names)
    slices["acc_control"], slices["delta_vs_control"] = vs["acc_before"].to_numpy(), vs["delta"].to_numpy()
    groups = group_comparison(before, after, pd.Series(["g1", "g2"] * 3, index=ids))
    rob = RobustnessResult(n=5, clean=0.8, core=0.6, spurious=0.2, rcs=float("nan"),
                           core_trials=[0.6, 0.6], spurious_trials=[0.2, 0.2]).to_dict()
    models = [{"run": "r1", "role": "before", **rob, "average": 0.6},
              {"run": "r3", "role": "control", **rob, "average": 0.8, "worst_slice": "s2",
               "worst_slice_accuracy": 0.5},
              {"run": "r2", "role": "after", **rob, "average": 0.8, "worst_slice": "s1",
               "worst_slice_accuracy": 0.5, "worst_group": "g1", "worst_group_accuracy": 0.5}]
    return {"run": "r2", "baseline": "r1", "control": "r3", "split": "test", "n": 5,
            "mask_source": "ground_truth", "mask_note": "x", "ground_truth": "gt.csv",
            "params": {"sigma": 0.25, "trials": 2}, "models": models,
            "groups": groups.to_dict("records"), "slices": slices.to_dict("records"),
            "slicer": "errs", "versus_control": {"average": 0.0}, "verdict": "v"}


def test_rows_are_typed_and_the_stored_json_keeps_its_bytes(tmp_path):
    old = _plain_report()
    rep = EvaluationReport.from_json(json.loads(json.dumps(old)))
    assert all(isinstance(m, ModelScores) for m in rep.models)
    assert all(isinstance(g, GroupRow) for g in rep.groups)
    assert all(isinstance(s, SliceRow) for s in rep.slices)
    assert rep.model("after").worst_group == "g1" and rep.model("before").worst_slice is None
    assert rep.slices[-1].slice_id == "(all)" and rep.slices[0].acc_control is not None
    # what evaluate_run builds from the tables is written byte for byte as before
    built = EvaluationReport(**{**old, "models": [ModelScores(**m) for m in old["models"]],
                                "groups": [GroupRow(**g) for g in old["groups"]],
                                "slices": [SliceRow(**s) for s in old["slices"]]})
    for report in (rep, built):
        assert json.dumps(report.to_json()) == json.dumps(old)
    run = SimpleNamespace(path=tmp_path / "r2")
    path = save_evaluation(run, built)
    from slicelens.store.atomic import write_json

    write_json(tmp_path / "old.json", old)
    assert path.read_bytes() == (tmp_path / "old.json").read_bytes()
    # a report without baseline has per-group accuracies, in their own keys
    plain = group_accuracy(np.array([1, 0, 1], bool), np.array(["a", "a", "b"])).to_dict("records")
    assert [json.dumps(GroupRow(**g).to_json()) for g in plain] == [json.dumps(g) for g in plain]


def test_a_bad_row_is_named(tmp_path):
    old = _plain_report()
    old["slices"][0]["acc_cotrol"] = 1.0
    with pytest.raises(DataError, match="unknown SliceRow keys \\['acc_cotrol'\\]"):
        EvaluationReport.from_json(old, "x.json")
    del old["slices"][0]["acc_cotrol"], old["models"][0]["clean"]
    with pytest.raises(DataError, match="incomplete ModelScores.*clean"):
        EvaluationReport.from_json(old, "x.json")
