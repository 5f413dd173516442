"""Rare cases and wrong labels from the neighbourhood in the attribution space, and the
error-aware slicer on a run with a training split."""

from __future__ import annotations

import numpy as np
import pytest

from slicelens.slicing.evidence import bug_first_order, classify_by_neighbours
from slicelens.slicing.neighbours import TrainContext, density_ratio


def _blobs(n_train_rare: int, seed: int = 0):
    """Two common blobs (in both splits) and a third one with 60 fit-split samples but
    only ``n_train_rare`` training samples."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [6, 0], [0, 6]], float)
    n_train = [300, 300, n_train_rare]
    n_fit = [100, 100, 60]
    Zt = np.vstack([rng.normal(c, 0.5, (k, 2)) for c, k in zip(centres, n_train, strict=True)])
    Zf = np.vstack([rng.normal(c, 0.5, (k, 2)) for c, k in zip(centres, n_fit, strict=True)])
    gt = np.repeat([0, 1, 2], n_train)
    gf = np.repeat([0, 1, 2], n_fit)
    return Zt, gt, Zf, gf


def test_density_ratio_of_a_rare_region():
    Zt, gt, Zf, gf = _blobs(n_train_rare=6)
    ctx = TrainContext(Zt, (gt == 1).astype(int), Zf, 2, k=10)
    nb = ctx.neighbourhood(Zf, fit_index=np.arange(len(Zf)))
    rare = ctx.slice_stats(nb, gf == 2)["density_ratio"]
    common = ctx.slice_stats(nb, gf == 0)["density_ratio"]
    # training holds 6 / 606 of its samples there, the fit split 60 / 260: ratio ~0.04
    assert rare < 0.2 and 0.7 < common < 1.5
    assert density_ratio(gt == 2, gf == 2) == pytest.approx((6 / 606) / (60 / 260))
    rarity, _ = ctx.features(Zf, fit_index=np.arange(len(Zf)))
    assert rarity[gf == 2].mean() > 0.7 > 0.1 > rarity[gf == 0].mean()


def test_no_rare_case_when_training_covers_the_region():
    Zt, gt, Zf, gf = _blobs(n_train_rare=180)
    ctx = TrainContext(Zt, (gt == 1).astype(int), Zf, 2, k=10)
    nb = ctx.neighbourhood(Zf, fit_index=np.arange(len(Zf)))
    assert ctx.slice_stats(nb, gf == 2)["density_ratio"] > 0.5


def test_label_noise_marks_the_region_with_flipped_training_labels():
    Zt, gt, Zf, gf = _blobs(n_train_rare=300)
    y = (gt == 1).astype(int)
    flip = np.flatnonzero(gt == 2)[::3]  # a third of blob 2's training labels flipped
    y[flip] = 1
    ctx = TrainContext(Zt, y, Zf, 2, k=15)
    _, noise = ctx.features(Zf, fit_index=np.arange(len(Zf)))
    assert noise[gf == 2].mean() > 0.4 > 0.1 > noise[gf == 0].mean()
    nb = ctx.neighbourhood(Zf, fit_index=np.arange(len(Zf)))
    ev = {"pred_class": 1, "p_pred": 1.0, "p_label": 0.0, "label_mix_val": [1.0, 0.0],
          **ctx.slice_stats(nb, gf == 2)}
    assert classify_by_neighbours(ev) == "wrong_labels"


def test_bug_slices_rank_first():
    from slicelens.slicing.base import Slice

    def sl(name, acc, high, bug):
        return Slice(name, ["x"], metrics={"accuracy": acc, "acc_high": high, "size": 10},
                     bug_type=bug)

    slices = [sl("a", 0.1, 0.3, None), sl("b", 0.7, 0.8, "rare_case"),
              sl("c", 0.97, 0.99, "rare_case"), sl("d", 0.5, 0.6, "spurious")]
    # c is typed but not below the overall accuracy (0.9): no promotion
    assert bug_first_order(slices, 0.9).tolist() == [3, 1, 0, 2]


@pytest.fixture(scope="module")
def rare_run(tmp_path_factory):
    """The synthetic run with a training split in which the failure group (2) is rare:
    most of its training samples are moved onto group 0 in F_W and features."""
    import test_slicing_support as sup

    from slicelens.store.atomic import save_npy

    old = dict(sup.SPLITS)
    sup.SPLITS.clear()
    sup.SPLITS.update({"train": 450, **old})
    try:
        run = sup.write_run(tmp_path_factory.mktemp("rare") / "runs" / "run-0001-synth")
    finally:
        sup.SPLITS.clear()
        sup.SPLITS.update(old)
    s = run.samples
    fw, feats = np.array(run.array("fw")), np.array(run.array("features"))
    g = fw.argmax(1)
    train2 = np.flatnonzero((s["split"].to_numpy() == "train") & (g == 2))
    move = train2[len(train2) // 10:]  # keep a tenth: rare, not absent
    fw[move, 2], fw[move, 0] = fw[move, 0], fw[move, 2]
    feats[move, 2], feats[move, 0] = feats[move, 0], feats[move, 2]
    save_npy(run.path / "fw.npy", fw)
    save_npy(run.path / "features.npy", feats)
    return run


def test_error_aware_slicer_types_the_rare_failure(rare_run):
    from slicelens.slicing.base import get_slicer

    s = get_slicer("error-aware", n_slices=4).fit(rare_run, "val")
    worst = s.slices_[0]
    assert worst.metrics["accuracy"] == 0.0
    assert worst.bug_type == "rare_case" and worst.evidence["density_ratio"] <= 0.5
    assert worst.evidence["promoted"] and "density" in worst.evidence["explanation"]
    # the train split can be assigned (the pipeline's per-split metrics)
    out = s.assign(rare_run, "train")
    assert out.shape == ((rare_run.samples.split == "train").sum(),) and out.min() >= -1


def _shapes_by(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """A stand-in shape embedding: one tight cluster per code (n, 8)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(int(codes.max()) + 1, 8)) * 20
    return (centres[codes] + rng.normal(size=(len(codes), 8))).astype(np.float32)


def _flipped_run(tmp_path):
    """A synthetic run with 450 training samples, a third of group 0's training labels
    flipped a -> b. Returns (run, its sample table, group per sample, flipped rows)."""
    import test_slicing_support as sup

    from slicelens.store import Run
    from slicelens.store.atomic import write_parquet

    old = dict(sup.SPLITS)
    sup.SPLITS.clear()
    sup.SPLITS.update({"train": 450, **old})
    try:
        run = sup.write_run(tmp_path / "runs" / "run-0001-synth", seed=3)
    finally:
        sup.SPLITS.clear()
        sup.SPLITS.update(old)
    s = run.samples.copy()
    g = np.asarray(run.array("fw")).argmax(1)
    g0 = np.flatnonzero((s["split"].to_numpy() == "train") & (g == 0))
    flipped = g0[::3]
    s.loc[flipped, "label"] = 1
    s["correct"] = (s["pred"] == s["label"]).astype("boolean")
    write_parquet(run.path / "samples.parquet", s)
    return Run(run.path), s, g, flipped  # a new Run: the sample table is cached per object


def test_wrong_label_slicer_finds_flipped_training_labels(tmp_path, monkeypatch):
    """A third of group 0's training labels flipped a -> b: the top wrong-labels slice
    of the training split is made of them, with the clean label suggested. Their
    look-alikes by shape are group 0's (a stand-in embedding), so vote 3 agrees."""
    import slicelens.attributes.shape as shape
    from slicelens.slicing.base import get_slicer

    run, s, g, flipped = _flipped_run(tmp_path)
    monkeypatch.setattr(shape, "run_shape_embedding", lambda *a, **k: _shapes_by(g))
    model = get_slicer("wrong-labels", folds=3).fit(run, "train")
    top = model.slices_[0]
    assert top.evidence["shape_disagreement"] >= 0.5 and "look-alikes by shape" in \
        top.evidence["explanation"]
    given = top.evidence["labelled"]
    ids = set(s["id"].to_numpy()[flipped])
    assert top.bug_type == "wrong_labels" and top.evidence["suggested"] == "a"
    assert np.mean([m in ids for m in top.members]) >= 0.8
    found = set().union(*[set(x.members) for x in model.slices_ if x.bug_type])
    assert len(found & ids) >= 0.6 * len(ids)
    assert model.slices_[-1].bug_type is None  # the consistent rest
    # a large split is checked on a random sample (fit_sample): only those get a slice,
    # the evidence says how many, and other splits are still assigned
    n_train = int((s["split"] == "train").sum())
    small = get_slicer("wrong-labels", folds=3, fit_sample=300).fit(run, "train")
    assert (small.labels_ >= 0).sum() == 300 and len(small.labels_) == n_train
    assert small.slices_[-1].evidence["n_checked"] == 300
    assert small.slices_[-1].evidence["n_labelled"] == n_train
    assert given == "b"  # the given label (a class name) is kept beside the counts
    assert "a random 300 of the 450" in small.slices_[-1].evidence["explanation"]
    sampled = set(s["id"].to_numpy()[np.flatnonzero(s["split"].to_numpy() == "train")][
        small.labels_ >= 0])
    top = small.slices_[0]
    assert top.bug_type == "wrong_labels" and set(top.members) <= sampled
    assert np.mean([m in ids for m in top.members]) >= 0.8
    assert small.assign(run, "val").min() >= 0


def test_wrong_label_slicer_spares_a_shortcut_minority(tmp_path, monkeypatch):
    """The same flipped samples, but now their look-alikes by shape carry their given
    label (a minority the model's features confuse with the other class, as a spurious
    correlation's minority is): vote 3 clears them, votes 1-2 alone would not; without
    the images the vote is left out with a warning."""
    import slicelens.attributes.shape as shape
    from slicelens.errors import DataError
    from slicelens.slicing.base import get_slicer

    run, s, g, minority = _flipped_run(tmp_path)
    ids = set(s["id"].to_numpy()[minority])
    codes = g.copy()
    codes[minority] = g.max() + 1  # a shape of their own, among themselves
    monkeypatch.setattr(shape, "run_shape_embedding", lambda *a, **k: _shapes_by(codes))

    def flagged(**kw):
        m = get_slicer("wrong-labels", folds=3, **kw).fit(run, "train")
        return set().union(*[set(x.members) for x in m.slices_ if x.bug_type])

    assert len(flagged(shape_vote=False) & ids) >= 0.6 * len(ids)  # votes 1-2: "wrong"
    assert len(flagged() & ids) <= 0.1 * len(ids)                   # vote 3 clears them

    def unreadable(*a, **k):
        raise DataError("images not found")

    monkeypatch.setattr(shape, "run_shape_embedding", unreadable)
    with pytest.warns(UserWarning, match="no shape embedding"):
        assert len(flagged() & ids) >= 0.6 * len(ids)
