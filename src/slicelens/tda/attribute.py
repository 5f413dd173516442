"""Attribute a group of errors to groups of training samples under four actions.

``attribute(problem, error, groups, params)`` answers the study's question (Sec. 5.1.2):
which training groups, removed, relabelled, upweighted or with more data like them,
would fix these errors, and what would that do to overall accuracy?

1. Refit the convex head on the train split (``slicelens.tda.problem.fit_baseline``).
2. Estimate every (group, action) with head-Hessian influence (``estimate``): one
   Cholesky factorisation, then one solve per change.
3. Rank by benefit on the error group; rows whose predicted validation accuracy drops by
   more than ``max_accuracy_drop`` overall, or by more than ``max_class_drop`` on any
   class, go after the rest (the study's participants wanted fixes that keep overall
   performance, Sec. 5.1.1; the per-class guard keeps "remove a whole class" from
   looking free on a weak model).
4. Retrain the head exactly for the ``top`` rows on ``resamples`` bootstrap resamples,
   paired with the resample's baseline; mean, interval and p-value (``stats``); rank
   those first by their exact effects.
"""

from __future__ import annotations

import numpy as np

from slicelens.tda.actions import make_change
from slicelens.tda.estimate import (
    Targets,
    bootstrap_baselines,
    exact_effects,
    influence_effects,
)
from slicelens.tda.groups import ErrorGroup, TrainingGroup
from slicelens.tda.head import probs
from slicelens.tda.params import TDAParams
from slicelens.tda.problem import fit_baseline
from slicelens.tda.result import TDAResult, TDARow
from slicelens.tda.stats import adjust
from slicelens.utils import progress


def attribute(problem, error: ErrorGroup, groups: list[TrainingGroup], params: TDAParams | None = None,
              *, pool: dict | None = None, baseline=None, run_id: str = "") -> TDAResult:
    """Ranked effects of every (group, action) on the error group.

    Parameters
    ----------
    problem : HeadProblem
    error : ErrorGroup
    groups : list of TrainingGroup
    params : TDAParams
    pool : dict, optional
        ``{"pos": int array, "labels": int array}`` pool samples with oracle labels (for
        ``add``); without it ``add`` is the upweighting proxy.
    baseline : Baseline, optional
        A head already refit on this problem (reused, e.g. across error groups).

    Returns
    -------
    TDAResult
    """
    p = params or TDAParams()
    base = baseline or fit_baseline(problem, p.l2)
    err = problem.positions(error.ids)
    val = problem.split_index("val")
    targets = Targets(problem.X(err), problem.labels[err], problem.preds[err],
                      problem.X(val), problem.labels[val], p.metric)
    changes, rows = [], []
    for g in progress(groups, desc="candidate groups", unit="group"):
        gpos = problem.positions(g.ids)
        for a in p.actions:
            c = make_change(a, gpos, problem, base, p, pool)
            changes.append(c)
            rows.append(_row(g, c, p.metric, error.name, problem))
    pred = influence_effects(base, changes, targets, problem.X)
    for r, (m, acc, fixed, worst) in zip(rows, pred, strict=True):
        r.effect = r.predicted_effect = float(m)
        r.global_effect = r.predicted_global = float(acc)
        r.error_accuracy_effect, r.worst_class_effect = float(fixed), float(worst)
    rows_order = _rank(rows, p)
    exact_idx = rows_order[:p.top] if p.exact else []
    boots = bootstrap_baselines(base, targets, p.resamples, p.seed) if len(exact_idx) else []
    measured = exact_effects(base, [changes[i] for i in exact_idx], targets, boots, problem.X,
                             test=p.test)
    for i, ex in zip(exact_idx, measured, strict=True):
        _fill_exact(rows[i], ex, p.resamples)
    padj = adjust(np.array([rows[i].p_value for i in exact_idx]))
    for i, q in zip(exact_idx, padj, strict=True):
        rows[i].p_adjusted = float(q)
        rows[i].significant = bool(q < p.alpha)
    done = set(exact_idx)
    exact_rows = [rows[i] for i in exact_idx]
    ordered = [exact_rows[j] for j in _rank(exact_rows, p)]
    ordered += [rows[i] for i in rows_order if i not in done]
    for k, r in enumerate(ordered, 1):
        r.rank = k
    before = targets.measure(base.theta)
    wrong = probs(base.theta, targets.X_err).argmax(1) != targets.y_err
    baseline_info = {"l2": base.lam, "agreement_val": base.agreement_val,
                     "agreement_train": base.agreement_train,
                     "agreement_errors": float(np.mean(wrong == (targets.pred_err != targets.y_err))),
                     "metric_before": float(before[0]), "val_accuracy_before": float(before[1]),
                     "n_train": base.n0, "baseline_retrains": len(boots)}
    return TDAResult(error, p.metric, ordered, baseline_info, p.model_dump(mode="json"), run_id)


def _row(g, c, metric, error_name, problem) -> TDARow:
    r = TDARow(g, c.action, metric, detail=c.detail, factor=c.factor, error_group=error_name)
    if c.new_labels is not None:
        r.relabel = dict(zip(g.ids.tolist(), c.new_labels.tolist(), strict=True))
    if c.add_pos is not None:
        r.add = dict(zip(problem.ids[c.add_pos].tolist(), c.add_labels.tolist(), strict=True))
        r.factor = None
    return r


def _fill_exact(r: TDARow, ex, n: int) -> None:
    e, g, a = ex.effect, ex.global_effect, ex.error_accuracy
    r.worst_class_effect = ex.worst_class.mean
    r.effect, r.ci_low, r.ci_high, r.p_value = e.mean, e.ci_low, e.ci_high, e.p_value
    r.global_effect, r.global_ci_low, r.global_ci_high = g.mean, g.ci_low, g.ci_high
    r.error_accuracy_effect = a.mean
    r.method, r.n_retrains = "exact", n


def _rank(rows: list[TDARow], p) -> list[int]:
    """Indices ordered: rows that keep validation accuracy (overall within
    ``max_accuracy_drop``, every class within ``max_class_drop``) first, each part by
    benefit (descending)."""
    def key(i):
        r = rows[i]
        bad = bool((np.isfinite(r.global_effect) and r.global_effect < -p.max_accuracy_drop)
                   or (np.isfinite(r.worst_class_effect) and r.worst_class_effect < -p.max_class_drop))
        return (bad, -r.benefit)
    return sorted(range(len(rows)), key=key)
