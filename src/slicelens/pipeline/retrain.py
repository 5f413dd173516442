"""Carry out a :class:`~slicelens.repair.plan.TrainingPlan`: retrain, then extract a new run.

Every repair strategy (CoRM, HiBug selection and generation) and every training-data
action (remove, relabel, reweight, add) ends here, so they are compared on equal terms:
same architecture, same training settings, same extraction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from slicelens.errors import SliceLensError
from slicelens.utils import seed_everything


def training_set(dataset, plan, size: int):
    """The modified training split a plan asks for.

    Returns
    -------
    x : uint8 Tensor (n, 3, size, size)
    y : long Tensor (n,)
    w : float Tensor (n,)
    ids : ndarray of str (n,)
        Sample ids (``"extra-<i>"`` for extra images).
    """
    import torch

    from slicelens.data.images import resize_rgb
    from slicelens.repair.plan import load_extra_images

    tr = dataset.split_indices("train")
    tr = tr[dataset.labels[tr] >= 0]
    known = set(dataset.ids[tr])
    unknown = [i for i in list(plan.remove) + list(plan.relabel) + list(plan.weights) if i not in known]
    if unknown:
        raise SliceLensError(f"plan names {len(unknown)} ids that are not labelled training "
                             f"samples, e.g. {unknown[0]!r}")
    drop = set(plan.remove)
    idx = np.array([i for i in tr if dataset.ids[i] not in drop], dtype=np.int64)
    ids = dataset.ids[idx]
    labels = dataset.labels[idx].copy()
    for j, sid in enumerate(ids):
        if sid in plan.relabel:
            labels[j] = int(plan.relabel[sid])
    weights = np.array([float(plan.weights.get(s, 1.0)) for s in ids], dtype=np.float32)
    if plan.add:
        add_idx = dataset.index_of(list(plan.add))
        not_pool = [dataset.ids[i] for i in add_idx if dataset.splits[i] == "train"]
        if not_pool:
            raise SliceLensError(f"plan adds {not_pool[0]!r}, which is already a training sample")
        idx = np.concatenate([idx, add_idx])
        ids = np.concatenate([ids, dataset.ids[add_idx]])
        labels = np.concatenate([labels, np.array(list(plan.add.values()), dtype=np.int64)])
        weights = np.concatenate([weights, np.ones(len(add_idx), np.float32)])
    if ((labels < 0) | (labels >= len(dataset.classes))).any():
        raise SliceLensError("plan relabels or adds a label outside the classes (field 'relabel'/'add')")
    imgs = dataset.load_uint8(idx, size)
    if plan.extra_images:
        ex, ey = load_extra_images(plan.extra_images)
        if ex.shape[1:3] != (size, size):
            ex = np.stack([resize_rgb(im, size) for im in ex])
        imgs = np.concatenate([imgs, ex])
        labels = np.concatenate([labels, ey])
        weights = np.concatenate([weights, np.ones(len(ey), np.float32)])
        ids = np.concatenate([ids, np.array([f"extra-{i}" for i in range(len(ey))])])
    x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2)
    return x, torch.from_numpy(labels), torch.from_numpy(weights), ids


def noise_augment(plan, ids: np.ndarray, size: int, seed: int = 0):
    """CoRM's ``x' = clip(x + m * z)`` as a per-batch augment, or None without masks.

    ``z ~ N(0, sigma^2)`` is drawn fresh for every batch (AttributionScanner Sec. III-G);
    samples without a mask get no noise.
    """
    import torch
    import torch.nn.functional as F

    from slicelens.repair.plan import load_noise_masks

    if not plan.noise_masks:
        return None
    mids, masks = load_noise_masks(plan.noise_masks)
    m = torch.from_numpy(masks)[:, None]
    if m.shape[-2:] != (size, size):
        m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)
    full = torch.zeros(len(ids), 1, size, size)
    pos = {s: i for i, s in enumerate(ids)}
    hit = [(pos[s], j) for j, s in enumerate(mids) if s in pos]
    if not hit:
        raise SliceLensError(f"none of the {len(mids)} noise-mask ids is a training sample")
    rows, cols = zip(*hit, strict=True)
    full[list(rows)] = m[list(cols)].clamp(0, 1)
    gen = torch.Generator().manual_seed(seed)
    sigma = float(plan.noise_sigma)

    def augment(xb, idx):
        z = torch.randn(xb.shape, generator=gen) * sigma
        return (xb + full[idx].to(xb.device) * z.to(xb.device)).clamp_(0, 1)
    return augment


def apply_plan(workspace, base_run, plan, train_cfg=None, *,
               init: Literal["scratch", "finetune"] = "scratch", name: str | None = None):
    """Retrain the base run's model on the plan's training data and extract a new run.

    Parameters
    ----------
    workspace : Workspace or path
    base_run : Run
        The run whose model and dataset are repaired.
    plan : TrainingPlan
    train_cfg : TrainConfig, optional
        Default: the settings the base model was trained with (stored beside its weights
        by ``slicelens train`` / the demo), else ``TrainConfig()``.
    init : {"scratch", "finetune"}
        Start from a fresh model (built-in or entry-point architectures) or from the base
        run's weights.
    name : str, optional
        Name part of the new run id (default: the plan's strategy).

    Returns
    -------
    Run
        Complete; its record holds ``plan`` and ``base_run``.
    """
    from slicelens.extract import ExtractConfig
    from slicelens.models import ModelSpec, TrainConfig, TrainData, fit, save_model
    from slicelens.pipeline.extract import extract_run
    from slicelens.pipeline.train import load_split_tensors
    from slicelens.store import Workspace
    from slicelens.store.atomic import write_json

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    rec = base_run.record
    spec = ModelSpec.model_validate({k: v for k, v in rec["model"].items() if k in ModelSpec.model_fields})
    dataset = base_run.dataset()
    size = int(spec.input_size)
    train_cfg = train_cfg or _stored_train_config(spec) or TrainConfig()
    seed_everything(train_cfg.seed)  # a scratch start gets the same initial weights per seed
    module = _initial_module(spec, dataset.classes, init)
    x, y, w, ids = training_set(dataset, plan, size)
    xv, yv, _ = load_split_tensors(dataset, "val", size)
    run_name = name or plan.strategy
    stem = _free_stem(Path(ws.root) / "models", f"repair-{run_name}")
    ckpt_dir = Path(ws.root) / "models" / f"{stem}-checkpoints"
    augment = noise_augment(plan, ids, size, seed=train_cfg.seed)
    fit(module, TrainData(x, y, weight=w, augment=augment), TrainData(xv, yv) if len(yv) else None,
        train_cfg, normalize=spec.normalize, checkpoint_dir=ckpt_dir)
    weights = save_model(module, Path(ws.root) / "models" / f"{stem}.pt")
    new_spec = spec.model_copy(update={"weights": str(weights)})
    ecfg = ExtractConfig.model_validate(rec.get("extract", {}))
    new_run = extract_run(ws, rec["data"]["source"], new_spec, ecfg, classes=dataset.classes,
                          skip_bad=bool(rec["data"].get("skip_bad", False)), name=run_name)
    plan_path = plan.save(Path(new_run.path) / "plan.json")
    record = dict(new_run.record)
    record.update(plan=plan.to_json(), plan_path=str(plan_path), base_run=base_run.id,
                  train=train_cfg.model_dump(mode="json"), init=init)
    write_json(Path(new_run.path) / "record.json", record)
    return type(new_run)(new_run.path)


def _stored_train_config(spec):
    from slicelens.models import TrainConfig

    if not spec.weights:
        return None
    side = Path(spec.weights).with_suffix(".train.json")
    if side.exists():
        return TrainConfig.model_validate(json.loads(side.read_text()))
    return None


def _initial_module(spec, classes, init: str):
    import warnings  # local: the rest of this file is being rewritten separately

    from slicelens.models import build_model, load_model
    from slicelens.models.builtin import BUILTINS

    if init == "finetune" or spec.spec not in BUILTINS:
        if init == "scratch" and ":" not in spec.spec:
            # a TorchScript / torch.export / pickled file holds no constructor to rebuild
            warnings.warn(f"model {spec.spec} cannot be rebuilt from scratch (the file holds "
                          "no constructor); retraining starts from the run's weights instead",
                          UserWarning, stacklevel=2)
            init = "finetune"
        adapter = load_model(**spec.model_dump(), classes=classes)
        module = adapter.module
        if init == "scratch":
            for m in module.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        return module
    # scratch built-in: same architecture; pretrained backbones keep their ImageNet weights
    return build_model(spec.spec, len(classes), spec.input_size, pretrained=True)


def _free_stem(folder: Path, prefix: str) -> str:
    """``prefix-N`` with the first N whose weights file does not exist yet."""
    n = 1
    while (folder / f"{prefix}-{n}.pt").exists():
        n += 1
    return f"{prefix}-{n}"
