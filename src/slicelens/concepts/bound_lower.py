"""A proven lower bound on JS(aug || val) at a budget: no choice of ``k`` candidates per
class can go below it.

:mod:`slicelens.concepts.bound` gives the greedy value, the JSD of a real choice, so the
true minimum is *at most* that; when it misses a goal, the goal is only *likely* out of
reach. This module gives the other side: a value the minimum is *at least*, so that
"the 45% fall cannot be reached from these candidates with this tagger" becomes a fact.

**The relaxation.** Let ``c`` be the initial training counts over the top validation
concepts, ``X`` (n x d) the candidates' tag counts and ``w`` in ``[0, 1]^n`` with
``sum_{i in class s} w_i = k_s`` (``k_s = min(k, n_s)``) a fractional choice. Every
real choice of ``k`` images per class is such a ``w``. The augmented distribution
``p(w) = (c + X^T w) / (|c| + m^T w)`` (``m_i``: candidate ``i``'s tag count) is a
linear-fractional image of that polytope, so the set ``P`` of reachable ``p`` is convex
(Boyd & Vandenberghe 2004, Sec. 2.3.3), and ``JS(p || q)`` is convex in ``p``. The
minimum of a convex function over a convex set is bounded below by the Frank-Wolfe
duality gap (Jaggi, ICML 2013, Sec. 2): at any ``p_t`` in ``P``,

    min_P JS  >=  JS(p_t) + min_{s in P} <grad JS(p_t), s - p_t>.

The inner minimum is a linear-fractional program over the polytope, solved exactly by
Dinkelbach's method (Dinkelbach 1967): for a ratio ``lam``, ``min_w (g.c - lam |c|) +
sum_i w_i ((X g)_i - lam m_i)`` takes the ``k_s`` smallest coefficients of each class;
``lam`` is updated to the ratio at that ``w`` until it stops falling. Frank-Wolfe steps
(exact line search on the segment, golden section) move ``p_t`` towards the minimum and
the best bound over the iterations is kept; the bound is valid at every iteration, the
iterations only tighten it.

The gradient of ``JS(p || q)`` in bits is ``0.5 * log2(p_i / m_i)`` with
``m = (p + q) / 2``; coordinates that no reachable ``p`` can give mass are left out of
the linear term (their direction is zero).

>>> r = relaxed_lower_bound([["a"], ["b"]], [["a"], ["a"]], [["a"], ["b"], ["b"]],
...                         [0, 0, 0], k=1)
>>> round(r["jsd"], 4)   # = the best real choice (one "b"): 0.0207
0.0207
"""

from __future__ import annotations

import numpy as np

from slicelens.concepts.alignment import top_concepts
from slicelens.concepts.bound import _hist, jsd_rows
from slicelens.errors import SliceLensError

METHOD = ("lower bound: Frank-Wolfe duality gap over the fractional relaxation of choosing k "
          "candidates per class (a convex problem); no real choice goes below it")


def _grad(p: np.ndarray, q: np.ndarray, live: np.ndarray) -> np.ndarray:
    g = np.zeros_like(p)
    pl, ql = np.maximum(p[live], 1e-300), q[live]
    g[live] = 0.5 * np.log2(pl / ((pl + ql) / 2))
    return g


def _lmo(g, c, X, m, groups, ks) -> np.ndarray:
    """The point of P minimising <g, p> (Dinkelbach on the linear-fractional program)."""
    Xg, gc, csum = X @ g, float(g @ c), float(c.sum())
    w = np.zeros(len(X))
    for rows, k in zip(groups, ks, strict=True):  # a feasible start: the first k of each
        w[rows[:k]] = 1
    lam = (gc + Xg @ w) / (csum + m @ w)
    for _ in range(100):
        coef = Xg - lam * m
        nxt = np.zeros(len(X))
        for rows, k in zip(groups, ks, strict=True):
            if k:
                nxt[rows[np.argsort(coef[rows], kind="stable")[:k]]] = 1
        new = (gc + Xg @ nxt) / (csum + m @ nxt)
        if new >= lam - 1e-15:
            # no point beats ratio lam (min_w N - lam D >= 0): w, at lam, is the minimum
            break
        w, lam = nxt, new
    a = c + X.T @ w
    return a / a.sum()


def _js(p, q) -> float:
    return float(jsd_rows(p, q)[0])


def _line_search(p, s, q) -> float:
    """gamma in [0, 1) minimising JS((1-gamma) p + gamma s || q) (golden section)."""
    lo, hi, r = 0.0, 1.0 - 1e-9, (np.sqrt(5) - 1) / 2
    a, b = hi - r * (hi - lo), lo + r * (hi - lo)
    fa, fb = _js((1 - a) * p + a * s, q), _js((1 - b) * p + b * s, q)
    for _ in range(40):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - r * (hi - lo)
            fa = _js((1 - a) * p + a * s, q)
        else:
            lo, a, fa = a, b, fb
            b = lo + r * (hi - lo)
            fb = _js((1 - b) * p + b * s, q)
    return (lo + hi) / 2


def relaxed_lower_bound(val_tags, init_tags, cand_tags, cand_labels, k: int, top: int = 10,
                        iters: int = 200, tol: float = 1e-7) -> dict:
    """The lowest JS(aug || val) (bits) that ANY choice of ``k`` candidates per class could
    reach is at least ``jsd`` (see the module docstring). Tags as in
    :func:`slicelens.concepts.bound.greedy_bound` (one class or all together: the
    candidates' ``cand_labels`` only group them).

    Returns ``{"jsd": lower bound, "relaxed": the relaxed problem's best value found (>=
    jsd), "gap", "iterations", "method", "concepts", "jsd_init_val", "fall_at_most": 1 -
    jsd / jsd_init_val}``.
    """
    if k < 0:
        raise SliceLensError(f"budget k must be >= 0 (got {k})")
    concepts = top_concepts(val_tags, top)
    if not concepts:
        raise SliceLensError("the validation set has no tagged concepts")
    index = {x: j for j, x in enumerate(concepts)}
    q = _hist(val_tags, index).sum(0)
    q = q / q.sum()
    c = _hist(init_tags, index).sum(0)
    X = _hist(cand_tags, index)
    labels = np.asarray(cand_labels, int)
    groups = [np.flatnonzero(labels == s) for s in sorted(set(labels.tolist()))]
    ks = [min(k, len(g)) for g in groups]
    if c.sum() == 0:  # JS(init || val) is undefined, and p(w) is for some choices
        raise SliceLensError("the initial training set carries none of the top validation "
                             "concepts: no lower bound")
    m = X.sum(1) if len(X) else np.zeros(0)
    # coordinates some reachable p gives mass: the training set's, or a candidate's of a
    # class that adds any (k_s > 0); the others are 0 everywhere in P
    usable = np.concatenate([g for g, kk in zip(groups, ks, strict=True) if kk] or
                            [np.zeros(0, int)])
    live = (c > 0) | (X[usable].sum(0) > 0 if len(usable) else np.zeros_like(c, bool))
    # start: every candidate of a class at weight k_s / n_s (inside P)
    w0 = np.zeros(len(X))
    for rows, kk in zip(groups, ks, strict=True):
        if len(rows):
            w0[rows] = kk / len(rows)
    a = c + X.T @ w0
    p = a / a.sum()
    best_lb, best_f, gap, t = -np.inf, _js(p, q), np.inf, 0
    while t < iters:
        t += 1
        f = _js(p, q)
        best_f = min(best_f, f)
        g = _grad(p, q, live)
        s = _lmo(g, c, X, m, groups, ks)
        gap = float(g @ (p - s))
        if np.all(p[live] > 0):  # the gradient is finite: the certificate holds
            best_lb = max(best_lb, f - gap)
        if gap <= tol:
            break
        gamma = _line_search(p, s, q)
        p = (1 - gamma) * p + gamma * s
    if not np.isfinite(best_lb):
        raise SliceLensError("no lower bound could be certified")
    init = _js(c / c.sum(), q)
    low = max(0.0, float(best_lb))
    return {"jsd": low, "relaxed": float(best_f), "gap": gap, "iterations": t,
            "method": METHOD, "concepts": len(concepts), "jsd_init_val": init,
            "fall_at_most": None if not init else 1 - low / init}


def lower_bound(val_tags, val_labels, init_tags, init_labels, cand_tags, cand_labels,
                k: int, top: int = 10) -> dict:
    """:func:`relaxed_lower_bound` over all classes and within each class, in the shape of
    :func:`slicelens.concepts.bound.greedy_bound`: ``{"jsd", "fall_at_most", "method",
    "per_class": {label: {"jsd", "fall_at_most"} or {"skipped"}}}``, where
    ``fall_at_most`` = 1 - jsd / JS(init || val): no choice of ``k`` candidates per class
    lowers the JSD by more."""
    cl = np.asarray(cand_labels, int)
    out = relaxed_lower_bound(val_tags, init_tags, cand_tags, cl, k, top)
    vl, il = np.asarray(val_labels, int), np.asarray(init_labels, int)
    per = {}
    for s in sorted(set(vl.tolist())):
        pick = np.flatnonzero(cl == s)
        try:
            per[s] = relaxed_lower_bound(
                [t for t, lab in zip(val_tags, vl, strict=True) if lab == s],
                [t for t, lab in zip(init_tags, il, strict=True) if lab == s],
                [cand_tags[j] for j in pick], np.full(len(pick), s), k, top)
        except SliceLensError as e:
            per[s] = {"skipped": str(e)}
    return {**out, "k": k, "per_class": per}
