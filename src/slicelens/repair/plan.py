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
from typing import TYPE_CHECKING

import numpy as np

from slicelens.errors import SliceLensError
from slicelens.store.artifacts import ArtifactKind

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


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
    swap_masks : str, optional
        ``.npz`` like ``noise_masks``: counterfactual augmentation replaces the masked
        region of these training images by the same region of an image of another class
        (drawn fresh each batch), so the region's cue stops predicting the label.
    groups : dict str -> int
        Pseudo-group per sample id (training and validation samples,
        :mod:`slicelens.repair.groups`); read by ``objective="gdro"`` and by
        ``select_by="worst_group"``.
    objective : {"erm", "gdro"}
        Weighted cross-entropy, or Group DRO over ``groups`` (Sagawa et al. 2020).
    gdro_eta : float
        Step size of Group DRO's online group weights.
    select_by : {"accuracy", "worst_group"}
        Early stopping and model selection on validation: accuracy, or the accuracy of
        the worst pseudo-group in ``groups``.
    val_ids : list of str, optional
        The validation samples used for early stopping (default: the whole val split).
    head_only : bool
        Retrain only the pooled-linear head, from the base run's weights and its stored
        features (DFR): the head is fitted on ``head_data``.
    head_data : dict str -> float
        ``head_only``: sample id (any labelled split) -> weight of the head's training
        set; empty: the unchanged training split, weight 1.
    head_powers : list of float
        ``head_only``: candidate exponents of the head weights (``w ** power``; 0 = every
        weight 1); the refit keeps the exponent and regularisation whose selection score
        on the validation samples is best.
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
    swap_masks: str | None = None
    groups: dict[str, int] = field(default_factory=dict)
    objective: str = "erm"
    gdro_eta: float = 0.01
    select_by: str = "accuracy"
    val_ids: list[str] | None = None
    head_only: bool = False
    head_data: dict[str, float] = field(default_factory=dict)
    head_powers: list[float] = field(default_factory=lambda: [1.0])

    def __post_init__(self):
        if any(w < 0 for w in self.weights.values()):
            raise SliceLensError("plan weights must be >= 0 (field 'weights')")
        if any(w < 0 for w in self.head_data.values()):
            raise SliceLensError("plan head weights must be >= 0 (field 'head_data')")
        if self.objective not in ("erm", "gdro"):
            raise SliceLensError(f"objective must be 'erm' or 'gdro', got {self.objective!r} "
                                 "(field 'objective')")
        if self.select_by not in ("accuracy", "worst_group"):
            raise SliceLensError(f"select_by must be 'accuracy' or 'worst_group', got "
                                 f"{self.select_by!r} (field 'select_by')")
        if self.select_by == "worst_group" and not self.groups:
            raise SliceLensError("select_by='worst_group' needs pseudo-groups (field 'groups')")
        if self.objective == "gdro" and not self.groups:
            raise SliceLensError("objective='gdro' needs pseudo-groups (field 'groups')")
        if self.noise_sigma < 0:
            raise SliceLensError("noise_sigma must be >= 0 (field 'noise_sigma')")

    def summary(self) -> str:
        parts = [f"{k} {len(v)}" for k, v in (("remove", self.remove), ("relabel", self.relabel),
                                              ("reweight", self.weights), ("add", self.add)) if v]
        if self.extra_images:
            parts.append(f"extra images {self.extra_images}")
        if self.noise_masks:
            parts.append(f"noise on masked regions (sigma {self.noise_sigma})")
        if self.swap_masks:
            parts.append("counterfactual regions swapped across classes")
        if self.objective == "gdro":
            parts.append(f"Group DRO over {len(set(self.groups.values()))} pseudo-groups")
        if self.head_only:
            parts.append(f"last layer refitted on {len(self.head_data)} samples")
        if self.select_by == "worst_group":
            parts.append("selected by worst pseudo-group")
        return f"{self.strategy}: " + (", ".join(parts) or "no change")

    def to_json(self) -> dict:
        d = asdict(self)
        d["relabel"] = {k: int(v) for k, v in self.relabel.items()}
        d["add"] = {k: int(v) for k, v in self.add.items()}
        d["weights"] = {k: float(v) for k, v in self.weights.items()}
        d["groups"] = {k: int(v) for k, v in self.groups.items()}
        d["head_data"] = {k: float(v) for k, v in self.head_data.items()}
        return d

    def control(self) -> TrainingPlan:
        """The matched control: this plan's training regime on unchanged data.

        Keeps what is not a change to the data (early-stopping rule and its groups,
        validation samples, head-only refitting) and drops every change (removals,
        relabels, weights, added or generated images, noise, swaps, Group DRO). A
        head-only plan's control refits the head on the unchanged training split.

        Examples
        --------
        >>> TrainingPlan(strategy="x", weights={"a": 2.0}, select_by="worst_group",
        ...              groups={"v": 1}).control().summary()
        'control: selected by worst pseudo-group'
        """
        return TrainingPlan(
            strategy="control", params={"control_of": self.strategy},
            description="matched control: the same start, epochs, seed and early stopping "
                        "on unchanged training data",
            groups=dict(self.groups) if self.select_by == "worst_group" else {},
            select_by=self.select_by, val_ids=None if self.val_ids is None else list(self.val_ids),
            head_only=self.head_only)

    def control_key(self) -> str:
        """A hash of :meth:`control`'s training regime: plans with the same key share one
        control run (with the same base run, start and training settings)."""
        import hashlib

        c = self.control().to_json()
        c.pop("description"), c.pop("params")
        return hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest()[:16]

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


#: ``run.artifact(PLAN) -> TrainingPlan | None``
PLAN: ArtifactKind[TrainingPlan | None] = ArtifactKind("plan")


@PLAN.reader
def _read_plan(run: Run, name: None = None) -> TrainingPlan | None:
    """``run.plan()``: the plan a repair or control run was trained with, or None."""
    path = run.artifact_path("plan")
    return TrainingPlan.load(path) if path.exists() else None


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


def new_plan_dir(workspace: Workspace, strategy: str) -> Path:
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
