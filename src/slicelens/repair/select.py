"""Repair by data selection from an unlabeled pool (HiBug App. 7.1), with two baselines.

HiBug's algorithm, as implemented in :class:`HiBugSelect`:

1. every validation and pool sample falls in one data slice: its combination of values
   of the chosen attributes (the attribute matrix ``X_A``);
2. each slice's error rate is estimated on validation (failures / samples);
3. slices are taken in order of decreasing error rate until their failures reach
   ``beta * D_F`` (``D_F`` = all validation failures; the paper's ``beta = 0.9``);
4. the budget is split over those slices in proportion to their failures
   (:func:`split_budget`; a slice never gets more than its pool samples, the rest goes
   to the others in the same proportion);
5. inside a slice, pool samples with the lowest confidence come first;
6. their labels are revealed by a label oracle (a CSV ``id,label``; for the demo the
   hidden ``true_label`` of ``ground_truth.csv``) and added to training
   (``TrainingPlan.add``).

Which attributes define the slices is not fixed by the paper; by default the
attributes of the top bug slices of the ``attributes`` slicer (at most
``max_attributes``), else all of them.

Baselines, same budget: ``random-select`` (uniform over the pool) and
``coreset-select`` (k-center greedy on pooled features, Sener & Savarese 2018: repeatedly
take the pool sample farthest from the training set and the samples taken so far).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from slicelens.errors import DataError, SliceLensError
from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.plan import TrainingPlan

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


def select_slices(errors: np.ndarray, sizes: np.ndarray, beta: float) -> np.ndarray:
    """Slices by decreasing error rate until their failures reach ``beta`` of all.

    Parameters
    ----------
    errors, sizes : int (s,)
        Validation failures and samples per slice.

    Returns
    -------
    int array of slice indices, in selection order.

    Examples
    --------
    >>> select_slices(np.array([8, 1, 1]), np.array([10, 10, 2]), 0.9).tolist()
    [0, 2]
    """
    errors, sizes = np.asarray(errors, float), np.asarray(sizes, float)
    rate = np.divide(errors, sizes, out=np.zeros_like(errors), where=sizes > 0)
    order = np.lexsort((-errors, -rate))
    order = order[errors[order] > 0]
    cum = np.cumsum(errors[order])
    k = int(np.searchsorted(cum, beta * errors.sum() - 1e-9) + 1)
    return order[:k]


def split_budget(budget: int, failures: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Integer budget per slice, proportional to ``failures``, capped by ``capacity``.

    Largest-remainder rounding; budget a capped slice cannot use goes to the uncapped
    ones in proportion to their failures, until the budget or the capacity runs out.

    Examples
    --------
    >>> split_budget(10, np.array([6, 3, 1]), np.array([100, 100, 100])).tolist()
    [6, 3, 1]
    >>> split_budget(10, np.array([6, 3, 1]), np.array([2, 100, 100])).tolist()
    [2, 6, 2]
    """
    failures = np.asarray(failures, float)
    capacity = np.asarray(capacity, np.int64)
    out = np.zeros(len(failures), np.int64)
    left = min(int(budget), int(capacity.sum()))
    while left > 0:
        open_ = (out < capacity) & (failures > 0)
        if not open_.any():
            open_ = out < capacity
            w = open_.astype(float)
        else:
            w = np.where(open_, failures, 0.0)
        share = left * w / w.sum()
        add = np.floor(share).astype(np.int64)
        rest = left - add.sum()
        add[np.argsort(-(share - add), kind="stable")[:rest]] += 1
        add = np.minimum(add, capacity - out)
        out += add
        left -= int(add.sum())
    return out


def k_center_greedy(pool: np.ndarray, labeled: np.ndarray, budget: int) -> np.ndarray:
    """Indices into ``pool`` (n, d) chosen by k-center greedy from ``labeled`` (m, d)."""
    from sklearn.metrics import pairwise_distances

    d = pairwise_distances(pool, labeled).min(1) if len(labeled) else np.full(len(pool), np.inf)
    chosen = []
    for _ in range(min(budget, len(pool))):
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, pairwise_distances(pool, pool[i:i + 1]).ravel())
    return np.asarray(chosen, np.int64)


def load_oracle(path: str, column: str, classes: list[str]) -> dict[str, int]:
    """Labels revealed for pool samples: CSV with ``id`` and ``column`` (class name or index)."""
    try:
        df = pd.read_csv(path, dtype={"id": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"cannot read label oracle: {e}", file=str(path)) from None
    for col in ("id", column):
        if col not in df:
            raise DataError(f"label oracle has no column {col!r}", file=str(path), field=col)
    names = {c: i for i, c in enumerate(classes)}
    out = {}
    for sid, lab in zip(df["id"].astype(str), df[column].astype(str), strict=True):
        if lab in names:
            out[sid] = names[lab]
        elif lab.lstrip("-").isdigit() and 0 <= int(lab) < len(classes):
            out[sid] = int(lab)
    return out


class SelectParams(BaseModel):
    budget: int = Field(200, ge=1, description="pool samples to label and add")
    oracle: str = Field(..., description="CSV that reveals pool labels (columns id and --oracle-column)")
    oracle_column: str = Field("label", description="label column of the oracle CSV")
    seed: int = Field(0, description="random seed (ties, random baseline)")


class HiBugSelectParams(SelectParams):
    beta: float = Field(0.9, gt=0, le=1, description="share of validation failures to cover (HiBug: 0.9)")
    attributes: list[str] | None = Field(None, description="attributes defining the slices")
    max_attributes: int = Field(3, ge=1, description="default: this many attributes of the top bug slices")


def _plan_from(strategy, run: Run, p, chosen_ids, description, extra=None) -> TrainingPlan:
    oracle = load_oracle(p.oracle, p.oracle_column, run.classes)
    missing = [i for i in chosen_ids if i not in oracle]
    if missing:
        raise DataError(f"the label oracle has no label for pool sample {missing[0]!r}",
                        file=p.oracle, field=p.oracle_column)
    return TrainingPlan(strategy=strategy, params={**p.model_dump(mode="json"), **(extra or {})},
                        description=description, add={i: oracle[i] for i in chosen_ids})


def _pool(run: Run) -> pd.DataFrame:
    s = run.samples
    pool = s[s["split"] == "pool"]
    if pool.empty:
        raise SliceLensError(f"run {run.id} has no 'pool' split to select from")
    return pool


@register_repair("hibug-select")
class HiBugSelect(RepairStrategy):
    """HiBug App. 7.1: budget over high-error attribute slices, low confidence first."""

    Params = HiBugSelectParams

    def _plan(self, workspace: Workspace, run: Run, p) -> TrainingPlan:
        from slicelens.attributes.matrix import AttributeMatrix
        from slicelens.slicing.slicer_attributes import combination_keys

        matrix = AttributeMatrix.load(run.path)
        attrs = p.attributes or default_attributes(run, matrix.attributes, p.max_attributes)
        cols = [matrix.attributes.index(a) for a in attrs if a in matrix.attributes]
        if len(cols) != len(attrs):
            raise DataError(f"unknown attribute in {attrs}; have {matrix.attributes}", field="attributes")
        s = run.samples
        val = s[(s["split"] == "val") & (s["label"] >= 0)]
        pool = _pool(run)
        radices = np.array([len(matrix.values[matrix.attributes[c]]) for c in cols])
        kv, okv = combination_keys(matrix.codes(val["id"].to_numpy(str))[0][:, cols], radices)
        kp, okp = combination_keys(matrix.codes(pool["id"].to_numpy(str))[0][:, cols], radices)
        keys = np.unique(np.r_[kv[okv], kp[okp]])
        vi, pi = np.searchsorted(keys, kv), np.searchsorted(keys, kp)
        wrong = ~val["correct"].to_numpy(dtype=bool, na_value=False)
        errors = np.bincount(vi[okv], weights=wrong[okv], minlength=len(keys)).astype(int)
        sizes = np.bincount(vi[okv], minlength=len(keys))
        capacity = np.bincount(pi[okp], minlength=len(keys))
        chosen_slices = select_slices(errors, sizes, p.beta)
        counts = split_budget(p.budget, errors[chosen_slices], capacity[chosen_slices])
        conf = pool["confidence"].to_numpy(float)
        ids = pool["id"].to_numpy(str)
        chosen = []
        for sl, k in zip(chosen_slices, counts, strict=True):
            members = np.flatnonzero(okp & (pi == sl))
            chosen += ids[members[np.argsort(conf[members], kind="stable")[:k]]].tolist()
        desc = (f"{len(chosen)} pool samples from {len(chosen_slices)} slices of "
                f"{', '.join(attrs)} covering {errors[chosen_slices].sum()} of "
                f"{errors.sum()} validation failures")
        if len(chosen) < p.budget:  # say so: a shortfall is not a silent smaller repair
            desc += (f" (budget {p.budget}: these slices hold only {len(chosen)} pool "
                     "samples)")
        return _plan_from(self.name, run, p, chosen, desc, {"attributes": attrs})


def default_attributes(run: Run, attributes: list[str], k: int) -> list[str]:
    """Attributes named by the top bug slices of the stored ``attributes`` slice set."""
    from slicelens.slicing.base import SliceSet

    try:
        ss = SliceSet.load(run.path, "attributes")
    except SliceLensError:
        return attributes[:k]
    seen = [a for s in ss.slices for a in s.evidence.get("conditions", {})]
    return list(dict.fromkeys(seen))[:k] or attributes[:k]


@register_repair("random-select")
class RandomSelect(RepairStrategy):
    """Baseline: pool samples uniformly at random."""

    Params = SelectParams

    def _plan(self, workspace: Workspace, run: Run, p) -> TrainingPlan:
        ids = _pool(run)["id"].to_numpy(str)
        rng = np.random.default_rng(p.seed)
        chosen = rng.choice(ids, size=min(p.budget, len(ids)), replace=False).tolist()
        return _plan_from(self.name, run, p, chosen, f"{len(chosen)} random pool samples")


@register_repair("coreset-select")
class CoresetSelect(RepairStrategy):
    """Baseline: k-center greedy on the run's pooled features (Sener & Savarese, 2018)."""

    Params = SelectParams

    def _plan(self, workspace: Workspace, run: Run, p) -> TrainingPlan:
        s = run.samples
        feats = np.asarray(run.array("features"), np.float32)
        pool = np.flatnonzero(s["split"].to_numpy() == "pool")
        if len(pool) == 0:
            raise SliceLensError(f"run {run.id} has no 'pool' split to select from")
        train = np.flatnonzero((s["split"].to_numpy() == "train") & (s["label"].to_numpy() >= 0))
        pick = k_center_greedy(feats[pool], feats[train], p.budget)
        chosen = s["id"].to_numpy(str)[pool[pick]].tolist()
        return _plan_from(self.name, run, p, chosen, f"{len(chosen)} core-set pool samples")
