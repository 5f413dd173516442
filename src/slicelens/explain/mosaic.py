"""Attribution Mosaic: one feature-inversion image per slice (AttributionScanner Sec. III-E).

Eq. 2 of the paper::

    x* = argmin_{x in M}  l(phi(x), phi_0) + lambda R(x)

* ``phi_0`` is the slice's mean attribution-weighted feature vector F_W (Eq. 1);
* ``phi(x) = sum_ij A(x)[:, i, j] * W_bar[i, j]``: the explained layer's activation
  (``adapter.forward_parts``) pooled with the slice's mean attribution map ``W_bar``
  (the members' stored maps averaged, renormalised to sum 1). That is F_W with the map
  held at the slice's own, so ``phi`` lives in the space of ``phi_0``; recomputing the
  map of ``x`` at every step would let the target move with the image and, for GradCAM
  models, need second-order gradients;
* ``l`` is the squared Euclidean loss, divided by ``||phi_0||^2`` so that one
  ``tv_weight`` suits every slice and model (departure: the paper's loss is unscaled);
* ``R`` is the anisotropic total variation (mean absolute difference of neighbouring
  pixels), weight ``tv_weight`` (the paper's lambda).

As the paper says, the image is initialised with the slice's mean image (its most typical
``max_images`` members), parameterised in Fourier space (learnable ``rfft2``
coefficients scaled by ``1 / frequency`` as in Olah et al.'s "Feature Visualization",
decoded with ``irfft2``; no colour decorrelation), and only the pixels inside the
slice's hull-shaped mask ``M`` change: ``x = clamp(M * decode(z) + (1 - M) * x_0, 0, 1)``,
so everything outside the mask stays the mean image exactly. The image is square
(``size`` px, the model's input); the hull is stretched to fill it and the tile is
stretched back to the hull's bounding box when the mosaic is drawn. All slices are
optimised together as one batch (Adam), which is what makes 50 slices cheap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field

from slicelens.extract.extractor import weighted_features
from slicelens.utils import progress

if TYPE_CHECKING:
    from slicelens.store.run import Run

SUPERSAMPLE = 4  # hull masks are drawn 4x larger and averaged down: soft, anti-aliased edges


class MosaicParams(BaseModel):
    """Parameters of the feature inversion and of the composed mosaic."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(150, ge=1, description="optimisation steps")
    lr: float = Field(0.002, gt=0, description="Adam learning rate on the Fourier coefficients")
    tv_weight: float = Field(0.5, ge=0, description="weight lambda of the total variation term")
    size: int | None = Field(None, ge=8, le=512,
                             description="tile side in pixels (default: the model's input size)")
    max_images: int = Field(64, ge=1, description="members averaged for the initial image")
    canvas: int = Field(1024, ge=128, le=8192, description="side of the composed mosaic in pixels")


@dataclass
class Inversion:
    """Result of :func:`invert`: images ``(B, S, S, 3)`` float32 in [0, 1], the initial
    images and masks (same shapes, masks ``(B, S, S)``), the summed loss per step
    ``(steps,)``, and the wall-clock seconds of the optimisation."""

    images: np.ndarray
    init: np.ndarray
    masks: np.ndarray
    history: np.ndarray
    seconds: float

    def save_tiles(self, out_dir, names: list[str]) -> list[Path]:
        """Write one RGBA PNG per slice (alpha = hull mask) as ``<out_dir>/<name>.png``."""
        from slicelens.store.atomic import atomic_open

        out_dir = Path(out_dir)
        paths = []
        for img, mask, name in zip(self.images, self.masks, names, strict=True):
            rgba = np.dstack([img, mask[..., None]])
            path = out_dir / f"{name}.png"
            with atomic_open(path) as f:
                Image.fromarray(np.round(255 * rgba).astype(np.uint8), "RGBA").save(f, "PNG")
            paths.append(path)
        return paths


@dataclass
class MosaicResult:
    """What :func:`slicelens.pipeline.slices.make_mosaic` drew: one tile per slice, the
    composed mosaic, the inversion's loss per step and its wall-clock seconds."""

    tiles: list[Path]
    mosaic: Path
    history: np.ndarray
    seconds: float


def hull_mask(polygon, size: int) -> np.ndarray:
    """The polygon stretched to fill a ``size x size`` square, as a soft mask.

    Parameters
    ----------
    polygon : sequence of [x, y], at least 3 vertices
    size : int

    Returns
    -------
    ndarray, shape (size, size), float32 in [0, 1] (1 inside). Row 0 is the polygon's
    largest y (image rows grow downwards).
    """
    pts = np.asarray(polygon, np.float64)
    lo, span = pts.min(0), np.maximum(np.ptp(pts, 0), 1e-12)
    big = size * SUPERSAMPLE
    xy = (pts - lo) / span * (big - 1)
    xy[:, 1] = big - 1 - xy[:, 1]
    canvas = Image.new("L", (big, big), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in xy], fill=255)
    m = np.asarray(canvas, np.float32).reshape(size, SUPERSAMPLE, size, SUPERSAMPLE)
    return m.mean(axis=(1, 3)) / 255.0


def _fourier_scale(size: int) -> torch.Tensor:
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    return 1.0 / torch.sqrt(fx ** 2 + fy ** 2).clamp_min(1.0 / size)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic TV per image: mean |vertical| + mean |horizontal| differences.

    x : Tensor (B, 3, H, W) -> Tensor (B,)
    """
    dv = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean(dim=(1, 2, 3))
    dh = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean(dim=(1, 2, 3))
    return dv + dh


def invert(adapter, init: torch.Tensor, masks: torch.Tensor, targets: torch.Tensor,
           maps: torch.Tensor, params: MosaicParams) -> Inversion:
    """Batched feature inversion (Eq. 2) of ``B`` targets.

    Parameters
    ----------
    adapter : ModelAdapter
    init : Tensor, shape (B, 3, S, S), in [0, 1]
        Initial images (the slices' mean images).
    masks : Tensor, shape (B, S, S), in [0, 1]
        Where pixels may change (the hull masks).
    targets : Tensor, shape (B, d)
        ``phi_0``: the slices' mean F_W.
    maps : Tensor, shape (B, m, k)
        The slices' mean attribution maps (resized to the layer's grid when it differs).
    params : MosaicParams

    Returns
    -------
    Inversion
    """
    S = init.shape[-1]
    scale = _fourier_scale(S)
    z = (torch.fft.rfft2(init, norm="ortho") / scale)
    z = torch.view_as_real(z).clone().requires_grad_(True)
    m = masks[:, None].to(init.dtype)
    target_norm = targets.pow(2).sum(1).clamp_min(1e-12)
    opt = torch.optim.Adam([z], lr=params.lr)
    history = np.empty(params.steps)
    weights = None
    t0 = time.perf_counter()

    def decode(z):
        free = torch.fft.irfft2(torch.view_as_complex(z) * scale, s=(S, S), norm="ortho")
        return (m * free + (1 - m) * init).clamp(0, 1)

    for step in progress(range(params.steps), desc="mosaic"):
        x = decode(z)
        A, _ = adapter.forward_parts(x)
        if weights is None:
            weights = _fit_maps(maps, A.shape[-2:]).to(A.device)
        phi = weighted_features(A, weights)
        loss = ((phi - targets).pow(2).sum(1) / target_norm + params.tv_weight * total_variation(x))
        total = loss.sum()
        (grad,) = torch.autograd.grad(total, [z])  # no .grad left on the user's model
        z.grad = grad
        opt.step()
        history[step] = float(total.detach())
    with torch.no_grad():
        out = decode(z)
    return Inversion(_hwc(out), _hwc(init), masks.numpy().astype(np.float32), history,
                     time.perf_counter() - t0)


def _fit_maps(maps: torch.Tensor, grid) -> torch.Tensor:
    """Maps resized (bilinear) to the layer's ``grid`` and renormalised to sum 1."""
    if tuple(maps.shape[-2:]) != tuple(grid):
        maps = F.interpolate(maps[:, None].float(), size=tuple(grid), mode="bilinear",
                             align_corners=False)[:, 0]
    return maps / maps.sum(dim=(1, 2), keepdim=True).clamp_min(1e-12)


def _hwc(x: torch.Tensor) -> np.ndarray:
    return x.detach().permute(0, 2, 3, 1).cpu().numpy().astype(np.float32)


def invert_slices(run: Run, slice_set, params: MosaicParams) -> Inversion:
    """Gather each slice's mean image, mean F_W, mean map and hull mask; run :func:`invert`.

    Parameters
    ----------
    run : Run
        Its dataset and model are reloaded (``run.dataset()``, ``run.adapter()``).
    slice_set : SliceSet
        With a polygon per slice.
    params : MosaicParams
    """
    adapter = run.adapter()
    ds = run.dataset()
    size = params.size or adapter.input_size
    ids = run.samples["id"].to_numpy(str)
    row_of = {sid: i for i, sid in enumerate(ids)}
    fw, maps = run.array("fw"), run.array("maps")
    init, targets, mean_maps, masks = [], [], [], []
    for s in progress(slice_set.slices, desc="slice means"):
        rows = np.array([row_of[m] for m in s.members])
        typical = ds.index_of(s.members[: params.max_images])
        init.append(ds.load(typical, size).mean(0))
        targets.append(np.asarray(fw[np.sort(rows)], np.float64).mean(0))
        mean_maps.append(np.asarray(maps[np.sort(rows)], np.float64).mean(0))
        masks.append(hull_mask(s.polygon, size))
    return invert(adapter, torch.stack(init), torch.from_numpy(np.stack(masks)),
                  torch.tensor(np.stack(targets), dtype=torch.float32),
                  torch.tensor(np.stack(mean_maps), dtype=torch.float32), params)
