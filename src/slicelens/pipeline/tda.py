"""Training-data attribution on a run: the functions the CLI, the HTTP API and notebooks call.

Attribution itself (``attribute_errors``, ``resolve_error_group``, ``wrong_label_ranking``,
``read_oracle``, ...) lives in :mod:`slicelens.tda.analysis` and is re-exported here; this
module adds the steps that retrain the model (``apply_row``, ``model_effects``).

Example
-------
>>> res = attribute_errors(run, "0-4->5-9")                  # doctest: +SKIP
>>> res.table(10); new_run = apply_row(ws, run, res, 1)      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from slicelens.errors import SliceLensError
from slicelens.tda.analysis import (  # noqa: F401 - re-exported: the run-level TDA moved down
    attribute_errors,
    load_problem,
    read_oracle,
    resolve_error_group,
    result_path,
    wrong_label_ranking,
)

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


def apply_row(workspace: Workspace, run: Run, result, rank: int, train_cfg=None, *, init: Literal["scratch", "finetune"] = "scratch",
              name: str | None = None):
    """Turn row ``rank`` of ``result`` into a TrainingPlan, retrain (new run), and pair it
    with its matched control (trained once per setting and reused; ``control_run`` in the
    new run's record), so its evaluation states the gain against the control."""
    from slicelens.pipeline.control import matched_control
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.store.workspace import require_workspace
    from slicelens.tda.result import to_plan

    workspace = require_workspace(workspace, "apply_row")
    plan = to_plan(result.row(rank))
    new = apply_plan(workspace, run, plan, train_cfg, init=init,
                     name=name or f"tda-{result.row(rank).action}")
    ctrl = matched_control(workspace, run, plan, train_cfg, init=init)
    new.update_record(control_run=ctrl.id)
    return type(new)(new.path)


def model_effects(workspace: Workspace, run: Run, result, rank: int, *, seeds: Sequence[int] = (0, 1, 2),
                  train_cfg=None, init: Literal["scratch", "finetune"] = "scratch"):
    """Measure row ``rank`` by retraining the whole model (``apply_plan``) per seed.

    Each seed trains a baseline (empty plan; reused when the workspace already has one
    for this run, seed and init) and the row's plan; the error-group metric and the
    validation accuracy of the new runs give paired differences (``slicelens.tda.stats``).
    Costs ``2 * len(seeds)`` trainings plus extractions.

    Returns
    -------
    TDARow
        A copy of the row with ``method="model"`` and the measured numbers.
    """
    import dataclasses

    from slicelens.models import ModelSpec, TrainConfig
    from slicelens.pipeline.retrain import _stored_train_config, apply_plan
    from slicelens.repair.plan import TrainingPlan
    from slicelens.store.workspace import require_workspace
    from slicelens.tda.estimate import effect_columns
    from slicelens.tda.result import to_plan
    from slicelens.tda.stats import paired_effect

    if len(seeds) < 2:
        raise SliceLensError("model effects need at least two seeds (field 'seeds')")
    ws = require_workspace(workspace, "model_effects")
    row = result.row(rank)
    spec = ModelSpec.model_validate({k: v for k, v in run.record.model.to_json().items() if k in ModelSpec.model_fields})
    cfg = train_cfg or _stored_train_config(spec) or TrainConfig()
    err = result.error_group.ids
    diffs = []
    for s in seeds:
        c = cfg.model_copy(update={"seed": int(s)})
        base = _cached_baseline(ws, run, c, init) or apply_plan(
            ws, run, TrainingPlan(strategy="tda-baseline"), c, init=init, name=f"tda-baseline-s{s}")
        new = apply_plan(ws, run, to_plan(row), c, init=init, name=f"tda-{row.action}-s{s}")
        diffs.append(_measure(new, run, err, row.metric) - _measure(base, run, err, row.metric))
    d = effect_columns(np.asarray(diffs))
    e, g, a, w = (paired_effect(d[:, j], test=result.params.get("test", "paired-t")) for j in range(4))
    alpha = float(result.params.get("alpha", 0.05))
    return dataclasses.replace(
        row, effect=e.mean, ci_low=e.ci_low, ci_high=e.ci_high, p_value=e.p_value,
        p_adjusted=e.p_value, significant=bool(e.p_value < alpha), global_effect=g.mean,
        global_ci_low=g.ci_low, global_ci_high=g.ci_high, error_accuracy_effect=a.mean,
        worst_class_effect=w.mean,
        n_retrains=len(seeds), method="model")


def _cached_baseline(ws: Workspace, run: Run, cfg, init):
    for r in ws.runs():
        rec = r.record
        if (rec.base_run == run.id and (rec.plan or {}).get("strategy") == "tda-baseline"
                and rec.init == init and rec.train == cfg.model_dump(mode="json")):
            return r
    return None


def _measure(new_run: Run, base_run: Run, err_ids, metric: str) -> np.ndarray:
    """``Targets.measure``'s layout for a retrained run: metric on the errors, validation
    accuracy, accuracy on the errors, validation accuracy per class."""
    from slicelens.tda.estimate import class_accuracies

    s = new_run.samples
    pos = pd.Index(s["id"]).get_indexer(err_ids)
    y = s["label"].to_numpy(np.int64)[pos]
    P = np.asarray(new_run.array("probs"))[pos]
    k = np.arange(len(pos))
    if metric == "loss":
        m = float(s["loss"].to_numpy(np.float64)[pos].mean())
    else:
        base = base_run.samples
        ref = y if metric == "gt_prob" else base["pred"].to_numpy(np.int64)[
            pd.Index(base["id"]).get_indexer(err_ids)]
        m = float(P[k, ref].mean())
    val = ((s["split"] == "val") & (s["label"] >= 0)).to_numpy()
    hit = s["correct"].to_numpy(bool, na_value=False)[val]
    yv = s["label"].to_numpy(np.int64)[val]
    return np.array([m, float(hit.mean()), float((P.argmax(1) == y).mean()),
                     *class_accuracies(hit, yv, len(new_run.classes))])
