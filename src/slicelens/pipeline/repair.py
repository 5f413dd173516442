"""``slicelens repair``: plan a repair with a registered strategy, retrain, extract a new run."""

from __future__ import annotations

from collections.abc import Callable


def run_repair(workspace, run, strategy: str = "corm", params: dict | None = None,
               train_cfg=None, progress: Callable[[float, str], None] | None = None, *,
               init: str = "scratch", name: str | None = None):
    """Make the strategy's :class:`~slicelens.repair.plan.TrainingPlan` and carry it out.

    Parameters
    ----------
    workspace : Workspace or path
    run : Run or run id
        The run to repair (its model, data, slices and marks).
    strategy : str
        A name from ``slicelens.repair.base.REPAIRS`` (e.g. ``"corm"``).
    params : dict, optional
        The strategy's parameters (validated by its ``Params``).
    train_cfg : TrainConfig, optional
        Passed to ``apply_plan`` (default: the base model's stored settings).
    progress : callable ``(fraction, message)``, optional
        Told when planning and retraining start (for job status in the web app).
    init : {"scratch", "finetune"}
    name : str, optional
        Name part of the new run id (default: the strategy).

    Returns
    -------
    plan : TrainingPlan
    new_run : Run
        Complete; its record holds the plan and ``base_run``.

    Examples
    --------
    >>> plan, new = run_repair("ws", "run-0001-demo", "corm", {"source": "marks"})  # doctest: +SKIP
    """
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.repair.base import get_repair
    from slicelens.store import Workspace

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    run = ws.run(run) if isinstance(run, str) else run
    tell = progress or (lambda _f, _m: None)
    tell(0.0, f"planning {strategy} on {run.id}")
    plan = get_repair(strategy).plan(ws, run, **(params or {}))
    tell(0.1, f"retraining: {plan.summary()}")
    new_run = apply_plan(ws, run, plan, train_cfg, init=init, name=name or strategy)
    tell(1.0, f"new run {new_run.id}")
    return plan, new_run
