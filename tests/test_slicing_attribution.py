"""The attribution slicer, the error-clustering baseline and find_slices on a synthetic run."""

from __future__ import annotations

import numpy as np
import pytest
from test_slicing_support import groups_of, write_run

from slicelens.errors import WorkspaceError
from slicelens.pipeline.slices import assign_all, find_slices, load_slices
from slicelens.slicing.consistency import attribution_consistency
from slicelens.slicing.slicer_attribution import AttributionSlicer, hull_polygon
from slicelens.slicing.slicer_errors import ErrorClusteringSlicer

FAST = {"n_epochs": 50}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("attr") / "runs" / "run-0001-synth")


@pytest.fixture(scope="module")
def two_start(run):
    """Started at 2 clusters for 3 orthogonal groups: must over-cluster."""
    return AttributionSlicer(min_clusters=2, step=1, **FAST).fit(run, "val")


def test_over_clustering_until_every_slice_is_consistent(run, two_start):
    s = two_start
    val = run.samples.split.to_numpy() == "val"
    fw = np.asarray(run.array("fw"))[val]
    # two clusters must mix two orthogonal groups (C_S ~ .7): the loop goes on
    assert s.trace_[0]["k"] == 2 and s.trace_[0]["min_consistency"] < 0.8
    assert s.trace_[-1]["k"] > 2 and s.threshold_reached_
    cons = attribution_consistency(fw, s.labels_, len(s.slices_))
    sizes = np.bincount(s.labels_, minlength=len(s.slices_))
    assert (cons[sizes >= 5] >= 0.8).all()
    assert [x.evidence["consistency"] for x in s.slices_] == pytest.approx(cons.tolist())
    # the failing planted group (label a, predicted b) is found as pure slices ranked first
    g = groups_of(run)[val]
    top = s.slices_[0]
    assert top.metrics["accuracy"] == 0.0
    assert set(g[np.isin(s.sample_ids_, top.members)]) == {2}
    assert top.description.startswith("label: a; prediction: b")


def test_threshold_not_reached_is_reported(run):
    s = AttributionSlicer(min_clusters=2, max_clusters=2, **FAST).fit(run, "val")
    assert len(s.slices_) == 2 and not s.threshold_reached_
    assert s.slices_[0].evidence["threshold_reached"] is False


def test_hulls_contain_members_and_members_are_ordered_by_typicality(run, two_start):
    from matplotlib.path import Path as MPath

    s = two_start
    for i, sl in enumerate(s.slices_):
        pts = s.layout_[s.labels_ == i]
        poly = np.asarray(sl.polygon)
        assert MPath(poly).contains_points(pts, radius=1e-6).mean() >= 0.9 or len(poly) == 4
        lo, hi = poly.min(0) - 1e-5, poly.max(0) + 1e-5
        assert ((pts >= lo) & (pts <= hi)).all()
        centre = np.asarray(sl.evidence["centroid"])
        pos = {sid: k for k, sid in enumerate(s.sample_ids_)}
        d = [np.linalg.norm(s.layout_[pos[m]] - centre) for m in sl.members]
        assert d == sorted(d)


def test_degenerate_hulls_become_boxes():
    layout = np.array([[0.0, 0], [10, 10]])
    one = hull_polygon(np.array([[1.0, 1.0]]), layout)
    assert np.allclose(one, [[0.9, 0.9], [1.1, 0.9], [1.1, 1.1], [0.9, 1.1]])
    line = hull_polygon(np.array([[0.0, 0], [1, 1], [2, 2]]), layout)
    assert len(line) == 4 and np.allclose(np.min(line, 0), [-0.1, -0.1])


def test_assign_maps_the_fit_split_back_to_its_slices(run, two_start):
    assert (two_start.assign(run, "val") == two_start.labels_).mean() > 0.9


def test_confusion_segregation_gives_pure_cells(run):
    s = AttributionSlicer(min_clusters=4, segregate="confusion", **FAST).fit(run, "val")
    val = run.samples[run.samples.split == "val"].set_index("id")
    for sl in s.slices_:
        cells = val.loc[sl.members, ["label", "pred"]].drop_duplicates()
        assert len(cells) == 1, sl.id
    assert (s.assign(run, "pool") == -1).all()        # no label, no cell
    test = s.assign(run, "test")
    t = run.samples[run.samples.split == "test"]
    for idx, cell in zip(test, zip(t.label, t.pred, strict=True), strict=True):
        members = val.loc[s.slices_[idx].members[:1]]
        assert (members.label.iloc[0], members.pred.iloc[0]) == cell


def test_error_clustering_isolates_the_failure(run):
    s = ErrorClusteringSlicer(n_slices=3).fit(run, "val")
    val = run.samples.split.to_numpy() == "val"
    g = groups_of(run)[val]
    top = s.slices_[0]
    assert top.metrics["accuracy"] == 0.0
    assert set(g[np.isin(s.sample_ids_, top.members)]) == {2}
    assert s.layout_.shape == (val.sum(), 2)


def test_find_slices_saves_ranked_slices_with_metrics_per_split(run):
    ss = find_slices(run, "attribution", {"min_clusters": 3, **FAST})
    again = load_slices(run, "attribution")
    assert [s.id for s in again.slices] == [s.id for s in ss.slices]
    by = ss.slices[0].metrics["by_split"]
    assert set(by) == {"val", "test", "pool"}
    assert by["val"]["size"] == ss.slices[0].size
    labels = assign_all(run, ss)
    assert np.array_equal(labels["val"], ss.labels)
    for split, lab in labels.items():
        sizes = np.bincount(lab[lab >= 0], minlength=len(ss.slices))
        assert sizes.tolist() == [s.metrics["by_split"][split]["size"] for s in ss.slices]
    assert np.isnan(by["pool"]["accuracy"]) or by["pool"]["accuracy"] is None
    highs = [s.metrics["acc_high"] for s in again.slices]
    assert highs == sorted(highs)


def test_assign_all_without_saved_assignments_says_what_to_do(tmp_path):
    r = write_run(tmp_path / "runs" / "run-0001-x")
    ss = find_slices(r, "error-clustering", {"n_slices": 3})
    (r.path / "slices" / "error-clustering.assign.npz").unlink()
    with pytest.raises(WorkspaceError, match="slicelens slices --slicer error-clustering"):
        assign_all(r, ss)
    with pytest.raises(WorkspaceError, match="no slices from 'attribution'"):
        load_slices(r, "attribution")
