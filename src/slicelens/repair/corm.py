"""CoRM repair: Gaussian noise on the spurious regions of spurious slices' training images.

AttributionScanner Sec. III-G, after Singla et al.'s Core Risk Minimization: slices whose
spuriousness exceeds a threshold are exported; for their *training* images the
attribution map marks the spurious region, and the model is retrained on
``x' = x + m * z`` (``m`` the mask, ``z ~ N(0, sigma^2)`` drawn fresh for every batch,
the result clipped to [0, 1] by ``apply_plan``).

How slicelens makes each piece, and where it departs from the paper:

- **Which slices.** ``source="marks"``: slices a person marked spurious (the paper's
  "Annotation" rows); ``source="propagation"``: slices whose spuriousness (human marks
  first, else propagated, :mod:`slicelens.feedback.propagation`) is above
  ``threshold`` (the paper's "Propagation" rows).
- **Which training images.** Slices are fitted on one split (usually ``val``); the
  training split is mapped onto them with the slicer's own ``assign`` (stored by
  ``find_slices``).
- **Masks.** The base run's attribution map of each such image (predicted class, ``m x
  k`` grid) upsampled bilinearly to the image size and divided by its maximum; pixels at
  or above ``mask_threshold`` form the mask (``mask_threshold=0`` keeps the soft map),
  optionally grown by ``dilate`` pixels. The paper does not say how it binarises; this is
  our choice.
- **Label balance (ours).** Spurious slices are often one class on its usual background
  (on the demo, propagation picked 1,541 of 1,556 training images of "5-9" and 198 of
  1,444 of "0-4"). Noise on them alone becomes a new shortcut: the retrained model read
  "noise" as "5-9" and predicted "0-4" for every clean test image (test accuracy 0.50).
  With ``balance=True`` (default) every class gets the same share of noised images: the
  missing ones are random training images of that class, noised on a region shape
  borrowed from a random noised image, so the noise says nothing about the label.
- **Sigma.** Not given in the paper; default 0.25 on [0, 1] images, the noise level of
  the evaluation (Salient ImageNet). Zero-mean noise leaves a region's mean colour, so a
  colour cue (green grass, red brick) survives small sigmas (docs/repair.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from slicelens.errors import SliceLensError, WorkspaceError
from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.groups import require_spurious
from slicelens.repair.groups import spurious_slice_ids as spurious_slices  # noqa: F401 - public name
from slicelens.repair.plan import TrainingPlan, new_plan_dir

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class CoRMParams(BaseModel):
    """Options of the CoRM repair plan."""

    slicer: str = Field("auto", description="slice set whose spurious slices get noise (auto: the stored slice set holding the newest mark, else the run's preferred one; feedback.annotations.marked_slicer)")
    source: Literal["marks", "propagation"] = Field(
        "propagation", description="spurious slices from human marks only, or from propagation")
    threshold: float = Field(0.5, ge=0, lt=1, description="spuriousness above which a slice counts")
    sigma: float = Field(0.25, gt=0, description="std of the Gaussian noise on [0, 1] images")
    mask_threshold: float = Field(0.5, ge=0, le=1, description="share of a map's maximum that "
                                  "is masked (0: soft mask = the normalised map)")
    dilate: int = Field(0, ge=0, description="pixels the binary masks grow")
    balance: bool = Field(True, description="noise the same share of every class, so noise "
                          "is no label shortcut (borrowed masks on the added images)")
    balance_seed: int = Field(0, description="seed of the balancing draw")


@register_repair("corm")
class CoRM(RepairStrategy):
    """Core Risk Minimization on the spurious regions of spurious slices (Sec. III-G)."""

    Params = CoRMParams

    def _plan(self, workspace: Workspace, run: Run, p: CoRMParams) -> TrainingPlan:
        from slicelens.feedback.propagation import current_spuriousness
        from slicelens.store.atomic import save_npz

        ws = workspace
        chosen = require_spurious(current_spuriousness(ws, run, p.slicer), p.slicer, p.source,
                                  p.threshold)
        ids, masks = corm_masks(run, p.slicer, chosen, p)
        if not len(ids):
            raise SliceLensError(f"no training image falls into the spurious slices {chosen}")
        n_slice_images = len(ids)
        if p.balance:
            ids, masks = balance_by_label(ids, masks, run.samples, p.balance_seed)
        folder = new_plan_dir(ws, "corm")
        save_npz(folder / "noise_masks.npz", ids=ids, masks=masks)
        desc = (f"CoRM: noise (sigma {p.sigma}) on the attribution regions of {n_slice_images} "
                f"training images in {len(chosen)} spurious slices ({p.source}): "
                f"{', '.join(chosen)}")
        if len(ids) > n_slice_images:
            desc += (f"; {len(ids) - n_slice_images} more images noised on borrowed regions so "
                     "every class has the same noised share")
        plan = TrainingPlan(strategy=self.name, params={**p.model_dump(), "slices": chosen,
                                                        "base_run": run.id},
                            description=desc, noise_masks=str(folder / "noise_masks.npz"),
                            noise_sigma=p.sigma)
        plan.save(folder / "plan.json")
        return plan


class MaskParams(Protocol):
    """What :func:`corm_masks` reads (CoRM's and counterfactual augmentation's options)."""

    mask_threshold: float
    dilate: int


def corm_masks(run: Run, slicer: str, slice_ids: list[str], p: MaskParams) -> tuple[np.ndarray, np.ndarray]:
    """Training images of ``slice_ids`` and their noise masks.

    Returns
    -------
    ids : ndarray of str (k,)
    masks : float32 array (k, H, W) in [0, 1], ``H = W`` = the model's input size
    """
    from slicelens.evaluate.robustness import dilate_masks, relative_maps
    from slicelens.slicing.base import SliceSet

    slice_set = SliceSet.load(run.path, slicer)
    wanted = [i for i, s in enumerate(slice_set.slices) if s.id in set(slice_ids)]
    samples = run.samples
    train = np.flatnonzero(samples["split"].to_numpy() == "train")
    keep = np.isin(slice_assignment(run, slice_set, "train"), wanted)
    rows = train[keep & (samples["label"].to_numpy()[train] >= 0)]
    size = run.record.input_size
    rel = relative_maps(np.asarray(run.array("maps"))[rows], size)
    if p.mask_threshold > 0:
        rel = dilate_masks(rel >= p.mask_threshold, p.dilate).astype(np.float32)
    return np.asarray(samples["id"], dtype=str)[rows], rel


def balance_by_label(ids: np.ndarray, masks: np.ndarray, samples: pd.DataFrame,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Add noised images until every class has the same share of them.

    The target share is the largest class's share among the training images; each other
    class gets random un-noised training images of its own, each with the mask of a
    random already-noised image (any class).

    Parameters
    ----------
    ids : ndarray of str (k,)
        Training images chosen by the spurious slices.
    masks : float32 array (k, H, W)
    samples : DataFrame
        The run's samples (``id``, ``label``, ``split``).

    Returns
    -------
    ids, masks with the added images appended.

    Examples
    --------
    >>> s = pd.DataFrame({"id": list("abcdefgh"), "label": [0, 0, 0, 0, 1, 1, 1, 1],
    ...                   "split": ["train"] * 8})
    >>> ids, m = balance_by_label(np.array(["a", "b"]), np.ones((2, 2, 2), np.float32), s)
    >>> len(ids), s.set_index("id").loc[ids, "label"].tolist()   # half of each class now
    (4, [0, 0, 1, 1])
    """
    rng = np.random.default_rng(seed)
    train = samples[(samples["split"] == "train") & (samples["label"] >= 0)]
    noised = np.isin(train["id"].to_numpy(str), ids)
    labels = train["label"].to_numpy()
    classes, totals = np.unique(labels, return_counts=True)
    have = np.array([(noised & (labels == c)).sum() for c in classes])
    share = float((have / totals).max())
    add_ids, add_masks = [], []
    for c, total, k in zip(classes, totals, have, strict=True):
        need = int(round(share * total)) - int(k)
        pool = train["id"].to_numpy(str)[(labels == c) & ~noised]
        if need <= 0 or not len(pool):
            continue
        add_ids.append(rng.choice(pool, size=min(need, len(pool)), replace=False))
        add_masks.append(masks[rng.integers(0, len(masks), len(add_ids[-1]))])
    if not add_ids:
        return ids, masks
    return (np.concatenate([np.asarray(ids, str), *add_ids]),
            np.concatenate([masks, *add_masks]).astype(masks.dtype))


def slice_assignment(run: Run, slice_set, split: str) -> np.ndarray:
    """Slice index per sample of ``split`` of ``run`` (-1 = none), shape (n_split,).

    Read from the assignments ``find_slices`` stored for every split.
    """
    from slicelens.slicing.runio import assign_all

    split_of = assign_all(run, slice_set)
    if split not in split_of:
        raise WorkspaceError(f"run {run.id} has no split {split!r}")
    return split_of[split]


