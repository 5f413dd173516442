"""Spuriousness propagation: human marks override, scores follow every mark, no invented numbers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.semi_supervised import LabelSpreading
from test_feedback import SLICER, make_run, make_slices

from slicelens.errors import SliceLensError
from slicelens.feedback import PropagationParams, annotate_slice, current_spuriousness, spuriousness
from slicelens.feedback.propagation import with_slice_metrics


@pytest.fixture
def loop(tmp_path):
    ws, run = make_run(tmp_path)
    return ws, run, make_slices(run)


def _by_id(table):
    return table.set_index("slice_id")


def test_no_marks_gives_nan_not_a_number(loop):
    ws, run, _ = loop
    t = current_spuriousness(ws, run, SLICER)
    assert t["slice_id"].tolist() == ["toy-0", "toy-1", "toy-2"]
    assert t["spuriousness"].isna().all() and (t["source"] == "none").all()
    assert "no core/spurious mark" in t.attrs["note"]
    annotate_slice(ws, run, SLICER, "toy-0", "wrong_labels")  # does not seed
    t = _by_id(current_spuriousness(ws, run, SLICER))
    assert t["spuriousness"].isna().all() and t.loc["toy-0", "mark"] == "wrong_labels"


def test_scores_update_after_each_mark(loop):
    ws, run, ss = loop
    paper = PropagationParams(method="label-spreading")
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    one = _by_id(current_spuriousness(ws, run, SLICER, paper))
    assert "relative affinity" in one.attrs["note"]
    assert one.loc["toy-0", "source"] == "human" and one.loc["toy-0", "spuriousness"] == 1.0
    # nearer the spurious mark means more spurious (toy-1 at x=5, toy-2 at x=10)
    assert one.loc["toy-1", "spuriousness"] > one.loc["toy-2", "spuriousness"]
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    two = _by_id(current_spuriousness(ws, run, SLICER, paper))
    assert "two classes" in two.attrs["note"]
    assert two.loc["toy-2", ["spuriousness", "source"]].tolist() == [0.0, "human"]
    assert two.loc["toy-1", "source"] == "propagated"
    assert two.loc["toy-1", "spuriousness"] != one.loc["toy-1", "spuriousness"]
    # the paper's setting: scikit-learn's LabelSpreading defaults on the standardised layout
    xy = (ss.layout - ss.layout.mean(0)) / (ss.layout - ss.layout.mean(0)).std()
    y = np.where(ss.labels == 0, 1, np.where(ss.labels == 2, 0, -1))
    ls = LabelSpreading().fit(xy, y)
    expected = ls.label_distributions_[ss.labels == 1, list(ls.classes_).index(1)].mean()
    assert two.loc["toy-1", "spuriousness"] == pytest.approx(expected)


def test_human_marks_always_override(loop):
    ws, run, _ = loop
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    t = _by_id(current_spuriousness(ws, run, SLICER))
    assert 0 < t.loc["toy-1", "spuriousness"] < 1 and t.loc["toy-1", "source"] == "propagated"
    annotate_slice(ws, run, SLICER, "toy-1", "spurious")
    annotate_slice(ws, run, SLICER, "toy-0", "core", "the digit after all")  # newest mark wins
    t = _by_id(current_spuriousness(ws, run, SLICER))
    assert t["source"].tolist() == ["human"] * 3
    assert t["spuriousness"].tolist() == [0.0, 1.0, 0.0]


def test_wrong_label_marks_do_not_seed(loop):
    ws, run, _ = loop
    annotate_slice(ws, run, SLICER, "toy-0", "wrong_labels")
    annotate_slice(ws, run, SLICER, "toy-1", "spurious")
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    t = _by_id(current_spuriousness(ws, run, SLICER))
    assert t.loc["toy-0", "source"] == "propagated" and t.loc["toy-0", "mark"] == "wrong_labels"
    assert t.loc["toy-0", "spuriousness"] > 0.5  # nearer the spurious slice


def test_unreached_slices_are_nan(loop):
    ws, run, ss = loop
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    annotate_slice(ws, run, SLICER, "toy-1", "core")
    # a 3-nearest-neighbour graph leaves each 4-sample cluster on its own
    t = _by_id(spuriousness(run, ss, ws.db.list(run_id=run.id),
                            PropagationParams(method="label-spreading", kernel="knn",
                                              n_neighbors=3)))
    assert np.isnan(t.loc["toy-2", "spuriousness"]) and t.loc["toy-2", "source"] == "propagated"


def test_subset_graph_matches_full_graph(loop):
    ws, run, ss = loop
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    marks = ws.db.list(run_id=run.id)
    paper = PropagationParams(method="label-spreading")
    full = _by_id(spuriousness(run, ss, marks, paper))
    part = _by_id(spuriousness(run, ss, marks, PropagationParams(method="label-spreading",
                                                                 max_samples=10)))
    assert np.isfinite(part["spuriousness"]).all()
    assert part.loc["toy-1", "spuriousness"] == pytest.approx(full.loc["toy-1", "spuriousness"],
                                                              abs=0.2)


def test_errors_name_the_problem(loop):
    ws, run, ss = loop
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    marks = ws.db.list(run_id=run.id)
    ss.layout = None
    with pytest.raises(SliceLensError, match="no 2-D layout"):
        spuriousness(run, ss, marks)
    ss.slices = ss.slices[1:]
    ss.layout = np.zeros((12, 2))
    with pytest.raises(SliceLensError, match="does not have"):
        spuriousness(run, ss, marks)


def test_display_table_carries_slice_metrics(loop):
    ws, run, ss = loop
    t = with_slice_metrics(current_spuriousness(ws, run, SLICER), ss)
    assert t[["size", "accuracy", "description"]].iloc[1].tolist() == [4, 0.5, "cluster 1"]
    assert t.attrs["note"]


def test_a_raw_annotation_list_counts_only_this_slicers_marks_in_force(loop):
    ws, run, ss = loop
    first = annotate_slice(ws, run, SLICER, "toy-0", "core")
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    ws.db.add(run.id, "slice", "elsewhere-7", "core", scope="other-slicer")
    ws.db.add(run.id, "concept", "water", "valid")
    ws.db.edit(first.id, description="edited last: wins again", author="ana")
    t = _by_id(spuriousness(run, ss, ws.db.list(run_id=run.id)))
    assert t.loc["toy-0", ["spuriousness", "mark"]].tolist() == [0.0, "core"]


def test_calibrated_distance_scores_rank_without_saturating(loop):
    ws, run, ss = loop
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    one = _by_id(current_spuriousness(ws, run, SLICER))   # the default: calibrated distances
    assert "distance" in one.attrs["note"]
    # nearer the spurious mark (toy-1 at x=5) scores higher than farther (toy-2 at x=10),
    # and neither is pushed to 0 or 1
    assert 0 < one.loc["toy-2", "spuriousness"] < one.loc["toy-1", "spuriousness"] < 1
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    two = _by_id(current_spuriousness(ws, run, SLICER))
    # toy-1 lies midway between the spurious and the core mark: about 0.5, by the stated rule
    assert two.loc["toy-1", "spuriousness"] == pytest.approx(0.5, abs=0.1)
    xy = (ss.layout - ss.layout.mean(0)) / (ss.layout - ss.layout.mean(0)).std()
    d_s = np.linalg.norm(xy[ss.labels == 1][:, None] - xy[ss.labels == 0][None], axis=2).min(1)
    d_c = np.linalg.norm(xy[ss.labels == 1][:, None] - xy[ss.labels == 2][None], axis=2).min(1)
    assert two.loc["toy-1", "spuriousness"] == pytest.approx(float((d_c / (d_s + d_c)).mean()))
