"""How low can JS(aug || val) go at a budget? A greedy bound on the candidate pool.

A diagnostic for AACA's concept alignment (paper ``000_3cd9a7c029bc65f9``, Fig. 4 and the
"0.153 -> 0.084" JSD fall of its Experiments), not part of the method: given the concept
tags of validation, of the initial training set and of the candidate images per class,
what is the lowest JS(aug || val) (:func:`slicelens.concepts.alignment.jsd`, bits) that
adding ``k`` candidates of every class could reach? If even that is above the goal, no
selection rule (Eq. 1 or any other) can meet the goal from these candidates with this
tagger.

**Greedy, so an achievable value, not a proof of optimality.** The exact minimum over all
``C(n, k)`` choices per class is combinatorial; :func:`greedy_bound` adds, in rounds, to
every class in turn (by class index) the one remaining candidate of that class whose
addition gives the lowest JS(aug || val) (ties: the first candidate). The result is the
JSD of a real choice of ``k`` images per class, so the true minimum is **at most** this
value: when the greedy value meets a goal, the goal is reachable; when it does not, the
goal is very likely (not provably) out of reach. A class with fewer than ``k`` candidates
adds all of them.

Distributions are over the ``top`` validation concepts, as in
:func:`slicelens.concepts.alignment.alignment`: an image counts once for each of its tags
among them.

Example (hand-computed in tests/test_concepts_bound.py): validation tags ``a, b`` in equal
shares, initial training ``a, a``, candidates ``[a], [b], [b]``: at k = 1 the best
addition is one ``b``, JS((2/3, 1/3) || (1/2, 1/2)) = 0.0207; at k = 2 it is 0.

>>> r = greedy_bound([["a"], ["b"]], [0, 0], [["a"], ["a"]], [0, 0],
...                  [["a"], ["b"], ["b"]], [0, 0, 0], k=1)
>>> round(r["jsd"], 4), r["added"]
(0.0207, 1)
"""

from __future__ import annotations

import numpy as np

from slicelens.concepts.alignment import top_concepts
from slicelens.errors import SliceLensError

METHOD = ("greedy: k rounds, each adding to every class in turn the candidate that lowers "
          "JS(aug || val) most; an achievable value, so the true minimum is at most this")


def jsd_rows(counts: np.ndarray, q: np.ndarray) -> np.ndarray:
    """JS divergence in bits of every row of ``counts`` (normalised) to ``q`` (normalised);
    the vectorised form of :func:`slicelens.concepts.alignment.jsd`. A row of zeros gives
    nan."""
    counts = np.atleast_2d(np.asarray(counts, np.float64))
    tot = counts.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / tot
        q = np.asarray(q, np.float64) / np.sum(q)
        m = (p + q) / 2
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(1)
    out = (kl_p + kl_q) / 2
    out[tot[:, 0] <= 0] = np.nan
    return np.maximum(out, 0.0)


def _hist(tags: list[list[str]], index: dict[str, int]) -> np.ndarray:
    out = np.zeros((len(tags), len(index)))
    for r, t in enumerate(tags):
        for c in t:
            if c in index:
                out[r, index[c]] += 1
    return out


def greedy_bound(val_tags, val_labels, init_tags, init_labels, cand_tags, cand_labels,
                 k: int, top: int = 10) -> dict:
    """Greedy lowest JS(aug || val) when ``k`` candidates of every class join the initial
    training set (see the module docstring), over all classes and within each class.

    Returns ``{"k", "method", "jsd", "jsd_init_val", "fall", "added", "per_class":
    {label: {"jsd", "jsd_init_val", "fall", "added", "candidates"}}}`` (labels as ints;
    ``fall`` = 1 - jsd / jsd_init_val, None when the initial JSD is 0)."""
    if k < 0:
        raise SliceLensError(f"budget k must be >= 0 (got {k})")
    if len(cand_tags) != len(cand_labels):
        raise SliceLensError("candidate tags and labels differ in length")
    cl = np.asarray(cand_labels, int)
    overall = _greedy(val_tags, init_tags, cand_tags, cl, k, top)
    vl, il = np.asarray(val_labels, int), np.asarray(init_labels, int)
    per = {}
    for c in sorted(set(vl.tolist())):
        pick = np.flatnonzero(cl == c)
        try:
            r = _greedy([t for t, lab in zip(val_tags, vl, strict=True) if lab == c],
                        [t for t, lab in zip(init_tags, il, strict=True) if lab == c],
                        [cand_tags[j] for j in pick], np.full(len(pick), c), k, top)
        except SliceLensError as e:
            r = {"skipped": str(e)}
        per[c] = {**r, "candidates": int(len(pick))}
    return {**overall, "k": k, "method": METHOD, "per_class": per}


def _greedy(val_tags, init_tags, cand_tags, cand_labels: np.ndarray, k: int, top: int) -> dict:
    concepts = top_concepts(val_tags, top)
    if not concepts:
        raise SliceLensError("the validation set has no tagged concepts")
    index = {c: j for j, c in enumerate(concepts)}
    q = _hist(val_tags, index).sum(0)
    counts = _hist(init_tags, index).sum(0)
    X = _hist(cand_tags, index)
    init = float(jsd_rows(counts, q)[0]) if counts.sum() else None
    left = {c: list(np.flatnonzero(cand_labels == c)) for c in sorted(set(cand_labels.tolist()))}
    added = 0
    for _ in range(k):
        for rows in left.values():
            if not rows:
                continue
            scores = jsd_rows(counts[None, :] + X[rows], q)
            j = int(np.nanargmin(scores)) if not np.all(np.isnan(scores)) else 0
            counts = counts + X[rows[j]]
            rows.pop(j)
            added += 1
    best = float(jsd_rows(counts, q)[0]) if counts.sum() else None
    fall = None if not init or best is None else 1 - best / init
    return {"jsd": best, "jsd_init_val": init, "fall": fall, "added": added,
            "concepts": len(concepts)}
