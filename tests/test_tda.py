"""Training-data attribution on tiny convex problems: the head, each action's exact effect
against brute-force retraining with scikit-learn, the influence estimate against exact
retraining, and the statistics against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression

from slicelens.errors import SliceLensError
from slicelens.tda.actions import make_change, relabel_targets
from slicelens.tda.estimate import Targets, bootstrap_baselines, exact_effects, influence_effects
from slicelens.tda.head import HessianSolver, add_bias, fit_head, grad, hessian, hvp, objective
from slicelens.tda.params import ActionParams
from slicelens.tda.problem import HeadProblem, fit_baseline
from slicelens.tda.stats import adjust, paired_effect

LAM = 0.05


def make_problem(n_train=90, n_val=40, n_err=12, n_pool=30, C=3, d=3, seed=0):
    """Gaussian classes; the error group is val samples of class 0 placed near class 1."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(C, d))
    parts, splits, labels = [], [], []
    for split, n in (("train", n_train), ("val", n_val), ("pool", n_pool)):
        y = rng.integers(0, C, n)
        parts.append(centers[y] + rng.normal(size=(n, d)))
        splits += [split] * n
        labels.append(y if split != "pool" else np.full(n, -1))
    err = 0.5 * centers[0] + 0.5 * centers[1] + rng.normal(scale=0.5, size=(n_err, d))
    parts.append(err)
    splits += ["val"] * n_err
    labels.append(np.zeros(n_err, int))
    f = np.vstack(parts)
    y = np.concatenate(labels)
    hidden = np.concatenate([np.argmin(((f[:, None] - centers[None]) ** 2).sum(-1), 1)])
    theta = fit_head(add_bias(f[: n_train]), y[:n_train], n_classes=C, lam=LAM)
    P = np.exp(add_bias(f) @ theta.T)
    P /= P.sum(1, keepdims=True)
    pb = HeadProblem(ids=[f"s{i:03d}" for i in range(len(f))], splits=splits, labels=y,
                     preds=P.argmax(1), probs=P, features=f, classes=[f"c{i}" for i in range(C)])
    return pb, hidden


def sk_fit(X, y, w, n0):
    """Brute force: scikit-learn's solver on the same objective (C = 1 / (lam * n0))."""
    m = LogisticRegression(C=1.0 / (LAM * n0), fit_intercept=False, tol=1e-12, max_iter=100000)
    return m.fit(X, y, sample_weight=w)


def test_head_equals_sklearn_and_autograd():
    pb, _ = make_problem()
    tr = pb.split_index("train")
    X, y = pb.X(tr), pb.labels[tr]
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    theta = fit_head(X, y, n_classes=3, lam=LAM, w=w, n0=len(y))
    assert np.allclose(theta, sk_fit(X, y, w, len(y)).coef_, atol=1e-5)
    assert np.abs(grad(theta, X, y, w, len(y), LAM)).max() < 1e-7
    # Hessian in closed form == autograd Hessian of the objective; hvp == H @ v
    t = torch.tensor(theta, requires_grad=True)
    Xt, yt, wt = torch.tensor(X), torch.tensor(y), torch.tensor(w)

    def f(th):
        ce = torch.nn.functional.cross_entropy(Xt @ th.T, yt, reduction="none")
        return (wt * ce).sum() / len(y) + 0.5 * LAM * (th ** 2).sum()
    H_auto = torch.autograd.functional.hessian(f, t).reshape(theta.size, theta.size).numpy()
    H = hessian(theta, X, w, len(y), LAM)
    assert np.allclose(H, H_auto, atol=1e-10)
    assert float(f(t).detach()) == pytest.approx(objective(theta, X, y, w, len(y), LAM), rel=1e-12)
    V = np.random.default_rng(2).normal(size=theta.shape)
    assert np.allclose(hvp(theta, X, w, len(y), LAM, V).ravel(), H @ V.ravel(), atol=1e-12)


def test_matrix_free_solver_equals_cholesky(monkeypatch):
    import slicelens.tda.head as head

    pb, _ = make_problem()
    base = fit_baseline(pb, LAM)
    G = np.random.default_rng(3).normal(size=(2, *base.theta.shape))
    parts = [(base.X[:7], -np.ones(7))]
    dense = HessianSolver(base.theta, base.X, np.ones(base.n0), base.n0, LAM)
    monkeypatch.setattr(head, "EXPLICIT_MAX", 0)
    free = HessianSolver(base.theta, base.X, np.ones(base.n0), base.n0, LAM)
    assert free.H is None and dense.H is not None
    assert np.allclose(free.solve(G), dense.solve(G), atol=1e-6)
    assert np.allclose(free.solve_changed(G[0], parts), dense.solve_changed(G[0], parts), atol=1e-6)


def brute_force_effect(pb, base, change, targets, w_boot):
    """Retrain from scratch with scikit-learn on the explicitly modified data set."""
    X, y, w = base.X.copy(), base.y.copy(), w_boot.copy()
    keep = np.ones(len(y), bool)
    if change.action == "remove":
        keep[change.rows] = False                       # really drop the rows
    elif change.action == "relabel":
        y[change.rows] = change.new_labels
    elif change.factor is not None:
        w[change.rows] *= change.factor
    X2, y2, w2 = X[keep], y[keep], w[keep]
    if change.add_pos is not None:
        X2 = np.vstack([X2, pb.X(change.add_pos)])
        y2 = np.concatenate([y2, change.add_labels])
        w2 = np.concatenate([w2, np.ones(len(change.add_pos))])
    before = sk_fit(base.X, base.y, w_boot, base.n0).coef_
    after = sk_fit(X2, y2, w2, base.n0).coef_
    return targets.measure(after) - targets.measure(before)


@pytest.mark.parametrize("action", ["remove", "relabel", "upweight", "add"])
def test_each_action_exact_effect_equals_brute_force(action):
    pb, hidden = make_problem()
    base = fit_baseline(pb, LAM)
    err = np.flatnonzero(pb.splits == "val")[-12:]
    val = pb.split_index("val")
    targets = Targets(pb.X(err), pb.labels[err], pb.preds[err], pb.X(val), pb.labels[val], "loss")
    group = pb.split_index("train")[pb.labels[pb.split_index("train")] == 1][:15]
    pool_pos = pb.split_index("pool", labelled=False)
    change = make_change(action, group, pb, base, ActionParams(),
                         pool={"pos": pool_pos, "labels": hidden[pool_pos]})
    boots = bootstrap_baselines(base, targets, resamples=3, seed=0)
    ex = exact_effects(base, [change], targets, boots, pb.X)[0]
    brute = np.array([brute_force_effect(pb, base, change, targets, w) for w, _, _ in boots])
    assert ex.effect.mean == pytest.approx(brute[:, 0].mean(), abs=1e-5)
    assert ex.global_effect.mean == pytest.approx(brute[:, 1].mean(), abs=1e-9)
    assert ex.effect.n == 3 and abs(ex.effect.mean) > 1e-3       # the action does something
    if action == "add":
        assert len(change.add_pos) == 15 and change.factor is None


def test_influence_estimate_correlates_with_exact_retraining():
    pb, hidden = make_problem(n_train=200)
    base = fit_baseline(pb, LAM)
    err = np.flatnonzero(pb.splits == "val")[-12:]
    val = pb.split_index("val")
    targets = Targets(pb.X(err), pb.labels[err], pb.preds[err], pb.X(val), pb.labels[val], "loss")
    rng = np.random.default_rng(0)
    tr = pb.split_index("train")
    groups = [rng.choice(tr, size=8, replace=False) for _ in range(15)] + [tr[i:i + 1] for i in range(15)]
    pool_pos = pb.split_index("pool", labelled=False)
    for action in ("remove", "relabel", "upweight", "add"):
        changes = [make_change(action, g, pb, base, ActionParams(),
                               pool={"pos": pool_pos, "labels": hidden[pool_pos]}) for g in groups]
        full = [(np.ones(base.n0), base.theta, targets.measure(base.theta))] * 2
        exact = np.array([e.effect.mean for e in exact_effects(base, changes, targets, full, pb.X)])
        pred = influence_effects(base, changes, targets, pb.X)[:, 0]
        rho = stats.spearmanr(pred, exact)[0]
        assert rho > 0.9, (action, rho)


def test_paired_effect_matches_scipy_and_hand_values():
    before = np.array([1.0, 1.2, 0.9, 1.1, 1.05])
    after = before + np.array([-0.10, -0.20, -0.15, -0.05, -0.12])
    e = paired_effect(after - before)
    ref = stats.ttest_rel(after, before)
    assert e.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    d = after - before
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert (e.ci_low, e.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert e.mean == pytest.approx(-0.124)
    z = paired_effect(d, test="nguyen")              # Nguyen et al.: z = mean / sd
    assert z.p_value == pytest.approx(2 * stats.norm.sf(0.124 / d.std(ddof=1)))
    assert z.p_value > e.p_value
    assert paired_effect(np.zeros(4)).p_value == 1.0
    assert np.isnan(paired_effect(np.array([0.3])).p_value)
    q = adjust(np.array([0.01, 0.04, np.nan, 0.03]))
    assert q[:2].tolist() == pytest.approx([0.03, 0.04]) and np.isnan(q[2])  # BH by hand
    with pytest.raises(ValueError, match="test"):
        paired_effect(d, test="z")


def test_relabel_targets_follow_app_c4():
    labels = np.array([0, 0, 2])
    preds = np.array([1, 0, 2])                      # first misclassified, others correct
    probs = np.array([[0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.3, 0.6]])
    assert relabel_targets(labels, preds, probs).tolist() == [1, 2, 1]


def test_bad_l2_and_unknown_action_are_clear_errors():
    pb, _ = make_problem()
    with pytest.raises(SliceLensError, match="l2"):
        fit_head(pb.X(pb.split_index("train")), pb.labels[pb.split_index("train")], n_classes=3, lam=0)
    base = fit_baseline(pb, LAM)
    with pytest.raises(SliceLensError, match="unknown action"):
        make_change("burn", pb.split_index("train")[:3], pb, base, ActionParams())
    with pytest.raises(SliceLensError, match="not labelled training"):
        make_change("remove", pb.split_index("val")[:3], pb, base, ActionParams())
