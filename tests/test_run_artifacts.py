"""A run knows its artifacts by name (``slicelens.store.artifacts``) and its record is a
validated :class:`~slicelens.store.record.RunRecord`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slicelens.attributes.base import Attribute, AttributeSpec
from slicelens.attributes.runio import save_spec
from slicelens.errors import DataError, WorkspaceError
from slicelens.evaluate.report import EvaluationReport
from slicelens.pipeline.evaluations import save_evaluation
from slicelens.repair.plan import TrainingPlan
from slicelens.slicing.base import SliceSet
from slicelens.slicing.runio import save_assignments
from slicelens.store import Workspace, as_workspace, atomic
from slicelens.store.artifacts import LAYOUT, artifact_path
from slicelens.store.record import RunRecord

SRC = Path(__file__).resolve().parents[1] / "src" / "slicelens"


def _run(tmp_path, record=None):
    ws = Workspace(tmp_path / "ws")
    _, path = ws.new_run_dir("fake")
    atomic.write_json(path / "record.json", record or {
        "status": "complete", "classes": ["a", "b"], "run_id": path.name,
        "model": {"spec": "small-cnn", "input_size": 24}, "data": {"source": "m.csv"},
        "some_future_field": {"kept": True}})
    for name in ("logits", "probs", "features", "fw", "maps"):
        atomic.save_npy(path / f"{name}.npy", np.zeros((3, 2), np.float32))
    atomic.write_parquet(path / "samples.parquet", pd.DataFrame(
        {"id": ["x", "y", "z"], "split": ["val", "val", "train"]}))
    return ws, ws.run(path.name)


def test_a_run_reads_its_artifacts_by_name(tmp_path):
    ws, run = _run(tmp_path)
    assert as_workspace(ws) is ws and as_workspace(ws.root).root == ws.root
    assert run.artifact_names("slices") == [] and run.tda_results() == {}
    assert run.plan() is None and run.attribute_spec() is None and run.evaluations() == {}
    assert run.attribute_matrix() is None
    ss = SliceSet("errs", {"k": 2}, run.id, "val", [], np.array(["x", "y"]), np.array([0, -1]))
    ss.save(run.path)
    save_assignments(run, ss, run.samples, np.array([0, -1, 0]))
    assert run.artifact_names("slices") == ["errs"]           # not errs.assign
    assert run.artifact_names("slice_arrays") == ["errs"]
    assert run.slice_set("errs").sample_ids.tolist() == ["x", "y"]
    assert [s.slicer for s in run.slice_sets()] == ["errs"]
    assert {k: v.tolist() for k, v in run.assignments("errs").items()} == {"val": [0, -1],
                                                                           "train": [0]}
    assert run.artifact_path("assignments", "errs") == run.path / "slices" / "errs.assign.npz"
    with pytest.raises(WorkspaceError, match="have: \\['errs'\\]"):
        run.slice_set("other")
    save_spec(run, AttributeSpec([Attribute("background", values=["grass", "sand"])]))
    assert run.attribute_spec().attributes[0].values == ["grass", "sand"]
    TrainingPlan(strategy="dfr", remove=["x"]).save(run.artifact_path("plan"))
    assert run.plan().remove == ["x"]
    report = EvaluationReport(run=run.id, baseline="run-0001-base", verdict="beats")
    save_evaluation(run, report)
    assert run.evaluations() == {"run-0001-base": report}
    assert run.evaluation("run-0001-base") == report and run.evaluation("nope") is None
    # the typed reads (kinds declared by the parts that own the formats) read the same
    from slicelens.attributes.runio import ATTRIBUTE_MATRIX, ATTRIBUTE_SPEC
    from slicelens.evaluate.report import EVALUATION
    from slicelens.repair.plan import PLAN
    from slicelens.slicing.runio import ASSIGNMENTS, SLICES

    assert isinstance(run.artifact(SLICES, "errs"), SliceSet)
    assert run.artifact(SLICES, "errs").sample_ids.tolist() == ["x", "y"]
    assert run.artifact(ASSIGNMENTS, "errs")["val"].tolist() == [0, -1]
    assert run.artifact(ATTRIBUTE_SPEC).attributes[0].values == ["grass", "sand"]
    assert run.artifact(ATTRIBUTE_MATRIX) is None and run.artifact(PLAN).remove == ["x"]
    assert run.artifact(EVALUATION, "run-0001-base") == report
    with pytest.raises(WorkspaceError, match="have: \\['errs'\\]"):
        run.artifact(SLICES, "other")


def test_every_readable_kind_is_declared_typed_by_its_part():
    import importlib

    from slicelens.store.artifacts import READER_MODULES, ArtifactKind

    for kind, module in READER_MODULES.items():
        declared = [v for v in vars(importlib.import_module(module)).values()
                    if isinstance(v, ArtifactKind) and v.kind == kind]
        assert declared, f"{module} declares no ArtifactKind({kind!r}) for typed reads"
    with pytest.raises(WorkspaceError, match="unknown run artifact 'slice'"):
        ArtifactKind("slice")


def test_artifact_names_and_kinds_are_checked(tmp_path):
    with pytest.raises(WorkspaceError, match="unknown run artifact 'slice'"):
        artifact_path(tmp_path, "slice", "x")
    with pytest.raises(WorkspaceError, match="needs a name"):
        artifact_path(tmp_path, "tda")
    with pytest.raises(WorkspaceError, match="not an artifact name"):
        artifact_path(tmp_path, "slices", "../../etc")


def test_the_record_is_typed_and_keeps_what_it_does_not_know(tmp_path):
    _, run = _run(tmp_path)
    rec = run.record
    assert isinstance(rec, RunRecord) and rec.model.input_size == rec.input_size == 24
    assert rec.classes == ["a", "b"] and rec.control_run is None and not rec.is_derived
    assert rec["model"]["spec"] == "small-cnn"                   # the JSON value, as before
    with pytest.raises(KeyError):
        rec["control_run"]                                        # not in the file
    run.update_record(control_run="run-0009-control", base_run="run-0001-base")
    raw = json.loads(run.artifact_path("record").read_text())
    assert raw["control_run"] == "run-0009-control" and raw["some_future_field"] == {"kept": True}
    assert "plan" not in raw                                      # unset fields stay out
    assert run.record.is_derived and run.is_derived


def test_a_bad_record_names_the_file_and_the_field(tmp_path):
    ws, run = _run(tmp_path)
    path = run.artifact_path("record")
    atomic.write_json(path, {"status": "complete", "classes": ["a"],
                             "model": {"input_size": "large"}})
    with pytest.raises(DataError, match=r"field 'model.input_size'") as e:
        _ = run.record
    assert str(path) in str(e.value)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not JSON"):
        ws.run(run.id)


def test_no_artifact_path_is_joined_by_hand():
    """Artifact paths come from the table in ``store/artifacts.py`` (``run.artifact_path``)."""
    folders = sorted({p.split("/")[0] for p in LAYOUT.values() if "/" in p})
    pattern = re.compile(r'/ "(' + "|".join(folders) + r')"|/ "record\.json"')
    found = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py") if p.parent.name != "store"
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, "join artifact paths with run.artifact_path(kind, name): " + ", ".join(found)
