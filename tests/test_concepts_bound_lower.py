"""The proven lower bound on JS(aug || val) at a budget (slicelens.concepts.bound_lower):
hand-computed values, and against the exhaustive minimum over every real choice."""

import itertools

import numpy as np
import pytest

from slicelens.concepts.alignment import top_concepts
from slicelens.concepts.bound import _hist, greedy_bound, jsd_rows
from slicelens.concepts.bound_lower import lower_bound, relaxed_lower_bound
from slicelens.errors import SliceLensError


def test_hand_computed_budgets():
    # validation a, b in equal shares; initial training a, a; candidates [a], [b], [b]
    val, init, cands = [["a"], ["b"]], [["a"], ["a"]], [["a"], ["b"], ["b"]]
    # k = 1: the best real choice (one b) gives JS((2/3, 1/3) || (1/2, 1/2)) = 0.020721;
    # no fractional choice does better (more b is better and b's weight is capped at 1)
    r1 = relaxed_lower_bound(val, init, cands, [0, 0, 0], k=1)
    assert r1["jsd"] == pytest.approx(0.020721, abs=1e-5)
    assert r1["jsd"] <= 0.020721 + 1e-9 and r1["relaxed"] >= r1["jsd"]
    assert relaxed_lower_bound(val, init, cands, [0, 0, 0], k=2)["jsd"] == pytest.approx(0, abs=1e-7)
    # k = 0: nothing can be added, the bound is the initial JSD (0.311278)
    assert relaxed_lower_bound(val, init, cands, [0, 0, 0], k=0)["jsd"] == pytest.approx(
        0.311278, abs=1e-5)


def _exhaustive(val, init, cands, labels, k):
    index = {c: j for j, c in enumerate(top_concepts(val, 10))}
    q, c, X = _hist(val, index).sum(0), _hist(init, index).sum(0), _hist(cands, index)
    groups = [np.flatnonzero(labels == s) for s in sorted(set(labels.tolist()))]
    best = np.inf
    for combo in itertools.product(*[itertools.combinations(g, min(k, len(g))) for g in groups]):
        pick = [i for part in combo for i in part]
        best = min(best, float(jsd_rows(c + X[pick].sum(0), q)[0]))
    return best


def test_never_above_the_best_real_choice_and_close_to_it():
    """On random small problems: lower bound <= exhaustive minimum <= greedy value, and
    the bound is not loose (a fractional choice can beat every real one, but on average
    the gap is a small part of the minimum; a bound of 0 everywhere would fail here)."""
    rng = np.random.default_rng(0)
    letters = "abcdef"
    gaps, bests = [], []
    for _ in range(25):
        tags = lambda n, p=None: [[letters[j] for j in rng.choice(6, rng.integers(1, 3), replace=False, p=p)]  # noqa: E731
                                  for _ in range(n)]
        val, init = tags(30), tags(20, [.4, .3, .1, .1, .05, .05])
        cands = [[letters[j] for j in rng.choice(6, rng.integers(0, 3), replace=False)]
                 for _ in range(8)]
        labels = rng.integers(0, 2, 8)
        k = int(rng.integers(1, 4))
        low = relaxed_lower_bound(val, init, cands, labels, k)["jsd"]
        best = _exhaustive(val, init, cands, labels, k)
        greedy = greedy_bound(val, [0] * 30, init, [0] * 20, cands, labels, k)["jsd"]
        assert low <= best + 1e-9 <= greedy + 2e-9
        gaps.append(best - low)
        bests.append(best)
    assert np.mean(gaps) < 0.05 * np.mean(bests)


def test_per_class_shape_and_fall_at_most():
    val = [["0: a"], ["0: b"], ["1: x"], ["1: y"]]
    init = [["0: a"], ["0: a"], ["1: x"], ["1: x"]]
    cands = [["0: a"], ["0: b"], ["1: x"], ["1: y"]]
    r = lower_bound(val, [0, 0, 1, 1], init, [0, 0, 1, 1], cands, [0, 0, 1, 1], k=1)
    assert set(r["per_class"]) == {0, 1} and r["k"] == 1
    for c in (0, 1):
        pc = r["per_class"][c]
        # within a class: a, a + b against a, b -> JS((2/3, 1/3) || (1/2, 1/2))
        assert pc["jsd"] == pytest.approx(0.020721, abs=1e-5)
        assert pc["fall_at_most"] == pytest.approx(1 - pc["jsd"] / 0.311278, abs=1e-4)
    with pytest.raises(SliceLensError, match="budget"):
        relaxed_lower_bound(val, init, cands, [0, 0, 1, 1], k=-1)
    # a training set without any top validation concept has no initial JSD: said so
    with pytest.raises(SliceLensError, match="none of the top validation concepts"):
        relaxed_lower_bound(val, [["0: z"]], cands, [0, 0, 1, 1], k=1)


def test_the_linear_step_is_the_exact_minimum_over_every_choice():
    """The Frank-Wolfe bound is valid only if its linear step is exact: Dinkelbach's
    answer equals the smallest <g, p(w)> over every k-per-class choice (the minimum of a
    linear-fractional function over the polytope is at one of its vertices)."""
    from slicelens.concepts.bound_lower import _lmo

    rng = np.random.default_rng(1)
    for _ in range(30):
        d, n = 4, 7
        X = rng.integers(0, 3, (n, d)).astype(float)
        c = rng.integers(1, 5, d).astype(float)
        g = rng.normal(size=d)
        labels = rng.integers(0, 2, n)
        groups = [np.flatnonzero(labels == s) for s in (0, 1)]
        k = int(rng.integers(1, 3))
        ks = [min(k, len(x)) for x in groups]
        got = float(g @ _lmo(g, c, X, X.sum(1), groups, ks))
        best = np.inf
        for combo in itertools.product(*[itertools.combinations(x, kk)
                                         for x, kk in zip(groups, ks, strict=True)]):
            a = c + X[[i for part in combo for i in part]].sum(0)
            best = min(best, float(g @ (a / a.sum())))
        assert got == pytest.approx(best, abs=1e-12)
