"""Redundancy-aware ranking (MMR over kNN interconnectivity) and the per-class rare-case
rule: small synthetic beds, each failing if its rule broke."""

from __future__ import annotations

import numpy as np

from slicelens.slicing.base import Slice
from slicelens.slicing.evidence import classify_by_neighbours, explain_by_neighbours
from slicelens.slicing.ranking import knn_edge_similarity, mmr_order, mmr_slice_order


def _bed(seed: int = 0):
    """Blob A (160 samples, all wrong) cut into 4 strips (neighbouring strips touch);
    blob B (40, mostly wrong), far away, one slice; blob C (100, all right), one slice."""
    rng = np.random.default_rng(seed)
    A = rng.normal(0, 1, (160, 2))
    B = rng.normal((30, 0), 1, (40, 2))
    C = rng.normal((0, 30), 1, (100, 2))
    X = np.r_[A, B, C]
    quad = np.searchsorted(np.quantile(A[:, 0], [0.25, 0.5, 0.75]), A[:, 0])  # 4 strips
    labels = np.r_[quad, np.full(40, 4), np.full(100, 5)]

    def sl(i, acc_high, size):
        return Slice(f"s{i}", [f"x{i}"], metrics={"acc_high": acc_high, "size": size})

    sizes = np.bincount(labels)
    # A's strips: 0/40 right (upper bound ~0.09); B: 2/40 right (~0.17); C: all right
    slices = [sl(i, 0.09 + 0.001 * i, int(sizes[i])) for i in range(4)]
    slices += [sl(4, 0.17, 40), sl(5, 1.0 - 1e-12, 100)]
    return X, labels, slices


def test_interconnectivity_separates_one_group_cut_from_another_group():
    X, labels, _ = _bed()
    S = knn_edge_similarity(X, labels, 6, k=10)
    assert min(S[0, 1], S[1, 2], S[2, 3]) > 0.1  # neighbouring strips of A share edges
    assert np.all(S[:4, 4] == 0) and np.all(S[:4, 5] == 0) and S[4, 5] == 0
    assert np.allclose(S, S.T) and np.all(np.diag(S) == 1)


def test_mmr_puts_the_other_failure_in_the_top_two():
    X, labels, slices = _bed()
    wilson = sorted(range(6), key=lambda i: slices[i].metrics["acc_high"])
    assert wilson.index(4) == 4  # the plain order: A's four strips first
    order = mmr_slice_order(slices, X, labels, lam=0.5).tolist()
    assert order[0] == 0 and order.index(4) <= 2  # B among the first three
    assert order[-1] == 5 and sorted(order) == list(range(6))
    # lam = 1: relevance alone, the Wilson order back
    assert mmr_slice_order(slices, X, labels, lam=1.0).tolist() == wilson


def test_mmr_tiers_and_non_failing_slices_keep_the_plain_order():
    rel = np.array([0.9, 0.8, 0.7])
    sim = np.eye(3)
    # the first tier (slice 2) goes first whatever its relevance
    assert mmr_order(rel, sim, first=np.array([False, False, True])).tolist() == [2, 0, 1]
    X, labels, slices = _bed()
    slices[4].metrics["acc_high"] = 1.0  # B no longer fails: no diversity bonus for it
    slices[4].metrics["size"] = 10
    order = mmr_slice_order(slices, X, labels).tolist()
    assert set(order[:4]) == {0, 1, 2, 3}  # the failing strips of A
    assert order[4:] == [5, 4]  # the two all-right slices, largest first


def test_rare_case_when_the_slices_own_label_is_absent_from_training_around_it():
    ev = {"pred_class": 1, "p_pred": 1.0, "p_label": 0.0, "density_ratio": 0.9,
          "label_mix_val": [1.0, 0.0], "train_label_mix_nbrs": [0.02, 0.98]}
    assert classify_by_neighbours(ev) == "rare_case"
    assert "almost none" in explain_by_neighbours("rare_case", ev, ["a", "b"])
    # training shows its label around it (a minority there): spurious, as before
    assert classify_by_neighbours({**ev, "train_label_mix_nbrs": [0.3, 0.7]}) == "spurious"
    # a slice the model gets right is never a rare case by this rule
    right = {**ev, "pred_class": 0, "p_label": 1.0, "train_label_mix_nbrs": [0.02, 0.98]}
    assert classify_by_neighbours(right) != "rare_case"


def test_split_failing_splits_only_failures_made_of_two_groups():
    from slicelens.slicing.refine import apply_splits, split_failing

    rng = np.random.default_rng(1)
    two = np.r_[rng.normal(0, .3, (40, 2)), rng.normal(5, .3, (40, 2))]   # failing, 2 groups
    one = rng.normal((0, 9), .3, (60, 2))                                  # failing, 1 group
    ok = rng.normal((9, 9), 2.0, (200, 2))                                 # right, spread out
    X = np.r_[two, one, ok]
    cl = np.r_[np.zeros(80, int), np.ones(60, int), np.full(200, 2)]
    correct = np.r_[np.zeros(140, bool), np.ones(200, bool)]
    cl2, _, splits = split_failing(X, cl, np.ones(len(X)), correct, np.ones(len(X), bool))
    assert len(splits) == 1 and splits[0].parent == 0
    sizes = sorted(np.bincount(cl2)[np.bincount(cl2) > 0].tolist())
    assert sizes == [40, 40, 60, 200]  # the one-group failure and the right ones untouched
    assert np.array_equal(apply_splits(X, cl, splits), cl2)  # other samples placed alike
    # top = number of failing clusters already there: nothing is split
    assert split_failing(X, cl, np.ones(len(X)), correct, np.ones(len(X)), top=2)[2] == []


def test_error_aware_slicer_splits_a_failure_of_two_kinds(tmp_path):
    """The failure (label a, predicted b) is two groups in F_W; with 3 components the
    mixture joins them, the refinement gives each its own slice, ranked first."""
    from conftest import write_synthetic_run

    from slicelens.slicing.base import get_slicer

    rng = np.random.default_rng(0)
    n = 600
    split = np.where(np.arange(n) < 300, "train", "val")
    group = rng.choice(4, n, p=[0.4, 0.4, 0.1, 0.1])  # 2 and 3: the failure's two kinds
    fw = np.abs(rng.normal(0, 0.05, (n, 8)))
    fw[np.arange(n), group] += 1.0
    label = np.where(group == 1, 1, 0)
    pred = np.where(group == 0, 0, 1)
    run = write_synthetic_run(tmp_path / "run", label, pred, split, features=fw, fw=fw)
    ids = run.samples["id"].to_numpy(str)
    val = split == "val"
    plain = get_slicer("error-aware", n_slices=3, refine_top=0).fit(run, "val")
    s = get_slicer("error-aware", n_slices=3).fit(run, "val")
    assert len(s.slices_) == len(plain.slices_) + len(s.splits_) and len(s.splits_) >= 1
    top = s.slices_[: len(s.splits_) + 1]  # the failing slices rank first
    assert all(x.metrics["accuracy"] == 0 for x in top)
    for g in (2, 3):  # each kind of failure is the core of a top slice
        truth = set(ids[val & (group == g)])
        assert max(np.mean([m in truth for m in x.members[:10]]) for x in top) == 1.0
        assert max(np.mean([m in truth for m in x.members[:10]])
                   for x in plain.slices_) < 0.8  # without the split, no slice is
    # placing the fit split again gives the fitted slices back
    assert np.array_equal(s.assign(run, "val"), s.labels_)
