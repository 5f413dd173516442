"""Carry out a :class:`~slicelens.repair.plan.TrainingPlan`: retrain, then extract a new run.

Every repair strategy (CoRM, HiBug selection and generation) and every training-data
action (remove, relabel, reweight, add) ends here, so they are compared on equal terms:
same architecture, same training settings, same extraction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from slicelens.data.loader import load_images
from slicelens.models.initial import initial_module as _initial_module
from slicelens.pipeline.augment import compose, noise_augment, swap_augment
from slicelens.repair.trainset import training_set
from slicelens.utils import seed_everything

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

__all__ = ["apply_plan", "noise_augment", "resolve_train_config", "training_set"]


def apply_plan(workspace: Workspace, base_run: Run, plan, train_cfg=None, *,
               init: Literal["scratch", "finetune"] = "scratch", name: str | None = None):
    """Retrain the base run's model on the plan's training data and extract a new run.

    Parameters
    ----------
    workspace : Workspace
    base_run : Run
        The run whose model and dataset are repaired.
    plan : TrainingPlan
        Data changes (remove, relabel, weights, add, extra images, noise or swap masks),
        objective (ERM or Group DRO over ``plan.groups``), early-stopping rule
        (``select_by``, ``val_ids``), or a head-only refit (``head_only``: DFR).
    train_cfg : TrainConfig, optional
        Default: the settings the base model was trained with (stored beside its weights
        by ``slicelens train`` / the demo), else ``TrainConfig()``.
    init : {"scratch", "finetune"}
        Start from a fresh model (built-in or entry-point architectures) or from the base
        run's weights. A head-only plan always starts from the base run's weights.
    name : str, optional
        Name part of the new run id (default: the plan's strategy).

    Returns
    -------
    Run
        Complete; its record holds ``plan``, ``base_run``, ``init``, ``train`` and
        ``fit`` (best epoch and selection score, or the head refit's choice).
    """
    from slicelens.extract import ExtractConfig
    from slicelens.models import ModelSpec, save_model
    from slicelens.pipeline.extract import extract_run
    from slicelens.store.workspace import require_workspace

    ws = require_workspace(workspace, "apply_plan")
    rec = base_run.record
    spec = ModelSpec.model_validate({k: v for k, v in rec.model.to_json().items()
                                     if k in ModelSpec.model_fields})
    dataset = base_run.dataset()
    train_cfg = resolve_train_config(base_run, train_cfg)
    run_name = name or plan.strategy
    weights_path = _claim_weights_path(Path(ws.root) / "models", f"repair-{run_name}")
    try:
        if plan.head_only:
            from slicelens.pipeline.head_refit import refit_head

            module, fit_info = refit_head(base_run, plan, spec, dataset.classes, train_cfg.seed)
            init = "finetune"
        else:
            module, fit_info, init = _retrain(base_run, plan, spec, dataset, train_cfg, init,
                                              weights_path.with_name(weights_path.stem + "-checkpoints"))
        weights = save_model(module, weights_path)
    except BaseException:
        weights_path.unlink(missing_ok=True)  # free the claimed name again
        raise
    new_spec = spec.model_copy(update={"weights": str(weights)})
    ecfg = ExtractConfig.model_validate(rec.extract)
    try:
        new_run = extract_run(ws, rec.data.source, new_spec, ecfg, classes=dataset.classes,
                              skip_bad=rec.data.skip_bad, name=run_name)
    except BaseException:  # Ctrl-C or a failure: no half-made run, no orphan model
        _remove_unfinished_runs(ws, weights)
        weights.unlink(missing_ok=True)
        raise
    plan_path = plan.save(new_run.artifact_path("plan"))
    new_run.update_record(plan=plan.to_json(), plan_path=str(plan_path), base_run=base_run.id,
                          train=train_cfg.model_dump(mode="json"), init=init, fit=fit_info)
    return type(new_run)(new_run.path)


def _remove_unfinished_runs(ws: Workspace, weights: Path) -> None:
    """Delete the incomplete runs extracted with ``weights`` (this call's, never another's)."""
    import shutil

    for r in ws.runs(include_incomplete=True):
        if r.is_complete:
            continue
        try:
            ours = Path(str(r.record.model.weights or "")).name == weights.name
        except Exception:  # noqa: BLE001 - no readable record yet: judge by nothing, keep it
            ours = False
        if ours:
            shutil.rmtree(r.path, ignore_errors=True)


def resolve_train_config(base_run: Run, train_cfg=None):
    """``train_cfg``, else the base model's stored training settings, else ``TrainConfig()``."""
    from slicelens.models import ModelSpec, TrainConfig

    if train_cfg is not None:
        return train_cfg
    rec = base_run.record.model.to_json()
    spec = ModelSpec.model_validate({k: v for k, v in rec.items() if k in ModelSpec.model_fields})
    return _stored_train_config(spec) or TrainConfig()


def _retrain(base_run: Run, plan, spec, dataset, train_cfg, init, ckpt_dir) -> tuple:
    """Train the whole model on the plan's data; return (module, fit summary, start used)."""
    import torch

    from slicelens.models import TrainData, fit

    size = int(spec.input_size)
    seed_everything(train_cfg.seed)  # a scratch start gets the same initial weights per seed
    module, init = _initial_module(spec, dataset.classes, init)
    x, y, w, ids = training_set(dataset, plan, size)
    vidx = _validation_rows(dataset, plan)
    xv, yv = load_images(dataset, vidx, size), torch.from_numpy(dataset.labels[vidx])
    groups = plan.groups or {}
    gv = torch.tensor([groups.get(str(i), -1) for i in dataset.ids[vidx]], dtype=torch.long)
    gt = torch.tensor([groups.get(str(i), -1) for i in ids], dtype=torch.long)
    augment = compose(noise_augment(plan, ids, size, seed=train_cfg.seed),
                      swap_augment(plan, ids, y, size, seed=train_cfg.seed))
    val = TrainData(xv, yv, group=gv if groups else None) if len(yv) else None
    res = fit(module, TrainData(x, y, weight=w, augment=augment, group=gt if groups else None),
              val, train_cfg, normalize=spec.normalize, checkpoint_dir=ckpt_dir,
              gdro_eta=plan.gdro_eta if plan.objective == "gdro" else None,
              select_by=plan.select_by if val is not None else "accuracy")
    return module, {"best_epoch": res.best_epoch, "selection_score": res.best_val_acc,
                    "select_by": plan.select_by, "n_train": len(y), "n_val": len(yv),
                    "history": res.history}, init


def _validation_rows(dataset, plan) -> np.ndarray:
    """Dataset rows of the validation samples that drive early stopping."""
    vidx = dataset.split_indices("val")
    vidx = vidx[dataset.labels[vidx] >= 0]
    if plan.val_ids is not None:
        vidx = vidx[np.isin(dataset.ids[vidx], np.asarray(plan.val_ids, dtype=str))]
    return vidx


def _stored_train_config(spec):
    from slicelens.models import TrainConfig

    if not spec.weights:
        return None
    side = Path(spec.weights).with_suffix(".train.json")
    if side.exists():
        return TrainConfig.model_validate(json.loads(side.read_text()))
    return None


def _claim_weights_path(folder: Path, prefix: str) -> Path:
    """``folder/prefix-N.pt`` with the first free N, claimed by creating it exclusively.

    The name is taken before training starts; creating the file with ``O_EXCL`` makes
    sure two repairs running at once never pick the same one (the later save replaces
    the empty placeholder atomically).
    """
    import os

    folder.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = folder / f"{prefix}-{n}.pt"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return path
        except FileExistsError:
            n += 1
