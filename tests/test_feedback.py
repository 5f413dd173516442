"""Slice marks on top of the annotation store: validation, edit / undo / redo in force.

Also holds ``make_run`` / ``make_slices``: a tiny synthetic run (no model) with a slice set
of three well-separated 2-D clusters, used by the propagation and CoRM tests too.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_synthetic_run

from slicelens.errors import DataError, SliceLensError, WorkspaceError
from slicelens.feedback import (
    annotate_slice,
    edit_mark,
    list_marks,
    mark_history,
    redo_mark,
    slice_marks,
    undo_mark,
)
from slicelens.slicing.base import Slice, SliceSet
from slicelens.store import Workspace

SLICER = "toy"
SPLITS = {"train": 12, "val": 12, "test": 6}


def make_run(root, grid: int = 4, size: int = 8, seed: int = 0):
    """A complete run of 30 synthetic samples (12 train, 12 val, 6 test), no model."""
    ws = Workspace(root / "ws")
    run_id, path = ws.new_run_dir("synthetic")
    rng = np.random.default_rng(seed)
    splits = np.concatenate([[s] * k for s, k in SPLITS.items()])
    n = len(splits)
    labels = np.arange(n) % 2
    pred = np.where(np.arange(n) % 3 == 0, 1 - labels, labels)
    conf, loss, maps = rng.uniform(0.5, 1, n), rng.uniform(0, 2, n), rng.uniform(0, 1, (n, grid, grid))
    logits, features, fw = (rng.normal(size=(n, k)) for k in (2, 4, 4))
    write_synthetic_run(path, labels, pred, splits, ids=[f"s{i:03d}" for i in range(n)],
                        confidence=conf, loss=loss, logits=logits, probs=np.full((n, 2), 0.5),
                        features=features, fw=fw, maps=maps / maps.sum(axis=(1, 2), keepdims=True),
                        record={"model": {"spec": "synthetic", "input_size": size}})
    return ws, ws.run(run_id)


def make_slices(run, save: bool = True) -> SliceSet:
    """Three slices of 4 val samples each at x = 0, 5, 10 (plus jitter) in a 2-D layout."""
    s = run.samples
    val = s["id"].to_numpy(str)[s["split"].to_numpy() == "val"]
    labels = np.repeat([0, 1, 2], 4)
    rng = np.random.default_rng(1)
    layout = np.c_[labels * 5.0, np.zeros(12)] + rng.normal(0, 0.3, (12, 2))
    slices = [Slice(f"{SLICER}-{k}", val[labels == k], description=f"cluster {k}",
                    metrics={"size": 4, "accuracy": 0.5}) for k in range(3)]
    ss = SliceSet(SLICER, {}, run.id, "val", slices, val, labels, layout)
    if save:
        ss.save(run.path)
    return ss


@pytest.fixture
def marked(tmp_path):
    ws, run = make_run(tmp_path)
    make_slices(run)
    return ws, run


def test_annotate_validates_slice_and_label(marked):
    ws, run = marked
    a = annotate_slice(ws, run, SLICER, "toy-1", "spurious", "brick background", "ana")
    assert (a.target_id, a.label, a.scope, a.run_id, a.author) == ("toy-1", "spurious", SLICER,
                                                                   run.id, "ana")
    with pytest.raises(SliceLensError, match="no slice 'toy-9'"):
        annotate_slice(ws, run, SLICER, "toy-9", "core")
    with pytest.raises(DataError, match="not a slice label"):
        annotate_slice(ws, run, SLICER, "toy-1", "valid")
    with pytest.raises(WorkspaceError, match="no slices from 'other'"):
        annotate_slice(ws, run, "other", "toy-1", "core")
    assert [m.id for m in list_marks(ws, run, SLICER)] == [a.id]


def test_edit_undo_redo_change_the_mark_in_force(marked):
    ws, run = marked
    first = annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    second = annotate_slice(ws, run, SLICER, "toy-0", "core")
    other = annotate_slice(ws, run, SLICER, "toy-2", "wrong_labels")
    marks = slice_marks(ws, run, SLICER)
    assert marks["toy-0"].id == second.id and marks["toy-2"].id == other.id
    undo_mark(ws, second.id, author="bo")
    assert slice_marks(ws, run, SLICER)["toy-0"].label == "spurious"
    edit_mark(ws, first.id, label="wrong_labels", author="bo")
    assert slice_marks(ws, run, SLICER)["toy-0"].label == "wrong_labels"
    redo_mark(ws, second.id, author="bo")  # redone last: the newest decision wins
    assert slice_marks(ws, run, SLICER)["toy-0"].id == second.id
    undo_mark(ws, other.id)
    assert "toy-2" not in slice_marks(ws, run, SLICER)
    assert [e.action for e in mark_history(ws, second.id)] == ["create", "undo", "redo"]
    assert len(list_marks(ws, run, SLICER, include_undone=True)) == 3


def test_marks_are_scoped_by_run_and_slicer(marked, tmp_path):
    ws, run = marked
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    ws.db.add(run.id, "slice", "toy-1", "core", scope="another-slicer")
    ws.db.add("run-9999-other", "slice", "toy-1", "core", scope=SLICER)
    assert list(slice_marks(ws, run, SLICER)) == ["toy-0"]
    concept = ws.db.add(run.id, "concept", "water", "valid")
    with pytest.raises(DataError, match="not a slice mark"):
        undo_mark(ws, concept)
    # the library takes a Workspace; a path fails loudly, naming what to pass instead
    with pytest.raises(TypeError, match=r"slice_marks needs a slicelens Workspace, not str.*Workspace\(path\)"):
        slice_marks(str(ws.root), run, SLICER)


def _recomputed(run):
    """The val samples re-sliced into two renumbered slices: "toy-0" = v6..v11 (mostly the
    old toy-2), "toy-1" = v0..v5 (the old toy-0 plus two of toy-1); the old toy-1 is split."""
    s = run.samples
    val = s["id"].to_numpy(str)[s["split"].to_numpy() == "val"]
    labels = np.r_[np.ones(6, int), np.zeros(6, int)]
    slices = [Slice(f"{SLICER}-0", val[6:]), Slice(f"{SLICER}-1", val[:6])]
    layout = np.c_[labels * 5.0, np.zeros(12)]
    SliceSet(SLICER, {"seed": 7}, run.id, "val", slices, val, labels, layout).save(run.path)


def test_marks_follow_their_images_when_slices_are_recomputed(marked):
    from slicelens.feedback import current_spuriousness, resolve_marks

    ws, run = marked
    spur = annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    wrong = annotate_slice(ws, run, SLICER, "toy-1", "wrong_labels")
    core = annotate_slice(ws, run, SLICER, "toy-2", "core")
    _recomputed(run)
    marks = slice_marks(ws, run, SLICER)
    # J(old toy-0, new toy-1) = 4/6, J(old toy-2, new toy-0) = 4/6; old toy-1 is orphaned
    assert {sid: a.id for sid, a in marks.items()} == {"toy-1": spur.id, "toy-0": core.id}
    assert marks["toy-1"].target_id == "toy-0"  # the stored mark keeps where it was made
    states = {r.annotation.id: (r.slice_id, r.state) for r in resolve_marks(ws, run, SLICER)}
    assert states == {spur.id: ("toy-1", "moved"), wrong.id: (None, "orphaned"),
                      core.id: ("toy-0", "moved")}
    t = current_spuriousness(ws, run, SLICER).set_index("slice_id")
    assert t.loc["toy-1", "mark"] == "spurious" and t.loc["toy-0", "mark"] == "core"


def test_marks_without_stored_members_resolve_by_id(marked):
    from slicelens.feedback import resolve_marks

    ws, run = marked
    old = ws.db.add(run.id, "slice", "toy-2", "core", scope=SLICER)  # no members stored
    [r] = resolve_marks(ws, run, SLICER)
    assert (r.annotation.id, r.slice_id, r.state) == (old, "toy-2", "unanchored")
    assert ws.db.members([old]) == {}


def test_annotate_cli_exits_0_once_the_mark_is_saved(marked, capsys):
    from slicelens.cli import main

    ws, run = marked
    ss = SliceSet.load(run.path, SLICER)
    ss.layout = None  # no layout: the spuriousness table cannot be made
    ss.save(run.path)
    argv = ["annotate", "--workspace", str(ws.root), "--run", run.id, "--slicer", SLICER,
            "--slice", "toy-1", "--label", "spurious"]
    assert main(argv) == 0
    assert "mark saved; no spuriousness table" in capsys.readouterr().out
    assert [m.target_id for m in list_marks(ws, run, SLICER)] == ["toy-1"]


def test_runs_lists_incomplete_runs_with_a_resume_hint(marked, capsys):
    from slicelens.cli import main

    ws, run = marked
    _, path = ws.new_run_dir("killed")
    (path / "record.json").write_text(json.dumps({
        "status": "running", "data": {"source": "/data/m.csv", "skip_bad": True},
        "model": {"spec": "small-cnn", "weights": "w.pt"},
        "extract": {"batch_size": 64, "splits": ["val", "test"], "device": "cpu"}}))
    ws.new_run_dir("empty")
    assert main(["runs", "--workspace", str(ws.root)]) == 0
    out = capsys.readouterr().out
    assert run.id in out and "2 incomplete runs" in out
    assert (f"slicelens extract --workspace {ws.root} --data /data/m.csv --model small-cnn "
            f"--weights w.pt --skip-bad --splits val test --resume {path.name}") in out
    assert "no record.json" in out


def test_slices_command_says_where_marks_went(marked, capsys):
    from slicelens.cli.slices import _report_marks

    ws, run = marked
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    wrong = annotate_slice(ws, run, SLICER, "toy-1", "wrong_labels")
    _recomputed(run)
    _report_marks(ws, run, SLICER)
    out = capsys.readouterr().out
    assert "marks: 1 moved, 1 orphaned" in out
    assert f"mark {wrong.id} (wrong_labels) on toy-1 is orphaned" in out
