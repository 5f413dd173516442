"""The matched control of a repair: the same training regime on unchanged data.

A repair's gain is its difference to a control with the same start (scratch or
fine-tune), epochs, seed and early-stopping rule, trained on the unchanged training data
(BENCHMARKS.md "Repair"): retraining longer, or stopping early on a better validation
rule, improves a model by itself. :meth:`TrainingPlan.control` derives the control's
plan; this module trains it once per base run and setting and reuses it: the key is the
base run, the start, the training settings and the control plan's regime, and the index
lives in ``<workspace>/controls/<key>.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from slicelens.errors import WorkspaceError

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


def control_key(base_run: Run, plan, train_cfg, init: Literal["scratch", "finetune"]) -> str:
    """Hash of everything the control depends on (same key = same control run)."""
    doc = {"base_run": base_run.id, "init": "finetune" if plan.head_only else init,
           "train": train_cfg.model_dump(mode="json", exclude={"device", "num_threads"}),
           "regime": plan.control_key()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


def matched_control(workspace: Workspace, base_run: Run, plan, train_cfg=None, *, init: Literal["scratch", "finetune"] = "scratch",
                    echo=None):
    """The control run of ``plan`` on ``base_run``: reused when one exists, else trained.

    Parameters
    ----------
    workspace : Workspace
    base_run : Run
    plan : TrainingPlan
        The repair's plan; its :meth:`~slicelens.repair.plan.TrainingPlan.control` is run.
    train_cfg : TrainConfig, optional
        As given to the repair (default: the base model's stored settings).
    init : {"scratch", "finetune"}
    echo : callable, optional
        Told whether the control was reused or trained.

    Returns
    -------
    Run
        Complete; its record holds ``control_key``.
    """
    from slicelens.pipeline.retrain import apply_plan, resolve_train_config
    from slicelens.store.atomic import write_json

    cfg = resolve_train_config(base_run, train_cfg)
    key = control_key(base_run, plan, cfg, init)
    index = Path(workspace.root) / "controls" / f"{key}.json"
    say = echo or (lambda _m: None)
    if index.exists():
        run_id = json.loads(index.read_text()).get("run", "")
        try:
            run = workspace.run(run_id)
            say(f"matched control: reusing {run.id} (same base run, start, epochs, seed and "
                "early stopping)")
            return run
        except WorkspaceError:
            pass  # the control run was deleted or is incomplete: train it again
    say("matched control: training the same regime on unchanged data")
    run = apply_plan(workspace, base_run, plan.control(), cfg, init=init, name="control")
    run.update_record(control_key=key)
    write_json(index, {"run": run.id, "base_run": base_run.id, "init": init})
    return type(run)(run.path)
