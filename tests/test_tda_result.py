"""Error groups, candidate training groups, the ranked typed result and its training plan,
and wrong-label detection, on small synthetic problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from slicelens.attributes.matrix import AttributeMatrix
from slicelens.errors import DataError, SliceLensError
from slicelens.repair.plan import TrainingPlan
from slicelens.slicing.base import Slice, SliceSet
from slicelens.tda.attribute import attribute
from slicelens.tda.groups import (
    TrainingGroup,
    candidate_groups,
    confusion_error_group,
    ids_error_group,
    worst_confusion_cell,
)
from slicelens.tda.head import add_bias, fit_head, hessian, probs
from slicelens.tda.labels import margins, self_influence, wrong_label_scores
from slicelens.tda.params import TDAParams
from slicelens.tda.problem import HeadProblem, fit_baseline
from slicelens.tda.result import TDAResult, to_plan


def planted(seed=0, n=300, flip=30):
    """Two Gaussian classes in 2-D. ``flip`` training samples of class 1 in a corner carry
    label 0 (planted wrong labels) and drag the head so that val samples of class 1 there
    are predicted 0: the error group, caused by the flipped group."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, 2 * n)
    f = np.c_[np.where(y_true == 1, 1.5, -1.5), np.zeros(2 * n)] + rng.normal(size=(2 * n, 2))
    corner = np.c_[rng.normal(1.5, 0.3, flip + 40), rng.normal(3.0, 0.3, flip + 40)]
    f = np.vstack([f, corner])
    y_true = np.concatenate([y_true, np.ones(flip + 40, int)])
    splits = np.array(["train"] * n + ["val"] * n + ["train"] * flip + ["val"] * 40)
    labels = y_true.copy()
    labels[2 * n:2 * n + flip] = 0                                  # the wrong labels
    tr = splits == "train"
    theta = fit_head(add_bias(f[tr]), labels[tr], n_classes=2, lam=0.01)
    P = probs(theta, add_bias(f))
    ids = np.array([f"s{i:04d}" for i in range(len(f))])
    pb = HeadProblem(ids=ids, splits=splits, labels=labels, preds=P.argmax(1), probs=P,
                     features=f, classes=["neg", "pos"])
    flipped = np.zeros(len(f), bool)
    flipped[2 * n:2 * n + flip] = True
    return pb, flipped


def test_error_groups_and_worst_cell():
    pb, _ = planted()
    assert worst_confusion_cell(pb) == "pos->neg"
    by_name = confusion_error_group(pb, "pos->neg")
    assert confusion_error_group(pb, "1->0").ids.tolist() == by_name.ids.tolist()
    pos = pb.positions(by_name.ids)
    assert (pb.labels[pos] == 1).all() and (pb.preds[pos] == 0).all() and (pb.splits[pos] == "val").all()
    assert by_name.name == "true pos, predicted neg (val)"
    with pytest.raises(DataError, match="unknown class 'cat'"):
        confusion_error_group(pb, "cat->neg")
    with pytest.raises(DataError, match="TRUE->PREDICTED"):
        confusion_error_group(pb, "pos")
    with pytest.raises(DataError, match="unknown sample id 'nope'"):
        ids_error_group(pb, ["nope"])


def test_candidate_groups_by_label_prediction_slice_attribute_and_neighbours():
    pb, _ = planted()
    err = confusion_error_group(pb, "pos->neg")
    tr = pb.split_index("train")
    val = pb.split_index("val")
    # a slice set fitted on val: slice 0 = val samples with x > 0
    ss = SliceSet("toy", {}, "r", "val", [Slice("right", pb.ids[val[pb.features[val, 0] > 0]]),
                                          Slice("left", pb.ids[val[pb.features[val, 0] <= 0]])],
                  pb.ids[val], (pb.features[val, 0] <= 0).astype(np.int64))
    shade = np.where(pb.features[tr, 1] > 2, "top", "bottom")
    am = AttributeMatrix(pd.DataFrame({"id": pb.ids[tr], "attribute": "height", "value": shade,
                                       "score": 1.0}), {"height": ["top", "bottom"]})
    groups = candidate_groups(pb, err, ("label", "pred", "confusion", "slice", "attribute", "knn"),
                              slice_sets=[ss], attributes=am, k=3, min_size=2)
    by = {g.name: g for g in groups}
    assert set(by["label pos"].ids) == set(pb.ids[tr[pb.labels[tr] == 1]])
    assert set(by["predicted neg"].ids) == set(pb.ids[tr[pb.preds[tr] == 0]])
    cell = by["label neg, predicted neg"]
    assert all(pb.labels[pb.positions(cell.ids)] == 0) and all(pb.preds[pb.positions(cell.ids)] == 0)
    right = by["slice toy:right"].ids
    assert (pb.features[pb.positions(right), 0] > -0.2).mean() > 0.95  # 1-NN placement in fw/F
    assert set(by["height = top"].ids) == set(pb.ids[tr[shade == "top"]])
    assert "label neg, height = top" in by
    knn = by["3 nearest training neighbours of each error"]
    F = pb.features / np.linalg.norm(pb.features, axis=1, keepdims=True)
    near = np.argsort(-(F[pb.positions(err.ids)] @ F[tr].T), axis=1)[:, :3]  # cosine by hand
    assert set(knn.ids) == set(pb.ids[tr[np.unique(near)]])
    lab1 = by["3 nearest training neighbours of each error, labelled pos"].ids
    assert set(lab1) == {i for i in knn.ids if pb.labels[pb.positions([i])[0]] == 1}
    assert all(g.size >= 2 for g in groups)
    assert len({tuple(sorted(g.ids)) for g in groups}) == len(groups)  # no duplicate membership
    singles = candidate_groups(pb, err, ("sample",), sample_ids=pb.ids[tr[:4]])
    assert [g.size for g in singles] == [1, 1, 1, 1]
    with pytest.raises(SliceLensError, match="unknown candidate kind"):
        candidate_groups(pb, err, ("colour",))


def test_attribute_finds_the_planted_cause_and_ranks_reliably():
    pb, flipped = planted()
    err = confusion_error_group(pb, "pos->neg")
    tr = pb.split_index("train")
    culprit = TrainingGroup("planted flips", "sample", pb.ids[flipped])  # kind only labels it
    decoy = TrainingGroup("far negatives", "label", pb.ids[tr[(pb.labels[tr] == 0)][:30]])
    res = attribute(pb, err, [culprit, decoy], TDAParams(top=4, resamples=4, l2=0.01))
    top = res.rows[0]
    assert top.group.name == "planted flips" and top.action in ("remove", "relabel")
    assert top.method == "exact" and top.significant and top.p_value < 0.01
    assert top.ci_low <= top.effect <= top.ci_high and top.effect < 0 < top.benefit
    assert top.error_accuracy_effect > 0.3 and top.global_effect >= 0
    assert [r.rank for r in res.rows] == list(range(1, 9))
    assert sum(r.method == "exact" for r in res.rows) == 4 and all(
        r.method == "influence" and np.isnan(r.ci_low) for r in res.rows[4:])
    for r in res.rows[:4]:                                            # rank order of exact rows
        assert r.n_retrains == 4 and np.isfinite(r.p_adjusted)
    ok = [r.benefit for r in res.rows[:4] if r.global_effect >= -0.01]
    assert ok == sorted(ok, reverse=True)
    assert res.baseline["agreement_val"] == 1.0 and res.baseline["baseline_retrains"] == 4


def test_result_round_trip_and_plans(tmp_path):
    pb, flipped = planted()
    err = confusion_error_group(pb, "pos->neg")
    pool = {"pos": pb.split_index("val")[:50], "labels": pb.labels[pb.split_index("val")[:50]]}
    g = TrainingGroup("planted flips", "confusion", pb.ids[flipped])
    res = attribute(pb, err, [g], TDAParams(top=2, resamples=2, l2=0.01), pool=pool, run_id="r1")
    back = TDAResult.load(res.save(tmp_path / "r.json"))
    assert back.to_json() == res.to_json() and back.row(1).group.ids.tolist() == g.ids.tolist()
    plans = {r.action: to_plan(r) for r in back.rows}
    assert plans["remove"].remove == g.ids.tolist()
    assert plans["relabel"].relabel == {i: 1 for i in g.ids}               # flips go back
    assert plans["upweight"].weights == {i: 10.0 for i in g.ids}
    assert len(plans["add"].add) == len(g.ids) and set(plans["add"].add) <= set(pb.ids[pool["pos"]])
    for p in plans.values():
        assert p.strategy == "tda-action" and TrainingPlan.load(p.save(tmp_path / "p.json")) == p
    table = back.table()
    assert list(table["rank"]) == [1, 2, 3, 4] and set(table["action"]) == set(plans)
    with pytest.raises(SliceLensError, match="no row 9"):
        back.row(9)


def test_wrong_label_scores_find_the_planted_flips():
    # scattered flips: 25 random class-1 training samples carry label 0
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 2, 400)
    f = np.c_[np.where(y_true == 1, 1.5, -1.5), rng.normal(size=400)] + rng.normal(size=(400, 2))
    flipped = np.zeros(400, bool)
    flipped[rng.choice(np.flatnonzero(y_true[:300] == 1), 25, replace=False)] = True
    labels = np.where(flipped, 0, y_true)
    P = probs(fit_head(add_bias(f[:300]), labels[:300], n_classes=2, lam=0.01), add_bias(f))
    pb = HeadProblem(ids=[f"s{i}" for i in range(400)], splits=["train"] * 300 + ["val"] * 100,
                     labels=labels, preds=P.argmax(1), probs=P, features=f, classes=["neg", "pos"])
    base = fit_baseline(pb, 0.01)
    df = wrong_label_scores(pb, base)
    truth = flipped[pb.positions(df["id"])]
    assert roc_auc_score(truth, df["margin"]) > 0.9
    assert roc_auc_score(truth, df["self_influence"]) > 0.9
    assert (df.loc[truth & (df["pred"] == "pos").to_numpy(), "suggested"] == "pos").all()
    # self-influence of one sample by hand: g^T H^-1 g / n
    i = 7
    p = probs(base.theta, base.X[i:i + 1])[0]
    g = np.outer(p - np.eye(2)[base.y[i]], base.X[i]).ravel()
    H = hessian(base.theta, base.X, np.ones(base.n0), base.n0, base.lam)
    assert self_influence(base.theta, base.X, base.y, base.lam)[i] == pytest.approx(
        g @ np.linalg.solve(H, g) / base.n0)
    assert margins(np.array([[0.6, 0.3, 0.1]]), np.array([2])).tolist() == pytest.approx([0.5])


def test_rows_that_sacrifice_a_class_rank_last():
    from slicelens.tda.estimate import effect_columns

    d = np.array([[-0.5, 0.01, 0.2, 0.10, -0.30], [0.1, 0.0, 0.0, 0.02, 0.01]])
    assert effect_columns(d)[:, 3].tolist() == pytest.approx([-0.30, 0.01])   # worst class change
    pb, flipped = planted()
    err = confusion_error_group(pb, "pos->neg")
    tr = pb.split_index("train")
    negs = TrainingGroup("label neg", "label", pb.ids[tr[pb.labels[tr] == 0]])
    culprit = TrainingGroup("planted flips", "confusion", pb.ids[flipped])
    res = attribute(pb, err, [negs, culprit], TDAParams(top=8, resamples=2, l2=0.01,
                                                        actions=["remove"]))
    by = {r.group.name: r for r in res.rows}
    whole = by["label neg"]                  # removing a class "fixes" the errors by force
    assert whole.benefit > by["planted flips"].benefit and whole.worst_class_effect < -0.05
    assert whole.rank == 2 and by["planted flips"].rank == 1
