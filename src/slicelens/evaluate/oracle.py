"""Group oracles: repairs that read the TRUE groups, for evaluation only.

A repair from people's marks is judged against what true group labels would give
(BENCHMARKS.md "Repair"): the demo and the benchmark train these as reference rows; no
product path reads them. Both return a :class:`~slicelens.repair.plan.TrainingPlan`
carried out by ``apply_plan`` like any other.

- :func:`oracle_dfr_plan`: DFR with the true groups: the head refitted on a
  true-group-balanced half of validation, its regularisation chosen on the other half by
  the true worst group (Kirichenko et al. 2023).
- :func:`oracle_balance_plan`: group-balanced reweighting of the training split by the
  true groups, early stopping on the true worst group of validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.repair.dfr import split_stratified
from slicelens.repair.groups import balanced_weights
from slicelens.repair.plan import TrainingPlan

if TYPE_CHECKING:
    from slicelens.store.run import Run


def _true_groups(run: Run, ground_truth: pd.DataFrame):
    """(ids, split, integer true group) of the run's labelled train and val samples."""
    s = run.samples
    keep = (s["label"].to_numpy() >= 0) & s["split"].isin(["train", "val"]).to_numpy()
    ids = s["id"].to_numpy(str)[keep]
    names = ground_truth.loc[ids, "group"].to_numpy(str)
    _, code = np.unique(names, return_inverse=True)
    return ids, s["split"].to_numpy(str)[keep], code


def oracle_dfr_plan(run: Run, ground_truth: pd.DataFrame, seed: int = 0) -> TrainingPlan:
    """DFR with the true groups (``ground_truth`` indexed by sample id, column ``group``)."""
    ids, split, code = _true_groups(run, ground_truth)
    groups = {i: int(c) for i, c in zip(ids, code, strict=True)}
    va = split == "val"
    fit = split_stratified(code[va], 0.5, seed)
    vids, vcode = ids[va], code[va]
    return TrainingPlan(
        strategy="oracle-dfr", description="group oracle (evaluation only): DFR with the TRUE groups",
        head_only=True, groups=groups, select_by="worst_group",
        head_data={i: float(w) for i, w in zip(vids[fit], balanced_weights(vcode[fit]), strict=True)},
        val_ids=[str(i) for i in vids[~fit]])


def oracle_balance_plan(run: Run, ground_truth: pd.DataFrame) -> TrainingPlan:
    """Group-balanced reweighting by the true groups (full retraining)."""
    ids, split, code = _true_groups(run, ground_truth)
    tr = split == "train"
    return TrainingPlan(
        strategy="oracle-balance",
        description="group oracle (evaluation only): balanced reweighting by the TRUE groups",
        weights={i: float(w) for i, w in zip(ids[tr], balanced_weights(code[tr]), strict=True)},
        groups={i: int(c) for i, c in zip(ids, code, strict=True)}, select_by="worst_group")


def uniform_dfr_plan(run: Run, seed: int = 0) -> TrainingPlan:
    """DFR without any groups: the head refitted on a random half of validation with
    weight 1, its regularisation chosen by accuracy on the other half (an ablation: what
    DFR gives without marks)."""
    s = run.samples
    va = (s["split"].to_numpy() == "val") & (s["label"].to_numpy() >= 0)
    vids = s["id"].to_numpy(str)[va]
    fit = split_stratified(np.zeros(len(vids), int), 0.5, seed)
    return TrainingPlan(strategy="dfr-uniform", description="DFR with every weight 1 (no groups)",
                        head_only=True, head_data={str(i): 1.0 for i in vids[fit]},
                        val_ids=[str(i) for i in vids[~fit]])
