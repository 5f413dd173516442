"""``slicelens repair``: plan a repair with a registered strategy, retrain, extract a new
run, and train (or reuse) its matched control."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

#: The strategy ``slicelens repair`` uses when none is named (docs/repair.md: it met the
#: benchmark's goals; CoRM stays as AttributionScanner's method).
DEFAULT_STRATEGY = "dfr"


def run_repair(workspace: Workspace, run: Run | str, strategy: str = DEFAULT_STRATEGY, params: dict | None = None,
               train_cfg=None, progress: Callable[[float, str], None] | None = None, *,
               init: Literal["scratch", "finetune"] = "scratch", name: str | None = None, control: bool = True):
    """Make the strategy's :class:`~slicelens.repair.plan.TrainingPlan`, carry it out, and
    pair the new run with its matched control.

    Parameters
    ----------
    workspace : Workspace
    run : Run or run id
        The run to repair (its model, data, slices and marks).
    strategy : str
        A name from ``slicelens.repair.base.REPAIRS`` (e.g. ``"dfr"``, ``"corm"``).
    params : dict, optional
        The strategy's parameters (validated by its ``Params``).
    train_cfg : TrainConfig, optional
        Passed to ``apply_plan`` (default: the base model's stored settings).
    progress : callable ``(fraction, message)``, optional
        Told when planning, retraining and the control start (job status in the web app).
    init : {"scratch", "finetune"}
    name : str, optional
        Name part of the new run id (default: the strategy).
    control : bool
        Train (or reuse) the matched control and name it in the new run's record as
        ``control_run`` (default True; every report then shows it).

    Returns
    -------
    plan : TrainingPlan
    new_run : Run
        Complete; its record holds the plan, ``base_run`` and ``control_run``.

    Examples
    --------
    >>> plan, new = run_repair(Workspace("ws"), "run-0001-demo", "dfr")  # doctest: +SKIP
    >>> new.record.control_run                                 # doctest: +SKIP
    'run-0003-control'
    """
    from slicelens.pipeline.control import matched_control
    from slicelens.pipeline.retrain import apply_plan, resolve_train_config
    from slicelens.repair.base import get_repair
    from slicelens.store.workspace import require_workspace

    ws = require_workspace(workspace, "run_repair")
    run = ws.run(run) if isinstance(run, str) else run
    tell = progress or (lambda _f, _m: None)
    tell(0.0, f"planning {strategy} on {run.id}")
    plan = get_repair(strategy).plan(ws, run, **(params or {}))
    cfg = resolve_train_config(run, train_cfg)
    tell(0.1, f"retraining: {plan.summary()}")
    try:
        new_run = apply_plan(ws, run, plan, cfg, init=init, name=name or strategy)
    except BaseException:  # Ctrl-C or a failure: the plan's folder goes with the repair
        _remove_plan_folder(ws, plan)
        raise
    if not control:
        return plan, new_run
    tell(0.6, "matched control")
    ctrl = matched_control(ws, run, plan, cfg, init=init, echo=lambda m: tell(0.6, m))
    new_run.update_record(control_run=ctrl.id)
    new_run = type(new_run)(new_run.path)
    tell(1.0, f"new run {new_run.id}; control {ctrl.id}")
    return plan, new_run


def _remove_plan_folder(ws: Workspace, plan) -> None:
    """Delete ``<workspace>/plans/<strategy>-NNNN/`` that this plan's files live in."""
    import shutil

    plans = (Path(ws.root) / "plans").resolve()
    for f in (plan.noise_masks, plan.swap_masks, plan.extra_images):
        if f and Path(f).resolve().parent.parent == plans:
            shutil.rmtree(Path(f).resolve().parent, ignore_errors=True)


#: per-strategy parameters that seed the strategy's own randomness (shifted per seed)
SEED_PARAMS = ("cut_seed", "balance_seed", "id_seed", "seed")


def run_repair_seeds(workspace: Workspace, run: Run | str, strategy: str = DEFAULT_STRATEGY, params: dict | None = None,
                     train_cfg=None, seeds: int = 3, progress=None, *, init: Literal["scratch", "finetune"] = "scratch",
                     name: str | None = None, slicer: str = "auto") -> dict:
    """:func:`run_repair` with ``seeds`` seeds, each paired with its own matched control.

    Seed ``k`` trains with ``train_cfg.seed + k`` and shifts the strategy's own seed
    parameters (:data:`SEED_PARAMS`) by ``k``. The gains against the controls are paired
    per seed and summarised with a t-interval (:mod:`slicelens.evaluate.seeds`).

    Returns
    -------
    dict: ``runs`` (per seed: ``seed``, ``run``, ``control`` and the figures of both),
    ``gains`` (metric -> :func:`~slicelens.evaluate.seeds.paired_gain`) and ``verdicts``
    (metric -> words).
    """
    from slicelens.evaluate.seeds import paired_gain, seed_verdict
    from slicelens.pipeline.retrain import resolve_train_config
    from slicelens.repair.base import get_repair
    from slicelens.store.workspace import require_workspace

    ws = require_workspace(workspace, "run_repair_seeds")
    run = ws.run(run) if isinstance(run, str) else run
    cfg = resolve_train_config(run, train_cfg)
    fields = get_repair(strategy).Params.model_fields
    rows = []
    for k in range(seeds):
        p = dict(params or {})
        for f in SEED_PARAMS:
            if f in fields:
                p[f] = int(p.get(f, fields[f].default or 0)) + k
        _, new = run_repair(ws, run, strategy, p, cfg.model_copy(update={"seed": cfg.seed + k}),
                            progress, init=init, name=f"{name or strategy}-s{k}")
        ctrl = ws.run(new.record.control_run)
        rows.append({"seed": cfg.seed + k, "run": new.id, "control": ctrl.id,
                     "after": repair_figures(run, new, slicer),
                     "control_figures": repair_figures(run, ctrl, slicer)})
    metrics = [m for m in ("worst_group", "worst_slice", "average") if m in rows[0]["after"]]
    gains = {m: paired_gain([{"after": r["after"][m], "control": r["control_figures"][m]}
                             for r in rows]) for m in metrics}
    return {"runs": rows, "gains": gains,
            "verdicts": {m: seed_verdict(g, m.replace("_", " ") + " accuracy")
                         for m, g in gains.items()}}


def repair_figures(base, run: Run, slicer: str = "auto") -> dict:
    """Test-split figures of ``run`` from its stored predictions: ``average``,
    ``worst_slice`` (the lowest accuracy over ``base``'s slices with 10 or more test
    samples) and, where a ``ground_truth.csv`` with true groups sits beside the manifest,
    ``worst_group``."""
    import numpy as np
    import pandas as pd

    from slicelens.evaluate.groups import worst_group_accuracy
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.pipeline.evaluate import _ground_truth, _has_slices, _rows_of, _slice_names

    s = base.samples
    ids = s["id"].to_numpy(str)[(s["split"] == "test").to_numpy() & (s["label"] >= 0).to_numpy()]
    rows = _rows_of(run, ids)
    correct = rows["correct"].to_numpy(dtype=bool, na_value=False)
    out = {"average": float(correct.mean())}
    if slicer == "auto":
        from slicelens.slicing.runio import preferred_slicer

        slicer = preferred_slicer(base)
    if _has_slices(base, slicer):
        names = _slice_names(base, slicer, "test", pd.Index(ids)).to_numpy()
        accs = [correct[names == n].mean() for n in set(names) - {""} if (names == n).sum() >= 10]
        if accs:
            out["worst_slice"] = float(np.min(accs))
    gt, _ = _ground_truth(base, "auto")
    if gt is not None:
        out["worst_group"] = worst_group_accuracy(correct, join_ground_truth(rows, gt)["group"]
                                                  .to_numpy(str))[1]
    return out
