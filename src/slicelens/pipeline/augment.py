"""Per-batch augmentations a training plan asks for: CoRM noise and counterfactual swaps.

Both read a plan's ``.npz`` of per-image masks (``ids`` (k,), ``masks`` (k, H, W) in
[0, 1]) and return ``augment(xb, idx) -> xb`` for :class:`~slicelens.models.TrainData`,
or None when the plan has no such masks.
"""

from __future__ import annotations

import numpy as np

from slicelens.errors import SliceLensError


def _mask_rows(path, ids: np.ndarray, size: int):
    """Masks of a plan's ``.npz`` placed on the training rows: float (n, 1, size, size)."""
    import torch
    import torch.nn.functional as F

    from slicelens.repair.plan import load_noise_masks

    mids, masks = load_noise_masks(path)
    m = torch.from_numpy(masks)[:, None]
    if m.shape[-2:] != (size, size):
        m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)
    full = torch.zeros(len(ids), 1, size, size)
    pos = {s: i for i, s in enumerate(ids)}
    hit = [(pos[s], j) for j, s in enumerate(mids) if s in pos]
    if not hit:
        raise SliceLensError(f"none of the {len(mids)} mask ids in {path} is a training sample")
    rows, cols = zip(*hit, strict=True)
    full[list(rows)] = m[list(cols)].clamp(0, 1)
    return full


def noise_augment(plan, ids: np.ndarray, size: int, seed: int = 0):
    """CoRM's ``x' = clip(x + m * z)`` as a per-batch augment, or None without masks.

    ``z ~ N(0, sigma^2)`` is drawn fresh for every batch (AttributionScanner Sec. III-G);
    samples without a mask get no noise.
    """
    import torch

    if not plan.noise_masks:
        return None
    full = _mask_rows(plan.noise_masks, ids, size)
    gen = torch.Generator().manual_seed(seed)
    sigma = float(plan.noise_sigma)

    def augment(xb, idx):
        z = torch.randn(xb.shape, generator=gen) * sigma
        return (xb + full[idx].to(xb.device) * z.to(xb.device)).clamp_(0, 1)
    return augment


def swap_augment(plan, ids: np.ndarray, labels, size: int, seed: int = 0):
    """Counterfactual augmentation: ``x' = (1 - m) * x + m * x_j``, or None without masks.

    For each masked image of a batch, ``x_j`` is a random image of the same batch with
    another label, drawn fresh each batch; the masked (spurious) region then carries the
    other class's content, so it stops predicting the label. Images without a mask, or
    without another-class partner in the batch, are unchanged.

    Parameters
    ----------
    plan : TrainingPlan
        With ``swap_masks``.
    ids : ndarray of str (n,)
        Training sample ids, in the rows of the training tensors.
    labels : LongTensor (n,)
    size : int
    seed : int
    """
    import torch

    if not plan.swap_masks:
        return None
    full = _mask_rows(plan.swap_masks, ids, size)
    gen = torch.Generator().manual_seed(seed + 1)

    def augment(xb, idx):
        m = full[idx].to(xb.device)
        yb = labels[idx]
        r = torch.rand(len(idx), len(idx), generator=gen)
        r[yb[:, None] == yb[None, :]] = -1.0
        best, j = r.max(dim=1)
        ok = ((best >= 0) & (m.flatten(1).amax(1) > 0)).to(xb.device)
        swapped = (1 - m) * xb + m * xb[j.to(xb.device)]
        return torch.where(ok[:, None, None, None], swapped, xb)
    return augment


def compose(*augments):
    """One augment that applies each non-None augment in turn (None if there is none)."""
    fns = [a for a in augments if a is not None]
    if not fns:
        return None

    def augment(xb, idx):
        for f in fns:
            xb = f(xb, idx)
        return xb
    return augment
