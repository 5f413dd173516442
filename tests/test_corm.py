"""CoRM plans: which slices and training images, masks from the attribution maps, noise
only inside them, and the plan's round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_feedback import SLICER, make_run, make_slices

from slicelens.errors import SliceLensError
from slicelens.evaluate.robustness import relative_maps
from slicelens.feedback import annotate_slice
from slicelens.pipeline.retrain import noise_augment
from slicelens.repair.base import REPAIRS, get_repair, load_repairs
from slicelens.repair.corm import spurious_slices
from slicelens.repair.plan import TrainingPlan, load_noise_masks
from slicelens.store.atomic import save_npz

#: slice of each training sample (the 12 train rows come first in make_run)
TRAIN_SLICE = np.array([0, 1, 2, -1] * 3)


@pytest.fixture
def run_with_slices(tmp_path):
    ws, run = make_run(tmp_path)
    ss = make_slices(run)
    s = run.samples
    assigned = np.full(len(s), -1)
    assigned[s["split"].to_numpy() == "train"] = TRAIN_SLICE
    assigned[s["split"].to_numpy() == "val"] = ss.labels
    # the documented layout of slices/<slicer>.assign.npz (slicelens.pipeline.slices)
    save_npz(run.path / "slices" / f"{SLICER}.assign.npz", ids=s["id"].to_numpy(str), labels=assigned)
    return ws, run


def _train_ids(run, slice_index: int) -> np.ndarray:
    s = run.samples
    return s["id"].to_numpy(str)[:12][TRAIN_SLICE == slice_index]


def test_registry_has_corm():
    assert "corm" in load_repairs() and REPAIRS["corm"].name == "corm"
    with pytest.raises(SliceLensError, match="unknown repair strategy 'nope'"):
        get_repair("nope")


def test_slice_choice_by_marks_or_propagation():
    t = pd.DataFrame({"slice_id": ["a", "b", "c", "d"], "spuriousness": [1.0, 0.7, np.nan, 0.0],
                      "source": ["human", "propagated", "none", "human"],
                      "mark": ["spurious", "", "", "core"]})
    assert spurious_slices(t, "marks", 0.5) == ["a"]
    assert spurious_slices(t, "propagation", 0.5) == ["a", "b"]
    assert spurious_slices(t, "propagation", 0.7) == ["a"]


def test_marks_plan_masks_the_marked_slices_training_images(run_with_slices):
    ws, run = run_with_slices
    annotate_slice(ws, run, SLICER, "toy-1", "spurious")
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    plan = get_repair("corm").plan(ws, run, slicer=SLICER, source="marks", sigma=0.3,
                                  balance=False)
    assert plan.strategy == "corm" and plan.noise_sigma == 0.3 and plan.params["slices"] == ["toy-1"]
    ids, masks = load_noise_masks(plan.noise_masks)
    assert ids.tolist() == _train_ids(run, 1).tolist()
    rows = run.samples["id"].to_numpy(str).tolist()
    rel = relative_maps(np.asarray(run.array("maps"))[[rows.index(i) for i in ids]], 8)
    assert masks.shape == (3, 8, 8) and np.array_equal(masks, (rel >= 0.5).astype(np.float32))
    again = TrainingPlan.load(plan.noise_masks.replace("noise_masks.npz", "plan.json"))
    assert again == plan


def test_noise_lands_only_inside_the_masks(run_with_slices):
    ws, run = run_with_slices
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    plan = get_repair("corm").plan(ws, run, slicer=SLICER, source="marks", sigma=0.5,
                                  balance=False)
    mids, masks = load_noise_masks(plan.noise_masks)
    train_ids = run.samples["id"].to_numpy(str)[:12]
    aug = noise_augment(plan, train_ids, 8, seed=0)
    x = torch.full((12, 3, 8, 8), 0.5)
    out = aug(x.clone(), torch.arange(12))
    for i, sid in enumerate(train_ids):
        if sid not in mids:
            assert torch.equal(out[i], x[i]), sid  # images outside spurious slices untouched
            continue
        m = torch.from_numpy(masks[mids.tolist().index(sid)]).bool()
        assert torch.equal(out[i][:, ~m], x[i][:, ~m])  # x' == x outside the mask
        assert (out[i][:, m] != 0.5).float().mean() > 0.9
    assert len(mids) == 3


def test_propagation_plan_soft_and_dilated_masks(run_with_slices):
    ws, run = run_with_slices
    annotate_slice(ws, run, SLICER, "toy-0", "spurious")
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    corm = get_repair("corm")
    plan = corm.plan(ws, run, slicer=SLICER, source="propagation", threshold=0.4, mask_threshold=0)
    chosen = plan.params["slices"]
    assert "toy-0" in chosen and "toy-2" not in chosen
    ids, soft = load_noise_masks(plan.noise_masks)
    assert set(ids) == set(np.concatenate([_train_ids(run, int(c[-1])) for c in chosen]))
    assert soft.max() == pytest.approx(1.0) and 0 < np.median(soft) < 1  # the map itself
    _, binary = load_noise_masks(corm.plan(ws, run, slicer=SLICER, source="marks").noise_masks)
    _, grown = load_noise_masks(corm.plan(ws, run, slicer=SLICER, source="marks", dilate=1).noise_masks)
    assert (grown >= binary).all() and grown.sum() > binary.sum()


def test_no_spurious_slice_is_a_clear_error(run_with_slices):
    ws, run = run_with_slices
    annotate_slice(ws, run, SLICER, "toy-2", "core")
    with pytest.raises(SliceLensError, match="no slice of 'toy' is spurious by marks"):
        get_repair("corm").plan(ws, run, slicer=SLICER, source="marks")
    with pytest.raises(SliceLensError, match="threshold"):
        get_repair("corm").plan(ws, run, slicer=SLICER, threshold=1.5)


def test_balance_gives_every_class_the_same_noised_share(run_with_slices):
    """Noise on one class only would be a label shortcut; balance adds borrowed-mask noise."""
    ws, run = run_with_slices
    annotate_slice(ws, run, SLICER, "toy-1", "spurious")
    kept = get_repair("corm").plan(ws, run, slicer=SLICER, source="marks", balance=False)
    plan = get_repair("corm").plan(ws, run, slicer=SLICER, source="marks")
    ids0, _ = load_noise_masks(kept.noise_masks)
    ids, masks = load_noise_masks(plan.noise_masks)
    assert ids[: len(ids0)].tolist() == ids0.tolist()  # the slices' own images come first
    s = run.samples.set_index("id")
    train = s[(s["split"] == "train") & (s["label"] >= 0)]
    n = train["label"].value_counts().sort_index()
    shares = {c: float(np.isin(train.index[train["label"] == c], ids).mean()) for c in n.index}
    top = max(shares.values())
    assert all(abs(shares[c] - top) <= 0.5 / n[c] + 1e-9 for c in n.index), shares
    assert len(ids) > len(ids0) and "same noised share" in plan.description
    assert len(set(ids.tolist())) == len(ids)  # no image noised twice
    # every added mask is one of the slice images' masks (a borrowed region shape)
    _, masks0 = load_noise_masks(kept.noise_masks)
    for m in masks[len(ids0):]:
        assert any(np.array_equal(m, m0) for m0 in masks0)
