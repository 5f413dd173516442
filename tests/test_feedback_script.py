"""The demo's scripted truthful annotator: what it calls spurious / core, and in what order."""

from __future__ import annotations

import pandas as pd

from slicelens.demo.scanner import annotation_order, slice_truth
from slicelens.slicing.base import Slice, SliceSet


def test_truth_follows_what_predicts_the_minority_background_samples():
    # train: class 0-4 lives on grass, 5-9 on brick; ids m* are minority-background samples
    train = pd.DataFrame({"id": [f"t{i}" for i in range(4)], "split": "train",
                          "true_label": ["0-4", "0-4", "5-9", "5-9"],
                          "background": ["grass", "grass", "brick", "brick"]})
    val = pd.DataFrame({"id": ["m1", "m2", "m3", "m4", "m5", "m6", "h1"], "split": "val",
                        "true_label": ["0-4"] * 3 + ["5-9"] * 3 + ["0-4"],
                        "background": ["brick"] * 3 + ["grass"] * 3 + ["grass"]})
    gt = pd.concat([train, val]).set_index("id")
    # m1-m3 (0-4 on brick) predicted 5-9: by background; m4-m6 (5-9 on grass) predicted 5-9: by digit
    samples = pd.DataFrame({"id": ["m1", "m2", "m3", "m4", "m5", "m6", "h1"],
                            "split": "val", "label": [0, 0, 0, 1, 1, 1, 0],
                            "pred": [1, 1, 1, 1, 1, 1, 0]})
    slices = [Slice("s-0", ["m1", "m2", "m3", "h1"]), Slice("s-1", ["m4", "m5", "m6"]),
              Slice("s-2", ["h1", "m1"])]
    ss = SliceSet("s", {}, "r", "val", slices, samples["id"].to_numpy(str), [0] * 7)
    t = slice_truth(ss, samples, gt, ["0-4", "5-9"]).set_index("slice_id")
    assert t["truth"].tolist() == ["spurious", "core", ""]  # s-2: one minority member only
    assert t["n_minority"].tolist() == [3, 3, 1]
    assert t.loc["s-0", "follows_background"] == 1.0 and t.loc["s-1", "follows_background"] == 0.0


def test_order_alternates_between_the_ends_of_the_ranking():
    truth = pd.DataFrame({"slice_id": list("abcdef"),
                          "truth": ["spurious", "", "spurious", "core", "spurious", "core"]})
    assert annotation_order(truth) == ["a", "f", "c", "e", "d"]
