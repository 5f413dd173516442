"""Bug type and evidence for the slices of any slicer, and the bug-first ranking.

:mod:`slicelens.slicing.bugtype` classifies one slice from its members in the fit split
and in training. Slicers that are not attribute-based (attribution, error clustering)
have members in training only through ``assign``; :func:`attach_bug_types` takes the
slice index of the fit split's and the training split's samples and writes
``slice.bug_type`` and ``slice.evidence`` (with ``explanation``, one sentence) for
every slice that has none yet.

:func:`bug_first_order` is HiBug's ranking idea on top of ours: a *bug slice* (its
accuracy below the overall accuracy, HiBug Sec. 3.2) with a bug type goes before every
slice without one, each group kept in the Wilson order of
:mod:`slicelens.slicing.metrics`. It is how a rare case (``freq_ratio <= 0.5``) that is
only moderately wrong still reaches the top 10.
"""

from __future__ import annotations

import numpy as np

from slicelens.slicing.bugtype import BugTypeParams, bug_evidence, classify, explain
from slicelens.slicing.metrics import rank_key


def _labelled(samples, rows):
    s = samples.iloc[rows]
    keep = s["label"].to_numpy() >= 0
    s = s[keep]
    return (keep, s["label"].to_numpy(np.int64), s["pred"].to_numpy(np.int64),
            s["confidence"].to_numpy(np.float64))


def attach_bug_types(slices, samples, fit_rows: np.ndarray, fit_assign: np.ndarray,
                     train_rows: np.ndarray, train_assign: np.ndarray, classes: list[str],
                     params: BugTypeParams | None = None, overwrite: bool = False) -> None:
    """Give each slice a bug type (or None) and its evidence, in place.

    Parameters
    ----------
    slices : list of Slice
    samples : DataFrame
        ``run.samples``.
    fit_rows, train_rows : int arrays
        Row positions of the fit split and of the training split in ``samples``
        (``train_rows`` may be empty: then no rare-case or wrong-label evidence).
    fit_assign, train_assign : int arrays, aligned with the rows
        Slice index per sample (-1 = none).
    overwrite : bool
        Also re-type slices that already have a bug type or an explanation.
    """
    p = params or BugTypeParams()
    keep_f, vl, vp, vc = _labelled(samples, fit_rows)
    fa = np.asarray(fit_assign)[keep_f]
    if len(train_rows):
        keep_t, tl, tp, tc = _labelled(samples, train_rows)
        ta = np.asarray(train_assign)[keep_t]
    else:
        tl = tp = np.zeros(0, np.int64)
        tc, ta = np.zeros(0), np.zeros(0, np.int64)
    for i, s in enumerate(slices):
        if not overwrite and (s.bug_type is not None or "explanation" in s.evidence):
            continue
        ev = bug_evidence(fa == i, vl, vp, vc, ta == i, tl, tp, tc, len(classes))
        bug = classify(ev, p) if (fa == i).any() else None
        ev["explanation"] = explain(bug, ev, classes)
        s.evidence.update(ev)
        s.bug_type = bug


def is_bug_slice(s, overall_accuracy: float) -> bool:
    """A slice with a bug type whose accuracy is below ``overall_accuracy``."""
    acc = s.metrics.get("accuracy", float("nan"))
    return s.bug_type is not None and np.isfinite(acc) and acc < overall_accuracy


def bug_first_order(slices, overall_accuracy: float) -> np.ndarray:
    """Indices ranking bug slices first, then the rest, each by :func:`rank_key`."""
    keys = [(0 if is_bug_slice(s, overall_accuracy) else 1, *rank_key(s.metrics))
            for s in slices]
    return np.array(sorted(range(len(slices)), key=lambda i: keys[i]), np.int64)


def classify_by_neighbours(ev: dict, p: BugTypeParams | None = None) -> str | None:
    """Bug type from a slice's neighbourhood in the attribution space.

    ``ev`` holds :func:`~slicelens.slicing.bugtype.bug_evidence` plus
    ``density_ratio`` and ``train_label_mix_nbrs`` from
    :meth:`~slicelens.slicing.neighbours.TrainContext.slice_stats`. With ``c`` the
    slice's most predicted class, in this order:

    1. **rare case** (HiBug): ``density_ratio <= rare_ratio`` - training has few
       look-alikes of the slice compared with the fit split; or (:func:`own_label_absent`)
       the model predicts another class than the slice's majority label ``y`` and at most
       ``wrong_rate / wrong_lift`` of the training samples around it are labelled ``y``
       - training has look-alikes, but (almost) none of the slice's kind: the model
       learned nothing but the other class there;
    2. **spurious** (HiBug): the model predicts ``c`` for the slice (``P(pred=c) >=
       alpha``, ``margin`` above ``P(label=c)``) and the training samples around it are
       mostly labelled ``c`` (at least half): the model learned ``c`` for what the
       slice looks like, while its own labels say otherwise;
    3. **wrong labels**: a class makes up at least ``wrong_rate`` of the training labels
       around the slice but at most ``wrong_rate / wrong_lift`` of its (checked)
       fit-split labels, without being the majority there (step 2).

    >>> ev = {"pred_class": 1, "p_pred": 1.0, "p_label": 0.0, "density_ratio": 0.9,
    ...       "train_label_mix_nbrs": [0.7, 0.3], "label_mix_val": [1.0, 0.0]}
    >>> classify_by_neighbours(ev)
    'wrong_labels'
    >>> classify_by_neighbours({**ev, "train_label_mix_nbrs": [0.1, 0.9]})
    'spurious'
    >>> classify_by_neighbours({**ev, "density_ratio": 0.2})
    'rare_case'
    """
    p = p or BugTypeParams()
    r = ev.get("density_ratio", float("nan"))
    if np.isfinite(r) and r <= p.rare_ratio:
        return "rare_case"
    mix = np.asarray(ev.get("train_label_mix_nbrs") or [], float)
    if mix.size == 0 or mix.sum() == 0:
        return None
    if own_label_absent(ev, p):
        return "rare_case"
    c = ev["pred_class"]
    if ev["p_pred"] >= p.alpha and ev["p_pred"] - ev["p_label"] >= p.margin and mix[c] >= 0.5:
        return "spurious"
    mv = np.asarray(ev["label_mix_val"], float)
    if ((mix >= p.wrong_rate) & (mix < 0.5) & (mv <= p.wrong_rate / p.wrong_lift)).any():
        return "wrong_labels"
    return None


def own_label_absent(ev: dict, p: BugTypeParams | None = None) -> bool:
    """HiBug's rare case per class: the slice's majority (checked) label ``y`` is not
    what the model predicts, and at most ``wrong_rate / wrong_lift`` (5%) of the training
    samples around the slice carry ``y``.

    The kNN density ratio counts training samples of every label, so it misses a rare
    digit the model maps into another class's region, where training is dense; this
    asks how often training shows the slice's *own* label there (the same 5% "absent"
    threshold as the wrong-labels rule, no new parameter).

    >>> own_label_absent({"pred_class": 1, "label_mix_val": [1.0, 0.0],
    ...                   "train_label_mix_nbrs": [0.02, 0.98]})
    True
    >>> own_label_absent({"pred_class": 1, "label_mix_val": [1.0, 0.0],
    ...                   "train_label_mix_nbrs": [0.3, 0.7]})
    False
    """
    p = p or BugTypeParams()
    mix = np.asarray(ev.get("train_label_mix_nbrs") or [], float)
    mv = np.asarray(ev.get("label_mix_val") or [], float)
    if mix.size == 0 or mix.sum() == 0 or mv.size != mix.size or mv.sum() == 0:
        return False
    y = int(mv.argmax())
    return bool(y != ev["pred_class"] and mix[y] <= p.wrong_rate / p.wrong_lift)


def explain_by_neighbours(bug_type: str | None, ev: dict, classes: list[str]) -> str:
    """One sentence with the neighbourhood evidence behind ``bug_type``."""
    c = classes[ev["pred_class"]]
    mix = ", ".join(f"{m:.0%} {k}" for k, m in zip(classes, ev.get("train_label_mix_nbrs") or
                                                   [0] * len(classes), strict=True))
    val = ", ".join(f"{m:.0%} {k}" for k, m in zip(classes, ev["label_mix_val"], strict=True))
    if bug_type == "rare_case" and own_label_absent(ev):
        y = classes[int(np.argmax(ev["label_mix_val"]))]
        return (f"labelled {y} but predicted {c}: training samples that look like it are "
                f"labelled {mix}, almost none {y} (rare case at <= 5%; density ratio "
                f"{ev.get('density_ratio', float('nan')):.2f})")
    if bug_type == "rare_case":
        return (f"training has {ev['density_ratio']:.2f}x the density of look-alikes that "
                f"validation has around it (rare case at <= 0.5)")
    if bug_type == "spurious":
        return (f"predicted {c} for {ev['p_pred']:.0%} of it while {ev['p_label']:.0%} are "
                f"labelled {c}; training samples that look like it are labelled {mix}")
    if bug_type == "wrong_labels":
        return (f"training samples that look like it are labelled {mix}, its validation "
                f"labels {val}: some training labels disagree with the checked ones")
    return f"no rule applies (top prediction {c} for {ev['p_pred']:.0%}; training nearby {mix})"


def attach_neighbour_bug_types(slices, samples, fit_rows: np.ndarray, fit_assign: np.ndarray,
                               ctx, nb: dict | None, classes: list[str],
                               params: BugTypeParams | None = None,
                               overwrite: bool = True) -> None:
    """Like :func:`attach_bug_types` with :func:`classify_by_neighbours`.

    ``ctx`` is a :class:`~slicelens.slicing.neighbours.TrainContext` and ``nb`` its
    ``neighbourhood`` of the fit split (both None without a training split: then only
    the fit-split evidence is kept and no slice gets a type).
    """
    p = params or BugTypeParams()
    keep_f, vl, vp, vc = _labelled(samples, fit_rows)
    fa = np.asarray(fit_assign)
    empty = np.zeros(0, np.int64)
    for i, s in enumerate(slices):
        if not overwrite and (s.bug_type is not None or "explanation" in s.evidence):
            continue
        inv = fa[keep_f] == i
        ev = bug_evidence(inv, vl, vp, vc, np.zeros(0, bool), empty, empty, np.zeros(0),
                          len(classes))
        if ctx is not None and nb is not None:
            ev.update(ctx.slice_stats(nb, fa == i))
        bug = classify_by_neighbours(ev, p) if inv.any() else None
        ev["explanation"] = explain_by_neighbours(bug, ev, classes)
        s.evidence.update(ev)
        s.bug_type = bug
