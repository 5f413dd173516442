"""Clean / core / spurious accuracy and RCS against hand-computed values; masks; the
before / after tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from slicelens.demo.masks import demo_digit_masks
from slicelens.errors import SliceLensError
from slicelens.evaluate.compare import group_comparison, slice_comparison
from slicelens.evaluate.robustness import (
    RobustnessParams,
    add_masked_noise,
    attribution_masks,
    core_spurious_accuracy,
    dilate_masks,
    rcs,
)
from slicelens.slicing.metrics import wilson_interval


def test_rcs_by_hand():
    # RCS = (C - S) / (2 min(a, 1 - a)), a = (C + S) / 2  (AttributionScanner Sec. V-A)
    assert rcs(0.9, 0.6) == pytest.approx(0.3 / (2 * 0.25))
    assert rcs(0.75, 0.25) == pytest.approx(0.5)
    assert rcs(0.3, 0.1) == pytest.approx(0.2 / 0.4)
    assert rcs(0.2, 0.6) == pytest.approx(-0.4 / 0.8)
    assert np.isnan(rcs(1.0, 1.0)) and np.isnan(rcs(0.0, 0.0))
    # the paper's Table III, AS (Propagation): 87.40617 / 77.89825 -> 0.274038
    assert rcs(0.8740617, 0.7789825) == pytest.approx(0.274038, abs=1e-5)


def test_core_and_spurious_accuracy_by_hand():
    """4 images; images 0-2 are classified by their core region, image 3 by the rest.

    The stub model is right exactly when the region it relies on is untouched, so:
    clean 4/4; noise on the spurious region (core accuracy) leaves 0, 1, 2 right = 3/4;
    noise on the core region (spurious accuracy) leaves only 3 right = 1/4;
    RCS = (0.75 - 0.25) / (2 * min(0.5, 0.5)) = 0.5.
    """
    clean = torch.rand(4, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    core = np.zeros((4, 6, 6), bool)
    core[:, 1:3, 1:3] = True
    relies_on_core = np.array([True, True, True, False])
    y = np.array([0, 1, 0, 1])

    def stub(xb):
        same_core = (xb == clean)[:, :, 1:3, 1:3].flatten(1).all(1).numpy()
        rest = ~torch.from_numpy(core)[:, None].expand_as(xb)
        same_rest = np.array([bool((xb[i] == clean[i])[rest[i]].all()) for i in range(len(xb))])
        right = np.where(relies_on_core, same_core, same_rest)
        pred = np.where(right, y, 1 - y)
        return torch.nn.functional.one_hot(torch.from_numpy(pred), 2).float()

    res = core_spurious_accuracy(stub, clean, y, core, RobustnessParams(trials=3, dilate=0))
    assert (res.clean, res.core, res.spurious, res.rcs) == (1.0, 0.75, 0.25, 0.5)
    assert res.core_trials == [0.75] * 3 and res.n == 4
    with pytest.raises(SliceLensError, match="core masks have shape"):
        core_spurious_accuracy(stub, clean, y, core[:, :4], RobustnessParams())


def test_noise_only_inside_masks_and_clipped():
    x = torch.full((2, 3, 5, 5), 0.9)
    m = np.zeros((2, 5, 5), bool)
    m[0, :2] = True
    out = add_masked_noise(x, m, 2.0, torch.Generator().manual_seed(0))
    assert torch.equal(out[1], x[1]) and torch.equal(out[0, :, 2:], x[0, :, 2:])
    assert (out[0, :, :2] != 0.9).all() and out.min() >= 0 and out.max() <= 1


def test_dilation_and_attribution_masks():
    m = np.zeros((1, 5, 5), bool)
    m[0, 2, 2] = True
    assert dilate_masks(m, 1)[0].sum() == 9 and dilate_masks(m, 0).sum() == 1
    maps = np.zeros((1, 2, 2), np.float32)
    maps[0, 0, 0] = 1.0
    am = attribution_masks(maps, 4, threshold=0.5)
    assert am[0, 0, 0] and not am[0, 3, 3] and am.shape == (1, 4, 4)


def test_demo_digit_masks_keep_ink_inside_the_box():
    img = np.full((2, 20, 20, 3), 100, np.uint8)
    img[:, 8:12, 8:12] = 250  # the digit's ink
    img[:, 0, 0] = 250  # bright, but outside the digit's box
    masks = demo_digit_masks(img, [0.5, 0.5], [0.5, 0.5], [0.5, 0.5])
    assert masks[:, 8:12, 8:12].all() and not masks[:, 0, 0].any() and masks.sum() == 32


def test_slice_comparison_by_hand():
    ids = ["a", "b", "c", "d", "e"]
    before = pd.DataFrame({"id": ids, "label": [0, 1, 0, 1, -1],
                           "correct": [True, False, False, True, False]})
    after = before.assign(correct=[True, True, False, True, False])
    slice_of = pd.Series(["s1", "s1", "s2", "", "s1"], index=ids)
    t = slice_comparison(before, after, slice_of).set_index("slice_id")
    assert t.loc["s1", ["n", "acc_before", "acc_after", "delta"]].tolist() == [2, 0.5, 1.0, 0.5]
    assert (t.loc["s1", "low_before"], t.loc["s1", "high_before"]) == wilson_interval(1, 2)
    assert t.loc["s2", "acc_after"] == 0.0 and t.loc["(all)", "n"] == 4
    assert t.loc["(all)", "acc_after"] == 0.75 and t.loc["(all)", "acc_before"] == 0.5
    with pytest.raises(SliceLensError, match="no sample 'zz'"):
        slice_comparison(before, after, pd.Series(["s1"], index=["zz"]))
    g = group_comparison(before, after, pd.Series(["g2", "g1", "g1", "g2"], index=ids[:4]))
    assert g["group"].tolist() == ["g1", "g2", "(all)"]
    assert g["acc_before"].tolist() == [0.0, 1.0, 0.5]
    ordered = slice_comparison(before, after, slice_of, order=["s2", "s1", "s9"])
    assert ordered["slice_id"].tolist() == ["s2", "s1", "(all)"]


def test_core_masks_file_round_trip_and_errors(tmp_path):
    from slicelens.errors import DataError
    from slicelens.evaluate.reference import load_core_masks, save_core_masks

    m = np.zeros((3, 4, 4), bool)
    m[1, :2, :2] = True
    path = save_core_masks(tmp_path / "core_masks.npz", ["a", "b", "c"], m, "the object")
    got, what = load_core_masks(path, np.array(["b", "a"]), 4)
    assert what == "the object" and (got == m[[1, 0]]).all()
    big, _ = load_core_masks(path, np.array(["b"]), 8)  # nearest: each pixel becomes 2 x 2
    assert big.shape == (1, 8, 8) and big[0, :4, :4].all() and big.sum() == 16
    with pytest.raises(DataError, match="no core mask for sample 'z'"):
        load_core_masks(path, np.array(["a", "z"]), 4)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read core masks"):
        load_core_masks(tmp_path / "bad.npz", np.array(["a"]), 4)


def test_evaluation_finds_core_masks_only_beside_a_ground_truth(tmp_path):
    """``core_masks="auto"``: beside the given ground truth file, else beside the run's
    manifest; never with ``ground_truth=None`` (masks then come from the marks)."""
    from types import SimpleNamespace

    from slicelens.pipeline.evaluate import _core_masks

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "core_masks.npz").write_bytes(b"")
    run = SimpleNamespace(record=SimpleNamespace(
        data=SimpleNamespace(source=str(tmp_path / "data" / "manifest.csv"))))
    found = tmp_path / "data" / "core_masks.npz"
    assert _core_masks(run, "auto", "auto") == found
    assert _core_masks(run, pd.DataFrame(), "auto") == found
    assert _core_masks(run, None, "auto") is None
    assert _core_masks(run, str(tmp_path / "elsewhere.csv"), "auto") is None
    assert _core_masks(run, None, "m.npz").name == "m.npz"
    assert _core_masks(run, "auto", None) is None


def test_ground_truth_without_a_group_column_names_the_file_and_field(tmp_path):
    from slicelens.errors import DataError
    from slicelens.evaluate.groups import load_ground_truth

    path = tmp_path / "ground_truth.csv"
    path.write_text("id,digit\na,3\nb,5\n")
    with pytest.raises(DataError, match="no 'group' column") as e:
        load_ground_truth(path)
    assert e.value.field == "group" and str(path) in str(e.value)
    path.write_text("id,group\na,x\nb,y\n")
    assert load_ground_truth(path).loc["b", "group"] == "y"
