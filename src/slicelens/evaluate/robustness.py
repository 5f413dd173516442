"""Clean, core and spurious accuracy and relative core sensitivity (RCS).

AttributionScanner Sec. V-A, after Singla et al., "Core risk minimization using Salient
ImageNet" (the paper's ref. [2]):

- clean accuracy: accuracy on the unmodified images;
- core accuracy ``acc(C)``: accuracy when the *spurious* regions get Gaussian noise;
- spurious accuracy ``acc(S)``: accuracy when the *core* regions get Gaussian noise;
- ``RCS = (acc(C) - acc(S)) / (2 min(a, 1 - a))`` with ``a = (acc(C) + acc(S)) / 2``.

Noise is ``x' = clip(x + m * z, 0, 1)``, ``z ~ N(0, sigma^2)`` per pixel and channel,
``m`` the region's binary mask. Sec. V-A names no sigma, mask dilation or number of
trials; slicelens uses ``sigma = 0.25`` (the level of Salient ImageNet's noise evaluation
as we recall it; we could not check the source offline, so it is a parameter), grows
the *core* mask by ``dilate`` pixels before splitting the image into core and spurious
regions (so that noise meant for the background does not touch the object's edge, and
noise meant for the object covers all of it), and averages over ``trials`` noise draws
(the same seeded draws for every model, so that before / after are paired).

All functions are pure: images are float tensors ``(n, 3, H, W)`` in [0, 1], masks are
boolean arrays ``(n, H, W)`` with True = core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from pydantic import BaseModel, Field

from slicelens.errors import SliceLensError


class RobustnessParams(BaseModel):
    """Noise settings of the core / spurious accuracy evaluation."""

    sigma: float = Field(0.25, ge=0, description="std of the Gaussian noise on [0, 1] images")
    trials: int = Field(5, ge=1, description="noise draws averaged per accuracy")
    dilate: int = Field(1, ge=0, description="pixels the core mask grows before splitting")
    mask_threshold: float = Field(0.5, gt=0, le=1, description="attribution masks: share of "
                                  "each map's maximum a pixel needs to count")
    seed: int = Field(0, description="seed of the noise draws (the same for every model)")
    batch_size: int = Field(256, ge=1, description="images per forward pass")


@dataclass
class RobustnessResult:
    """Accuracies of one model under noise; ``*_trials`` hold one value per draw."""

    n: int
    clean: float
    core: float
    spurious: float
    rcs: float
    core_trials: list[float]
    spurious_trials: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


def rcs(core_acc: float, spurious_acc: float) -> float:
    """Relative core sensitivity (Sec. V-A); NaN when ``a`` is 0 or 1 (no possible gap).

    Examples
    --------
    >>> round(rcs(0.9, 0.6), 4)   # a = 0.75, (0.9 - 0.6) / (2 * 0.25)
    0.6
    """
    a = (core_acc + spurious_acc) / 2
    denom = 2 * min(a, 1 - a)
    return float((core_acc - spurious_acc) / denom) if denom > 0 else float("nan")


def dilate_masks(masks: np.ndarray, pixels: int) -> np.ndarray:
    """Grow boolean masks ``(n, H, W)`` by ``pixels`` (square structuring element)."""
    from scipy.ndimage import binary_dilation

    masks = np.asarray(masks, dtype=bool)
    if pixels <= 0:
        return masks
    struct = np.ones((1, 2 * pixels + 1, 2 * pixels + 1), dtype=bool)
    return binary_dilation(masks, structure=struct)


def add_masked_noise(x, masks, sigma: float, generator):
    """``clip(x + m * z, 0, 1)`` for images ``x`` (n, 3, H, W) and masks (n, H, W)."""
    import torch

    m = torch.as_tensor(np.asarray(masks, dtype=np.float32))[:, None]
    z = torch.randn(x.shape, generator=generator) * sigma
    return (x + m * z).clamp_(0, 1)


def accuracy(predict: Callable, x, y, batch_size: int = 256) -> float:
    """Share of ``argmax predict(x) == y``; ``predict`` maps (b, 3, H, W) to logits (b, C)."""
    return float((predictions(predict, x, batch_size) == np.asarray(y)).mean())


def predictions(predict: Callable, x, batch_size: int = 256) -> np.ndarray:
    """Predicted class per image, shape (n,), under ``torch.no_grad``."""
    import torch

    with torch.no_grad():
        out = [predict(x[i:i + batch_size]).argmax(1).cpu().numpy()
               for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def core_spurious_accuracy(predict: Callable, x, y, core_masks: np.ndarray,
                           params: RobustnessParams | None = None) -> RobustnessResult:
    """Clean, core and spurious accuracy and RCS of one model.

    Parameters
    ----------
    predict : callable
        Images ``(b, 3, H, W)`` in [0, 1] -> logits ``(b, C)``.
    x : Tensor, float (n, 3, H, W) in [0, 1]
    y : array of int (n,)
    core_masks : bool array (n, H, W)
        True on the core (object) region; dilated by ``params.dilate`` here.
    params : RobustnessParams, optional

    Returns
    -------
    RobustnessResult
    """
    import torch

    p = params or RobustnessParams()
    y = np.asarray(y)
    core_masks = np.asarray(core_masks, dtype=bool)
    if len(x) == 0:
        raise SliceLensError("no images to evaluate robustness on")
    if core_masks.shape != (len(x), *x.shape[-2:]):
        raise SliceLensError(f"core masks have shape {core_masks.shape}, expected "
                             f"({len(x)}, {x.shape[-2]}, {x.shape[-1]})")
    core = dilate_masks(core_masks, p.dilate)
    gen = torch.Generator().manual_seed(p.seed)
    core_t, spur_t = [], []
    for _ in range(p.trials):
        # noise on the spurious region (outside core) -> core accuracy, and vice versa
        core_t.append(accuracy(predict, add_masked_noise(x, ~core, p.sigma, gen), y, p.batch_size))
        spur_t.append(accuracy(predict, add_masked_noise(x, core, p.sigma, gen), y, p.batch_size))
    c, s = float(np.mean(core_t)), float(np.mean(spur_t))
    return RobustnessResult(n=len(y), clean=accuracy(predict, x, y, p.batch_size), core=c,
                            spurious=s, rcs=rcs(c, s), core_trials=core_t, spurious_trials=spur_t)


def attribution_masks(maps: np.ndarray, size: int, threshold: float = 0.5) -> np.ndarray:
    """Binary masks from attribution maps: upsampled, then ``>= threshold * max``.

    Parameters
    ----------
    maps : array (n, m, k)
    size : int
        Image side in pixels.
    threshold : float in (0, 1]

    Returns
    -------
    bool array (n, size, size)
    """
    return relative_maps(maps, size) >= threshold


def relative_maps(maps: np.ndarray, size: int) -> np.ndarray:
    """Maps ``(n, m, k)`` bilinearly upsampled to ``(n, size, size)`` and divided by their max."""
    import torch

    from slicelens.extract.methods import upsample

    up = upsample(torch.as_tensor(np.asarray(maps, dtype=np.float32)), size).clamp_(min=0).numpy()
    peak = up.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, up / np.where(peak > 0, peak, 1), 0.0).astype(np.float32)
