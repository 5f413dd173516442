"""Attribution Mosaic: feature inversion (Eq. 2), hull masks, drawing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from slicelens.explain import MosaicParams, draw_mosaic, hull_mask, invert
from slicelens.explain.draw import colour
from slicelens.explain.mosaic import total_variation
from slicelens.extract.extractor import weighted_features
from slicelens.models.adapter import ModelAdapter
from slicelens.models.builtin import SmallCNN

TRIANGLE = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]


@pytest.fixture(autouse=True)
def _quiet_single_thread(monkeypatch):
    # many tiny steps: on a shared machine a second intra-op thread only spin-waits
    monkeypatch.setenv("SLICELENS_QUIET", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def problem():
    """A random SmallCNN; targets are F_W of real-ish images the inversion starts away from."""
    torch.manual_seed(0)
    ad = ModelAdapter(SmallCNN(2, width=8), ["a", "b"], input_size=16)
    goal = torch.rand(3, 3, 16, 16)
    maps = torch.rand(3, 4, 4)
    maps = maps / maps.sum((1, 2), keepdim=True)
    with torch.no_grad():
        A, _ = ad.forward_parts(goal)
        targets = weighted_features(A, maps)
    init = torch.full((3, 3, 16, 16), 0.5)
    masks = torch.from_numpy(np.stack([hull_mask(TRIANGLE, 16)] * 3))
    return ad, init, masks, targets, maps


def test_hull_mask_is_the_stretched_polygon():
    m = hull_mask(TRIANGLE, 16)
    assert m.shape == (16, 16) and m.min() == 0 and m.max() == 1
    assert m.mean() == pytest.approx(0.5, abs=0.05)
    # y grows upwards: the right angle at (0, 0) is the bottom-left corner of the image,
    # the hypotenuse runs from the top-left to the bottom-right corner
    assert m[-1, 0] == 1 and m[0, -1] == 0 and m[2, -3] == 0 and m[-3, 2] == 1
    # scale-free: the same shape at any size and offset
    assert np.allclose(hull_mask(np.array(TRIANGLE) * 7 + 3, 16), m)


def test_total_variation_hand_computed():
    x = torch.zeros(1, 3, 2, 2)
    x[..., :, 1] = 1.0  # a vertical edge: horizontal diffs all 1, vertical diffs 0
    assert total_variation(x).item() == pytest.approx(1.0)


def test_inversion_lowers_the_loss_and_keeps_outside_the_mask(problem):
    ad, init, masks, targets, maps = problem
    before = [p.detach().clone() for p in ad.module.parameters()]
    res = invert(ad, init, masks, targets, maps, MosaicParams(steps=40, lr=0.01, tv_weight=0.01))
    assert res.history.shape == (40,) and res.history[-1] < 0.5 * res.history[0]
    assert np.isfinite(res.images).all() and res.images.min() >= 0 and res.images.max() <= 1
    outside = res.masks == 0
    assert outside.any()
    assert np.array_equal(res.images[outside], res.init[outside])
    inside = res.masks == 1
    assert np.abs(res.images[inside] - res.init[inside]).max() > 0.01
    # the user's model is left as it was: no weight change, no gradients left behind
    for p, q in zip(ad.module.parameters(), before, strict=True):
        assert torch.equal(p, q) and p.grad is None


def test_inversion_is_batched_and_independent_per_slice(problem):
    ad, init, masks, targets, maps = problem
    p = MosaicParams(steps=5, lr=0.01)
    both = invert(ad, init[:2], masks[:2], targets[:2], maps[:2], p)
    one = invert(ad, init[1:2], masks[1:2], targets[1:2], maps[1:2], p)
    np.testing.assert_allclose(both.images[1], one.images[0], atol=1e-5)


def test_tiles_and_mosaic_are_written(problem, tmp_path):
    ad, init, masks, targets, maps = problem
    res = invert(ad, init, masks, targets, maps, MosaicParams(steps=2))
    paths = res.save_tiles(tmp_path / "tiles", ["s-00", "s-01", "s-02"])
    tile = np.asarray(Image.open(paths[0]))
    assert tile.shape == (16, 16, 4) and (tile[..., 3] == 0).any()
    polys = [TRIANGLE, [[2, 0], [3, 0], [3, 1], [2, 1]], [[0, 2], [1, 2], [0.5, 3]]]
    out = draw_mosaic(res.images, polys, np.array([0.1, 0.9, np.nan]), tmp_path / "m.png",
                      canvas=256, names=["0", "1", "2"])
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[0] > 256 and img.shape[1] == 256 + 48
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert colour(0.1) in colours and colour(0.9) in colours and (150, 150, 150) in colours


def test_colour_scale():
    assert colour(0.0) == (215, 48, 39) and colour(1.0) == (26, 152, 80)
    assert colour(0.5) == (254, 224, 139)
    assert colour(0.9, higher_is_better=False) == colour(0.1)
