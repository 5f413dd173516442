"""Bug classification on planted synthetic cases (HiBug Sec. 3.2, plus wrong labels)."""

from __future__ import annotations

import numpy as np
import pytest

from slicelens.slicing.bugtype import BugTypeParams, bug_evidence, classify, explain

RNG = np.random.default_rng(0)
N_VAL, N_TRAIN = 1000, 2000


def _case(kind: str):
    """Arrays of a validation and a training split with one planted bug in slice S."""
    val_label = RNG.integers(0, 2, N_VAL)
    in_val = np.arange(N_VAL) < 200
    val_pred = val_label.copy()
    train_label = RNG.integers(0, 2, N_TRAIN)
    train_pred = train_label.copy()
    train_conf = np.full(N_TRAIN, 0.95)
    in_train = np.arange(N_TRAIN) < 400
    if kind == "spurious":  # S is predicted class 1 whatever its label; training biased
        val_pred[in_val] = 1
        train_label[in_train] = np.where(RNG.random(400) < 0.95, 1, 0)
        train_pred[in_train] = train_label[in_train]
    elif kind == "rare":  # S errs half the time and is 20x rarer in training
        val_pred[in_val] = np.where(RNG.random(200) < 0.5, 1 - val_label[in_val], val_label[in_val])
        in_train = np.arange(N_TRAIN) < 20
    elif kind == "wrong_memorised":  # S's training labels flipped to 0 in 30%, memorised
        val_label[in_val] = 1
        val_pred[in_val] = np.where(RNG.random(200) < 0.3, 0, 1)
        train_label[in_train] = np.where(RNG.random(400) < 0.3, 0, 1)
        train_pred[in_train] = train_label[in_train]
    elif kind == "wrong_learned":  # 30% of S's training labels say 0; the model learned 0
        val_label[in_val] = 1
        val_pred[in_val] = np.where(RNG.random(200) < 0.95, 0, 1)
        train_label[in_train] = np.where(RNG.random(400) < 0.3, 0, 1)
        train_pred[in_train] = 0
    elif kind == "wrong_disagree":  # S's labels are mixed in both splits, model disagrees
        flip = RNG.random(400) < 0.3
        train_pred[in_train] = np.where(flip, 1 - train_label[in_train], train_label[in_train])
        val_pred[in_val] = np.where(RNG.random(200) < 0.3, 1 - val_label[in_val], val_label[in_val])
    elif kind == "none":  # errs, but in no telling way
        val_pred[in_val] = np.where(RNG.random(200) < 0.3, 1 - val_label[in_val], val_label[in_val])
    val_conf = np.full(N_VAL, 0.9)
    return bug_evidence(in_val, val_label, val_pred, val_conf, in_train, train_label,
                        train_pred, train_conf, 2)


@pytest.mark.parametrize("kind,expected", [("spurious", "spurious"), ("rare", "rare_case"),
                                           ("wrong_memorised", "wrong_labels"),
                                           # predicted one class like a spurious slice, but
                                           # training names a class validation lacks
                                           ("wrong_learned", "wrong_labels"),
                                           ("wrong_disagree", "wrong_labels"), ("none", None)])
def test_planted_cases(kind, expected):
    ev = _case(kind)
    assert classify(ev) == expected
    assert explain(expected, ev, ["a", "b"])  # every type has words


def test_spurious_needs_prediction_beyond_the_labels():
    # a subgroup that truly is class 1 (all labels 1, all predicted 1) is not spurious
    ev = {"p_pred": 1.0, "p_label": 1.0, "freq_ratio": 1.0, "n_train": 50,
          "label_mix_train": [0.0, 1.0], "label_mix_val": [0.0, 1.0],
          "train_disagree": 0.0, "rest_disagree": 0.0}
    assert classify(ev) is None
    assert classify({**ev, "p_label": 0.5}) == "spurious"
    assert classify({**ev, "p_pred": 0.75, "p_label": 0.5}) is None          # below alpha 0.8
    assert classify({**ev, "p_pred": 0.75, "p_label": 0.5}, BugTypeParams(alpha=0.7)) == "spurious"


def test_evidence_numbers_hand_computed():
    in_val = np.array([1, 1, 1, 1, 0, 0], bool)
    ev = bug_evidence(in_val, np.array([0, 0, 1, 1, 0, 1]), np.array([1, 1, 1, 0, 0, 1]),
                      np.array([.9, .6, .9, .9, .9, .9]),
                      np.array([1, 0, 0, 0], bool), np.array([0, 0, 1, 1]),
                      np.array([1, 0, 1, 1]), np.array([.95, .9, .9, .9]), 2)
    assert ev["pred_class"] == 1 and ev["p_pred"] == 0.75 and ev["p_label"] == 0.5
    assert ev["freq_val"] == 4 / 6 and ev["freq_train"] == 0.25
    assert ev["freq_ratio"] == pytest.approx(0.25 / (4 / 6))
    assert ev["train_share_by_class"] == [0.5, 0.0]
    assert ev["train_disagree"] == 1.0 and ev["rest_disagree"] == 0.0
    assert ev["confident_error_share"] == pytest.approx(2 / 3)  # errors at .9, .6, .9
