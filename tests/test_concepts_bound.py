"""The reachable-JSD diagnostic (slicelens.concepts.bound): greedy lowest JS(aug || val)
at a budget, against hand-computed values."""

import math

import numpy as np
import pytest

from slicelens.concepts.alignment import jsd
from slicelens.concepts.bound import greedy_bound, jsd_rows


def _hand_js(p, q):
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl = lambda x: sum(a * math.log2(a / c) for a, c in zip(x, m, strict=True) if a > 0)  # noqa: E731
    return (kl(p) + kl(q)) / 2


def test_jsd_rows_equals_jsd():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 5, (6, 4)).astype(float)
    c[c.sum(1) == 0, 0] = 1
    q = np.array([1.0, 2.0, 0.0, 3.0])
    got = jsd_rows(c, q)
    assert np.allclose(got, [jsd(r, q) for r in c], atol=1e-12)


def test_greedy_bound_hand_computed():
    # validation: a, b in equal shares; initial training: a, a; candidates [a], [b], [b]
    val, init = [["a"], ["b"]], [["a"], ["a"]]
    cands = [["a"], ["b"], ["b"]]
    r1 = greedy_bound(val, [0, 0], init, [0, 0], cands, [0, 0, 0], k=1)
    # by hand: adding one b gives counts a=2, b=1: JS((2/3, 1/3) || (1/2, 1/2))
    #   M = (7/12, 5/12); KL(P||M) = 2/3 log2(8/7) + 1/3 log2(4/5) = 0.021121
    #   KL(Q||M) = 1/2 log2(6/7) + 1/2 log2(6/5) = 0.020321  -> JS = 0.020721
    assert r1["jsd"] == pytest.approx(0.020721, abs=1e-6)
    assert r1["jsd"] == pytest.approx(_hand_js([2 / 3, 1 / 3], [0.5, 0.5]), abs=1e-12)
    # initial: JS((1, 0) || (1/2, 1/2)) = 0.311278 (the value in test_concepts_core)
    assert r1["jsd_init_val"] == pytest.approx(0.311278, abs=1e-6)
    assert r1["fall"] == pytest.approx(1 - 0.020721 / 0.311278, abs=1e-5)
    assert r1["added"] == 1
    r2 = greedy_bound(val, [0, 0], init, [0, 0], cands, [0, 0, 0], k=2)
    assert r2["jsd"] == pytest.approx(0.0, abs=1e-12)      # a, a, b, b matches validation
    assert r2["fall"] == pytest.approx(1.0)
    # k larger than the candidates: all three are added (a=3, b=2)
    r5 = greedy_bound(val, [0, 0], init, [0, 0], cands, [0, 0, 0], k=5)
    assert r5["added"] == 3
    assert r5["jsd"] == pytest.approx(_hand_js([3 / 5, 2 / 5], [0.5, 0.5]), abs=1e-12)


def test_greedy_bound_per_class_and_round_robin():
    # two classes with disjoint concepts; class 1 needs "y", class 0 needs "b"
    val = [["0: a"], ["0: b"], ["1: x"], ["1: y"]]
    vl = [0, 0, 1, 1]
    init = [["0: a"], ["1: x"]]
    il = [0, 1]
    cands = [["0: a"], ["0: b"], ["1: x"], ["1: y"]]
    cl = [0, 0, 1, 1]
    r = greedy_bound(val, vl, init, il, cands, cl, k=1)
    assert r["added"] == 2                                  # one per class
    assert r["jsd"] == pytest.approx(0.0, abs=1e-12)        # a, b, x, y: uniform like val
    assert r["per_class"][0]["jsd"] == pytest.approx(0.0, abs=1e-12)
    assert r["per_class"][1]["jsd_init_val"] == pytest.approx(_hand_js([1, 0], [0.5, 0.5]))
    assert r["per_class"][1]["candidates"] == 2
    # k = 0: nothing added, the bound is the initial JSD
    r0 = greedy_bound(val, vl, init, il, cands, cl, k=0)
    assert r0["jsd"] == pytest.approx(r0["jsd_init_val"])
