"""The training plan: what every repair strategy and training-data action produces.

A plan says how the training split changes before retraining, keyed by sample id, so it
can be read, stored, compared and replayed. ``slicelens.pipeline.retrain.apply_plan``
carries it out.

Example
-------
>>> p = TrainingPlan(strategy="manual", remove=["train/a.png"], weights={"train/b.png": 3.0})
>>> p.summary()
'manual: remove 1, reweight 1'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from slicelens.errors import SliceLensError


@dataclass
class TrainingPlan:
    """How to change the training data before retraining.

    Attributes
    ----------
    strategy : str
        Name of the strategy or action that made the plan (``"corm"``, ``"hibug-select"``...).
    params : dict
        The strategy's parameters, for replay.
    description : str
        Why, in words.
    remove : list of str
        Training sample ids to drop.
    relabel : dict str -> int
        Training sample id -> new label index.
    weights : dict str -> float
        Training sample id -> loss weight (default 1; ``remove`` wins over a weight).
    add : dict str -> int
        Pool sample id -> revealed label; these samples join the training split.
    extra_images : str, optional
        ``.npz`` with ``images`` uint8 (n, H, W, 3) and ``labels`` int (n,): generated or
        composited debug images added to training (not part of any run).
    noise_masks : str, optional
        ``.npz`` with ``ids`` str (k,) and ``masks`` float (k, H, W) in [0, 1]: CoRM
        (AttributionScanner Sec. III-G) adds ``m * z``, ``z ~ N(0, noise_sigma^2)`` fresh
        each batch, to these training images.
    noise_sigma : float
    """

    strategy: str = "manual"
    params: dict = field(default_factory=dict)
    description: str = ""
    remove: list[str] = field(default_factory=list)
    relabel: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    add: dict[str, int] = field(default_factory=dict)
    extra_images: str | None = None
    noise_masks: str | None = None
    noise_sigma: float = 0.1

    def __post_init__(self):
        if any(w < 0 for w in self.weights.values()):
            raise SliceLensError("plan weights must be >= 0 (field 'weights')")
        if self.noise_sigma < 0:
            raise SliceLensError("noise_sigma must be >= 0 (field 'noise_sigma')")

    def summary(self) -> str:
        parts = [f"{k} {len(v)}" for k, v in (("remove", self.remove), ("relabel", self.relabel),
                                              ("reweight", self.weights), ("add", self.add)) if v]
        if self.extra_images:
            parts.append(f"extra images {self.extra_images}")
        if self.noise_masks:
            parts.append(f"noise on masked regions (sigma {self.noise_sigma})")
        return f"{self.strategy}: " + (", ".join(parts) or "no change")

    def to_json(self) -> dict:
        d = asdict(self)
        d["relabel"] = {k: int(v) for k, v in self.relabel.items()}
        d["add"] = {k: int(v) for k, v in self.add.items()}
        d["weights"] = {k: float(v) for k, v in self.weights.items()}
        return d

    def save(self, path) -> Path:
        """Write the plan as JSON atomically."""
        from slicelens.store.atomic import write_bytes

        path = Path(path)
        write_bytes(path, json.dumps(self.to_json(), indent=1).encode())
        return path

    @classmethod
    def load(cls, path) -> TrainingPlan:
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise SliceLensError(f"cannot read training plan {path}: {e}") from None


def load_noise_masks(path) -> tuple[np.ndarray, np.ndarray]:
    """CoRM masks of a plan: (ids str (k,), masks float32 (k, H, W))."""
    with np.load(path, allow_pickle=False) as z:
        ids, masks = z["ids"].astype(str), z["masks"].astype(np.float32)
    if masks.ndim != 3 or len(ids) != len(masks):
        raise SliceLensError(f"noise masks in {path} must be (k, H, W) with k ids")
    return ids, masks


def load_extra_images(path) -> tuple[np.ndarray, np.ndarray]:
    """Extra training images of a plan: (images uint8 (n, H, W, 3), labels int64 (n,))."""
    with np.load(path, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"].astype(np.int64)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) != len(labels):
        raise SliceLensError(f"extra images in {path} must be uint8 (n, H, W, 3) with n labels")
    return images.astype(np.uint8), labels


def new_plan_dir(workspace, strategy: str) -> Path:
    """A new, empty ``<workspace>/plans/<strategy>-NNNN/`` folder for a plan's files.

    ``mkdir`` without ``exist_ok`` claims the number, so two writers never share one.
    """
    root = Path(workspace if isinstance(workspace, str | os.PathLike) else workspace.root) / "plans"
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        folder = root / f"{strategy}-{n:04d}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
