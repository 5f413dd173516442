"""Train a built-in model on a dataset's train split (validation for early stopping)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from slicelens.store.workspace import Workspace


class TrainJob(BaseModel):
    """What to train; the optimisation settings are a separate ``TrainConfig``."""

    model: str = Field("small-cnn", description="built-in architecture to train")
    input_size: int | None = Field(None, ge=8, le=1024,
                                   description="square input side in pixels (default: the model's)")
    pretrained: bool = Field(True, description="start from the weights the package ships, when it has any")
    name: str = Field("model", description="file name of the saved weights in the workspace")


def load_split_tensors(dataset, split: str, size: int):
    """Images and labels of one split: (x float (n, 3, size, size) in [0, 1], y long (n,))."""
    import torch

    idx = dataset.split_indices(split)
    idx = idx[dataset.labels[idx] >= 0]
    from slicelens.data.loader import load_images

    return load_images(dataset, idx, size), torch.from_numpy(dataset.labels[idx]), idx


def train_model(workspace: Workspace, dataset, job: TrainJob | None = None, cfg=None):
    """Fit ``job.model`` on ``dataset``'s train split with early stopping on ``val``.

    Returns
    -------
    spec : ModelSpec
        Loads the trained model back (weights saved under ``<workspace>/models/``).
    result : TrainResult
        History and best epoch.
    """
    from slicelens.errors import DataError
    from slicelens.models import ModelSpec, TrainConfig, TrainData, build_model, fit, save_model
    from slicelens.models.builtin import builtin_info
    from slicelens.store.atomic import write_json
    from slicelens.store.workspace import require_workspace
    from slicelens.utils import seed_everything

    ws = require_workspace(workspace, "train_model")
    job = job or TrainJob()
    cfg = cfg or TrainConfig()
    info = builtin_info(job.model)
    size = job.input_size or info["input_size"]
    x, y, _ = load_split_tensors(dataset, "train", size)
    if len(y) == 0:
        raise DataError("no labelled training samples (split 'train')", file=dataset.source, field="split")
    xv, yv, _ = load_split_tensors(dataset, "val", size)
    val = TrainData(xv, yv) if len(yv) else None
    seed_everything(cfg.seed)  # the initial weights too: same seed, same model
    module = build_model(job.model, len(dataset.classes), size, pretrained=job.pretrained)
    models_dir = Path(ws.root) / "models"
    result = fit(module, TrainData(x, y), val, cfg, normalize=info["normalize"],
                 checkpoint_dir=models_dir / f"{job.name}-checkpoints")
    path = models_dir / f"{job.name}.pt"
    save_model(module, path)
    # the settings beside the weights let a repair retrain the same way (apply_plan)
    write_json(path.with_suffix(".train.json"), cfg.model_dump(mode="json"))
    spec = ModelSpec(spec=job.model, weights=str(path), input_size=size, normalize=info["normalize"])
    return spec, result
