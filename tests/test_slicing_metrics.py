"""Slice metrics against hand-computed values; the ranking; the consistency formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from slicelens.slicing.consistency import (
    attribution_consistency,
    compare_spaces,
    map_distance,
    neighbour_consistency,
    slice_consistency,
)
from slicelens.slicing.metrics import (
    confusion_cells,
    rank_order,
    slice_metrics,
    split_rows,
    wilson_interval,
)


def test_wilson_interval_hand_computed():
    # k=8, n=10, z=1.96: p=.8, z^2=3.8416, denom=1.38416, centre=.99208/1.38416=.716738,
    # half = 1.96*sqrt(.016+.009604)/1.38416 = .226582
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.716738 - 0.226582, abs=1e-5)
    assert hi == pytest.approx(0.716738 + 0.226582, abs=1e-5)
    # k=0, n=4: centre = (z^2/8)/(1+z^2/4) = .4802/1.9604, half equal to it -> low 0
    lo, hi = wilson_interval(0, 4)
    assert lo == 0.0 and hi == pytest.approx(2 * 0.4802 / 1.9604, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def _table():
    return pd.DataFrame({
        "label": [0, 0, 0, 1, 1, -1], "pred": [1, 1, 0, 1, 0, 1],
        "confidence": [0.9, 0.7, 0.8, 0.6, 0.5, 0.4], "loss": [2.0, 1.0, 0.5, 0.25, 1.5, np.nan],
        "correct": pd.array([False, False, True, True, False, pd.NA], "boolean")})


def test_slice_metrics_hand_computed():
    m = slice_metrics(_table(), ["cat", "dog"])
    assert m["size"] == 6 and m["n_labeled"] == 5 and m["errors"] == 3
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert (m["acc_low"], m["acc_high"]) == pytest.approx(wilson_interval(2, 5))
    assert m["confidence"] == pytest.approx(3.9 / 6)
    assert m["loss"] == pytest.approx(5.25 / 5)  # the unlabeled row's loss is left out
    assert m["confusion"][0] == {"label": "cat", "prediction": "dog", "n": 2,
                                 "text": "label: cat; prediction: dog"}
    assert m["confusion_text"] == "label: cat; prediction: dog (n=2 of 5)"
    assert [c["n"] for c in m["confusion"]] == [2, 1, 1]


def test_confusion_cells_ignore_unlabeled_and_empty():
    assert confusion_cells(np.array([-1, -1]), np.array([0, 1]), ["a", "b"]) == []
    m = slice_metrics(_table().iloc[[5]], ["a", "b"])
    assert math.isnan(m["accuracy"]) and m["confusion_text"] == "no labelled samples"


def test_ranking_by_wilson_upper_bound_keeps_tiny_slices_down():
    tiny_all_wrong = {"acc_high": wilson_interval(0, 2)[1], "size": 2}    # 0/2 -> hi .66
    big_poor = {"acc_high": wilson_interval(80, 200)[1], "size": 200}     # 40% -> hi .47
    good = {"acc_high": wilson_interval(95, 100)[1], "size": 100}
    assert rank_order([tiny_all_wrong, good, big_poor]).tolist() == [2, 0, 1]
    # by point estimate the tiny slice (0%) would come first; the ranking says otherwise
    tie_a, tie_b = {"acc_high": 0.5, "size": 10}, {"acc_high": 0.5, "size": 30}
    assert rank_order([tie_a, tie_b]).tolist() == [1, 0]


def test_split_rows_names_the_field():
    from slicelens.errors import DataError

    s = pd.DataFrame({"split": ["val", "test", "val"]})
    assert split_rows(s, "val").tolist() == [0, 2]
    with pytest.raises(DataError, match="split 'train'.*field 'split'"):
        split_rows(s, "train")


def test_slice_consistency_eq_a3_a4_hand_computed():
    # centroid of (1,0),(0,1) is (.5,.5): both at 45 degrees -> cos = 1/sqrt(2)
    assert slice_consistency(np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(2 ** -0.5)
    assert slice_consistency(np.array([[3.0, 4.0]])) == pytest.approx(1.0)
    # (2,0),(0,1): centroid (1,.5), |c|=sqrt(1.25); cos1 = 1/sqrt(1.25), cos2 = .5/sqrt(1.25)
    expected = (1 / math.sqrt(1.25) + 0.5 / math.sqrt(1.25)) / 2
    assert slice_consistency(np.array([[2.0, 0.0], [0.0, 1.0]])) == pytest.approx(expected)
    fw = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = attribution_consistency(fw, np.array([0, 0, 1]), 3)
    assert out[0] == pytest.approx(2 ** -0.5) and out[1] == pytest.approx(1) and np.isnan(out[2])


def test_map_distance_hand_computed():
    a = np.zeros((4, 4))
    a[0, 0] = 1
    b = np.zeros((4, 4))
    b[0, 1] = 1
    assert map_distance(a, b) == pytest.approx(0.25)  # one cell of a 4-wide grid
    c = np.zeros((4, 4))
    c[0, 0] = c[3, 0] = 0.5                          # half the mass moves 3 cells down
    assert map_distance(a, c) == pytest.approx(0.5 * 0.75)
    assert map_distance(a, a) == pytest.approx(0.0)
    assert map_distance(a, 7 * b) == pytest.approx(0.25)  # maps are renormalised


def test_neighbour_consistency_eq_a1_a2_hand_computed():
    # four points on a line; with k=1 the neighbours are 0<->1 and 2<->3 (3's is 2)
    coords = np.array([[0.0, 0], [1, 0], [5, 0], [6.5, 0]])
    F = np.array([[1.0, 0], [1, 1], [0, 1], [0, 2]])
    maps = np.zeros((4, 2, 2))
    maps[0, 0, 0] = maps[1, 0, 1] = maps[2, 1, 1] = maps[3, 1, 1] = 1
    maps[3] = maps[3] * 0.5
    maps[3, 1, 0] = 0.5                                 # half the mass one cell left
    per = neighbour_consistency(coords, F, maps, k=1).set_index("index")
    assert per.loc[0, "feature_similarity"] == pytest.approx(2 ** -0.5)
    assert per.loc[2, "feature_similarity"] == pytest.approx(1.0)
    assert per.loc[0, "attribution_distance"] == pytest.approx(0.5)    # one cell of 2
    assert per.loc[0, "attribution_similarity"] == pytest.approx(2.0)  # 1 / W
    assert per.loc[2, "attribution_similarity"] == pytest.approx(1 / 0.25)
    table = compare_spaces({"line": coords, "flipped": coords[::-1].copy()}, F, maps, k=1,
                           n_points=None)
    assert table["space"].tolist() == ["line", "flipped"]
    assert table.loc[0, "feature_similarity"] == pytest.approx(per["feature_similarity"].mean())


def test_best_match_hand_computed():
    from slicelens.slicing.base import Slice
    from slicelens.slicing.metrics import best_match

    truth = {f"t{i}" for i in range(10)}
    slices = [Slice("r0", [f"o{i}" for i in range(20)]),                          # no hit
              Slice("r1", ["t0", "t1", "o0", "o1"]),                             # P .5 R .2
              Slice("r2", [f"t{i}" for i in range(2, 10)] + ["o2", "o3"])]        # P .8 R .8
    m = best_match(slices, truth, k=10)
    assert m["rank"] == 2 and m["precision"] == pytest.approx(0.8)
    assert m["recall"] == pytest.approx(0.8) and m["f1"] == pytest.approx(0.8)
    assert m["p_at_k"] == pytest.approx(0.8)          # r2's 10 members: 8 in the group
    assert best_match(slices, truth, k=2)["p_at_k"] == pytest.approx(1.0)  # r1's top 2
    assert best_match(slices[:1], truth)["rank"] is None
