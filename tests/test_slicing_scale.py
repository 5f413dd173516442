"""Slicing a large run: UMAP and K-Means fitted on a sample, the rest placed by
k-NN in the sample's layout, reading F_W from its memory map a chunk at a time."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score
from test_api_support import write_synthetic_run

from slicelens.pipeline.slices import find_slices
from slicelens.slicing.placement import KnnPlacer, nearest_centre
from slicelens.store.atomic import save_npy

CLUSTERS = 6


def _planted_run(tmp_path, n=3000, dim=32):
    ws, run = write_synthetic_run(tmp_path / "ws", n, n_images=0, dim=dim)
    rng = np.random.default_rng(1)
    truth = rng.integers(0, CLUSTERS, n)
    centres = rng.normal(scale=6.0, size=(CLUSTERS, dim))
    fw = (centres[truth] + rng.normal(size=(n, dim))).astype(np.float32)
    save_npy(run.path / "fw.npy", fw)
    return run, truth


def test_a_large_fit_split_is_sliced_on_a_sample_and_the_rest_placed(tmp_path):
    run, truth = _planted_run(tmp_path)
    params = {"fit_sample": 400, "min_clusters": CLUSTERS, "max_clusters": CLUSTERS,
              "n_epochs": 50}
    ss = find_slices(run, "attribution", params)
    val = (run.samples["split"] == "val").to_numpy()
    assert all(s.evidence["fitted"] == 400 for s in ss.slices)
    assert all(s.evidence["placed"] == val.sum() - 400 for s in ss.slices)
    # every validation sample is in a slice, and the planted clusters are recovered
    labels = np.full(len(run.samples), -1)
    for i, s in enumerate(ss.slices):
        labels[run.samples["id"].isin(s.members).to_numpy()] = i
    assert (labels[val] >= 0).all()
    assert adjusted_rand_score(truth[val], labels[val]) > 0.95
    # the other splits are placed the same way
    from slicelens.pipeline.slices import assign_all

    test = assign_all(run, ss)["test"]
    test_truth = truth[(run.samples["split"] == "test").to_numpy()]
    assert (test >= 0).all() and adjusted_rand_score(test_truth, test) > 0.95


def test_small_fit_splits_are_not_sampled(tmp_path):
    run, _ = _planted_run(tmp_path, n=300)
    ss = find_slices(run, "attribution", {"min_clusters": CLUSTERS, "n_epochs": 50})
    assert ss.slices[0].evidence["placed"] == 0


def test_knn_placer_and_nearest_centre_by_cell():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4)).astype(np.float32)
    coords = rng.normal(size=(100, 2))
    placer = KnnPlacer(k=3, dim=2, chunk=7).fit(X, coords)
    np.testing.assert_allclose(placer.place(X, np.arange(20)), coords[:20], atol=1e-3)
    centres = np.array([[0.0, 0.0], [10.0, 10.0]])
    points = np.array([[1.0, 1.0], [9.0, 9.0], [9.0, 9.0]])
    assert nearest_centre(points, np.zeros(3, int), centres, np.array([0, 0])).tolist() == [0, 1, 1]
    # within its cell only; a cell without a centre gets -1
    assert nearest_centre(points, np.array([1, 1, 2]), centres,
                          np.array([0, 1])).tolist() == [1, 1, -1]
