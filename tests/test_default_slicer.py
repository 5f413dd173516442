"""The default slicer (issue 13's rule: error-aware) and the preferred stored slice set that
readers fall back to when no slicer is named."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from slicelens.slicing.base import DEFAULT_SLICER


def _run(tmp_path, record=None):
    from conftest import write_synthetic_run

    rng = np.random.default_rng(0)
    n = 240
    label = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.8, label, 1 - label)
    split = np.array(["train"] * 120 + ["val"] * 120)
    return write_synthetic_run(tmp_path / "run", label, pred, split,
                               features=rng.normal(size=(n, 8)), record=record)


def test_default_is_error_aware_and_fits_when_unnamed(tmp_path):
    from slicelens.pipeline.slices import find_slices

    assert DEFAULT_SLICER == "error-aware"
    run = _run(tmp_path)
    ss = find_slices(run, params={"n_slices": 3})
    assert ss.slicer == "error-aware" and run.has_artifact("slices", "error-aware")


def test_preferred_slicer_order(tmp_path):
    from slicelens.pipeline.slices import find_slices
    from slicelens.slicing.runio import preferred_slicer

    run = _run(tmp_path)
    assert preferred_slicer(run) == DEFAULT_SLICER  # nothing stored: the default, so the
    find_slices(run, "error-clustering", {"n_slices": 3})  # reader names what to run
    assert preferred_slicer(run) == "error-clustering"  # the only (newest) stored set
    find_slices(run, "attribution", {"min_clusters": 2, "n_epochs": 20, "max_clusters": 3})
    path = run.artifact_path("slices", "error-clustering")
    later = time.time() + 5
    os.utime(path, (later, later))  # error-clustering newer, but attribution comes first
    assert preferred_slicer(run) == "attribution"
    find_slices(run, "error-aware", {"n_slices": 3})
    assert preferred_slicer(run) == "error-aware"


def test_repair_params_auto_resolve_to_the_preferred_set(tmp_path):
    """CoRM's ``slicer="auto"`` reads the marks of the run's preferred set: with no mark
    there, the error names that set."""
    from slicelens.errors import SliceLensError
    from slicelens.pipeline.slices import find_slices
    from slicelens.repair.base import get_repair
    from slicelens.store import Workspace

    ws = Workspace(tmp_path / "ws")
    run = _run(tmp_path)
    find_slices(run, "error-clustering", {"n_slices": 3})
    with pytest.raises(SliceLensError, match="error-clustering"):
        get_repair("corm").plan(ws, run)


def test_repair_auto_reads_the_set_that_holds_the_marks(tmp_path):
    """A person marked attribution slices, then the default slicer's set was stored (the
    preferred one): a mark-reading repair's ``slicer="auto"`` still reads their marks; once
    the mark is undone it falls back to the preferred set."""
    from slicelens.feedback import annotate_slice, undo_mark
    from slicelens.feedback.annotations import marked_slicer
    from slicelens.pipeline.slices import find_slices
    from slicelens.repair.base import get_repair
    from slicelens.store import Workspace

    ws = Workspace(tmp_path / "ws")
    run = _run(tmp_path, record={"model": {"spec": "synthetic", "input_size": 8}})
    att = find_slices(run, "attribution", {"min_clusters": 2, "n_epochs": 20, "max_clusters": 3})
    a = annotate_slice(ws, run, "attribution", att.slices[0].id, "spurious", "brick")
    find_slices(run, "error-aware", {"n_slices": 3})
    assert marked_slicer(ws, run) == "attribution"
    plan = get_repair("corm").plan(ws, run)
    assert plan.params["slicer"] == "attribution"
    undo_mark(ws, a.id)
    assert marked_slicer(ws, run) == "error-aware"
