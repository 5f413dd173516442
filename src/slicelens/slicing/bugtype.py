"""Bug classification with evidence (HiBug Sec. 3.2, "Bug classification").

A bug slice (a group of samples sharing attribute values, with low accuracy) gets one
of three root causes, each backed by numbers a person can check:

- **spurious correlation** (HiBug): the model predicts one class ``c`` for the slice
  far more than its labels say. Evidence: ``P(pred = c | slice)`` in validation (the
  paper's conditional probability, threshold ``alpha``; HiBug uses 0.7 / 0.8) and
  ``P(label = c | slice)``; we also require the prediction to exceed the label share
  by ``margin``, so that a subgroup that truly belongs to ``c`` (all its labels are
  ``c``) is not called spurious. Beside it: the share of the slice within each class
  in training, ``P(slice | label = k, train)``, which shows the bias the model learned.
- **rare case** (HiBug): the slice is rare in training. Evidence: its share of the
  training split over its share of the validation split, ``freq_ratio``; rare when at
  most ``rare_ratio``.
- **wrong labels** (ours, DESIGN.md): the slice's training labels disagree with what
  the slice is. Two signs, either suffices:
  (a) the model confidently disagrees with them: the share of the slice's training
  samples predicted, with confidence at least ``confident``, as another class than
  their label is at least ``wrong_rate`` and ``wrong_lift`` times that share in the
  rest of training (a model that memorised the wrong labels hides this sign);
  (b) a class ``k`` labels at least ``wrong_rate`` of the slice in training but at most
  ``wrong_rate / wrong_lift`` of it in validation, whose labels are taken as checked
  (HiBug uses validation labels as ground truth too). A sampling bias (spurious
  correlation) shifts the label mix without such an absent class.
  Also shown: the share of the slice's validation errors made with high confidence.

The first that applies, in the order wrong labels by sign (b), spurious, wrong labels
by sign (a), rare case, is the bug type; None when none applies. Sign (b) comes first
because it is the one sign a spurious correlation cannot give (its training labels are
right, only their mix is biased), while a model that learned wrong labels also predicts
one class far more than the labels say - the spurious sign: on the development
problems 100-107 the slices that name the flipped digit were typed wrong labels in 2 of
8 with spurious first and in 6 of 8 with sign (b) first, the spurious and rare-case
slices unchanged. All functions are pure NumPy.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

MIN_TRAIN = 10  # fewest training samples of a slice to judge its labels


class BugTypeParams(BaseModel):
    """Thresholds of the bug classification (declared once; slicers inherit them)."""

    alpha: float = Field(0.8, gt=0.5, le=1, description="spurious: P(pred=c | slice) threshold (HiBug: 0.7/0.8)")
    margin: float = Field(0.15, ge=0, le=1, description="spurious: P(pred=c) - P(label=c) at least this")
    rare_ratio: float = Field(0.5, gt=0, le=1, description="rare case: train share / val share at most this")
    confident: float = Field(0.8, ge=0.5, le=1, description="wrong labels: confidence of a disagreement")
    wrong_rate: float = Field(0.1, gt=0, le=1, description="wrong labels: confident disagreement share in the slice")
    wrong_lift: float = Field(2.0, ge=1, description="wrong labels: that share over the rest of training")


def bug_evidence(in_val: np.ndarray, val_label: np.ndarray, val_pred: np.ndarray,
                 val_conf: np.ndarray, in_train: np.ndarray, train_label: np.ndarray,
                 train_pred: np.ndarray, train_conf: np.ndarray, n_classes: int) -> dict:
    """The numbers behind the bug type of one slice.

    Parameters
    ----------
    in_val : bool (n_val,)
        Slice membership of the labelled validation samples.
    val_label, val_pred : int (n_val,)
    val_conf : float (n_val,)
        Confidence of the prediction (max probability).
    in_train : bool (n_train,)
        Slice membership of the labelled training samples (may be all False).
    train_label, train_pred : int (n_train,)
    train_conf : float (n_train,)
    n_classes : int

    Returns
    -------
    dict with ``pred_class``, ``p_pred`` (= P(pred = c | slice), val), ``p_label``
    (P(label = c | slice), val), ``train_share_by_class`` (P(slice | label = k, train),
    list of n_classes), ``freq_train``, ``freq_val``, ``freq_ratio``,
    ``train_disagree`` and ``rest_disagree`` (confident disagreement shares),
    ``confident_error_share`` (val errors with confidence >= 0.8 among the slice's errors).
    """
    in_val, in_train = np.asarray(in_val, bool), np.asarray(in_train, bool)
    pred_counts = np.bincount(val_pred[in_val], minlength=n_classes)
    c = int(pred_counts.argmax())
    nv = max(int(in_val.sum()), 1)
    n_train = len(in_train)
    share = [float((in_train & (train_label == k)).sum() / max((train_label == k).sum(), 1))
             for k in range(n_classes)]
    freq_train = float(in_train.mean()) if n_train else float("nan")
    mix_train = np.bincount(train_label[in_train], minlength=n_classes) / max(in_train.sum(), 1)
    mix_val = np.bincount(val_label[in_val], minlength=n_classes) / nv
    freq_val = float(in_val.mean())
    return {
        "pred_class": c,
        "p_pred": float(pred_counts[c] / nv),
        "p_label": float((val_label[in_val] == c).sum() / nv),
        "train_share_by_class": share,
        "freq_train": freq_train,
        "freq_val": freq_val,
        "freq_ratio": freq_train / freq_val if freq_val > 0 and n_train else float("nan"),
        "train_disagree": _disagree(in_train, train_label, train_pred, train_conf),
        "rest_disagree": _disagree(~in_train, train_label, train_pred, train_conf),
        "n_train": int(in_train.sum()),
        "label_mix_train": mix_train.tolist(),
        "label_mix_val": mix_val.tolist(),
        "confident_error_share": _confident_errors(in_val, val_label, val_pred, val_conf),
    }


def _disagree(mask, label, pred, conf, confident: float = 0.8) -> float:
    m = np.asarray(mask, bool)
    if not m.any():
        return float("nan")
    return float(((pred[m] != label[m]) & (conf[m] >= confident)).mean())


def _confident_errors(mask, label, pred, conf, confident: float = 0.8) -> float:
    err = mask & (pred != label)
    return float((conf[err] >= confident).mean()) if err.any() else float("nan")


def classify(ev: dict, p: BugTypeParams | None = None) -> str | None:
    """The bug type of a slice from its :func:`bug_evidence` (None when no rule applies).

    Examples
    --------
    >>> ev = {"p_pred": 0.95, "p_label": 0.0, "freq_ratio": 1.0, "n_train": 40,
    ...       "label_mix_train": [0.0, 1.0], "label_mix_val": [0.0, 1.0],
    ...       "train_disagree": 0.0, "rest_disagree": 0.0}
    >>> classify(ev)                    # right training labels, the model predicts class 0
    'spurious'
    >>> classify({**ev, "label_mix_train": [0.3, 0.7]})   # 30% labelled 0 in training, none in val
    'wrong_labels'
    """
    p = p or BugTypeParams()
    wrong = wrong_label_class(ev, p)
    if wrong is not None and wrong >= 0:  # sign (b): a class training has, validation not
        return "wrong_labels"
    if ev["p_pred"] >= p.alpha and ev["p_pred"] - ev["p_label"] >= p.margin:
        return "spurious"
    if wrong is not None:
        return "wrong_labels"
    if np.isfinite(ev["freq_ratio"]) and ev["freq_ratio"] <= p.rare_ratio:
        return "rare_case"
    return None


def wrong_label_class(ev: dict, p: BugTypeParams) -> int | None:
    """The class the slice's wrong training labels name, by sign (b); -1 for sign (a)
    alone; None when neither sign holds (see the module docstring)."""
    if ev["n_train"] < MIN_TRAIN:
        return None
    mt, mv = np.asarray(ev["label_mix_train"]), np.asarray(ev["label_mix_val"])
    absent = (mt >= p.wrong_rate) & (mv <= p.wrong_rate / p.wrong_lift)
    if absent.any():
        return int(np.argmax(np.where(absent, mt, -1)))
    d, rest = ev["train_disagree"], ev["rest_disagree"]
    if np.isfinite(d) and d >= p.wrong_rate and d >= p.wrong_lift * (rest if np.isfinite(rest) else 0):
        return -1
    return None


TYPE_WORDS = {"spurious": "spurious correlation", "rare_case": "rare case",
              "wrong_labels": "wrong labels", None: "no clear cause"}


def explain(bug_type: str | None, ev: dict, classes: list[str]) -> str:
    """One sentence with the evidence behind ``bug_type``."""
    c = classes[ev["pred_class"]]
    if bug_type == "spurious":
        return (f"predicted {c} for {ev['p_pred']:.0%} of it while {ev['p_label']:.0%} are "
                f"labelled {c}; in training it makes up " + ", ".join(
                    f"{s:.0%} of {k}" for k, s in zip(classes, ev["train_share_by_class"],
                                                      strict=True)))
    if bug_type == "wrong_labels":
        return (f"{ev['n_train']} training samples labelled " + ", ".join(
            f"{m:.0%} {k}" for k, m in zip(classes, ev["label_mix_train"], strict=True))
            + " vs " + ", ".join(f"{m:.0%} {k}" for k, m in zip(
                classes, ev["label_mix_val"], strict=True)) + " in validation; the model "
            f"confidently disagrees with {ev['train_disagree']:.0%} of the training labels "
            f"(rest: {ev['rest_disagree']:.0%})")
    if bug_type == "rare_case":
        return (f"{ev['freq_train']:.1%} of training vs {ev['freq_val']:.1%} of validation "
                f"(ratio {ev['freq_ratio']:.2f})")
    return f"no rule applies (top prediction {c} for {ev['p_pred']:.0%})"
