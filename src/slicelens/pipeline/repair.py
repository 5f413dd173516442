"""``slicelens repair``: plan a repair with a registered strategy, retrain, extract a new
run, and train (or reuse) its matched control."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: The strategy ``slicelens repair`` uses when none is named (docs/repair.md: it met the
#: benchmark's goals; CoRM stays as AttributionScanner's method).
DEFAULT_STRATEGY = "dfr"


def run_repair(workspace, run, strategy: str = DEFAULT_STRATEGY, params: dict | None = None,
               train_cfg=None, progress: Callable[[float, str], None] | None = None, *,
               init: str = "scratch", name: str | None = None, control: bool = True):
    """Make the strategy's :class:`~slicelens.repair.plan.TrainingPlan`, carry it out, and
    pair the new run with its matched control.

    Parameters
    ----------
    workspace : Workspace or path
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
    >>> plan, new = run_repair("ws", "run-0001-demo", "dfr")  # doctest: +SKIP
    >>> new.record["control_run"]                              # doctest: +SKIP
    'run-0003-control'
    """
    from slicelens.pipeline.control import matched_control
    from slicelens.pipeline.retrain import apply_plan, resolve_train_config
    from slicelens.repair.base import get_repair
    from slicelens.store import Workspace
    from slicelens.store.atomic import write_json

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    run = ws.run(run) if isinstance(run, str) else run
    tell = progress or (lambda _f, _m: None)
    tell(0.0, f"planning {strategy} on {run.id}")
    plan = get_repair(strategy).plan(ws, run, **(params or {}))
    cfg = resolve_train_config(run, train_cfg)
    tell(0.1, f"retraining: {plan.summary()}")
    new_run = apply_plan(ws, run, plan, cfg, init=init, name=name or strategy)
    if not control:
        return plan, new_run
    tell(0.6, "matched control")
    ctrl = matched_control(ws, run, plan, cfg, init=init, echo=lambda m: tell(0.6, m))
    write_json(Path(new_run.path) / "record.json", dict(new_run.record, control_run=ctrl.id))
    new_run = type(new_run)(new_run.path)
    tell(1.0, f"new run {new_run.id}; control {ctrl.id}")
    return plan, new_run
