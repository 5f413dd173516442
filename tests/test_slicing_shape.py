"""The error-aware slicer's model-independent shape block (``shape_weight``): two failing
kinds of object that the model's features do not tell apart come out as two slices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_attributes_fixtures import make_run
from test_attributes_taggers import _shape_images

from slicelens.attributes.shape import run_shape_embedding, run_shapes
from slicelens.data.arrays import from_arrays
from slicelens.slicing.base import get_slicer


@pytest.fixture(scope="module")
def shape_run(tmp_path_factory):
    """Class a: plus signs and rings, all misclassified; class b: the same, all right.
    The features are noise, the same for both forms."""
    rng = np.random.default_rng(0)
    n = 400
    imgs, kind = _shape_images(n, rng)
    label = np.r_[np.zeros(n // 2, int), np.ones(n // 2, int)]
    pred = np.ones(n, int)  # class a always wrong
    run = make_run(tmp_path_factory.mktemp("shape"), label, pred, ["val"] * n,
                   features=rng.normal(size=(n, 8)).astype(np.float32))
    ds = from_arrays(imgs, label, ["a", "b"], splits="val", ids=run.samples["id"].to_numpy(str))
    run_shape_embedding(run, dataset=ds)  # cached in the run: the slicer reads it
    return run, kind


def _failing_purity(slicer, kind):
    """Share of the dominant form among the members of each failing slice (size >= 10)."""
    out = []
    for s in slicer.slices_:
        if s.metrics["accuracy"] < 0.5 and len(s.members) >= 10:
            k = kind[[int(m[1:]) for m in s.members]]
            out.append(max(k.mean(), 1 - k.mean()))
    return out


def test_shape_block_separates_forms_the_features_cannot(shape_run):
    run, kind = shape_run
    assert run_shapes(run).shape == (len(kind), 324)  # the cached descriptors
    with_shape = get_slicer("error-aware", n_slices=4).fit(run, "val")
    without = get_slicer("error-aware", n_slices=4, shape_weight=0).fit(run, "val")
    pure = _failing_purity(with_shape, kind)
    assert pure and min(pure) >= 0.85, pure
    assert max(_failing_purity(without, kind)) < 0.8


def test_without_readable_images_the_block_is_left_out_with_a_warning(tmp_path):
    rng = np.random.default_rng(0)
    label = np.r_[np.zeros(60, int), np.ones(60, int)]
    run = make_run(tmp_path, label, label, ["val"] * 120,
                   features=rng.normal(size=(120, 8)).astype(np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = get_slicer("error-aware", n_slices=3).fit(run, "val")
    assert s.shape_ is None and s.slices_
    assert any("no shape embedding" in str(w.message) for w in caught)


def test_a_small_run_gets_a_pca_embedding(tmp_path):
    """Below UMAP's sample floor the embedding is PCA, zero-padded to its dimensions."""
    from slicelens.attributes.shape import UMAP_MIN_SAMPLES

    rng = np.random.default_rng(2)
    n = UMAP_MIN_SAMPLES - 10
    imgs, _ = _shape_images(n, rng)
    label = np.zeros(n, int)
    run = make_run(tmp_path, label, label, ["val"] * n,
                   features=rng.normal(size=(n, 8)).astype(np.float32))
    ds = from_arrays(imgs, label, ["a", "b"], splits="val", ids=run.samples["id"].to_numpy(str))
    E = run_shape_embedding(run, dim=8, dataset=ds)
    assert E.shape == (n, 8) and np.isfinite(E).all() and E[:, 0].std() > 0.5
