"""Attribute assignment from image statistics: the offline backend for low-level attributes.

HiBug assigns every attribute by zero-shot classification with BLIP (Sec. 3.1). For
low-level attributes a measurement is cheaper and exact, so this backend measures
instead (a departure from the paper, documented in docs/attributes.md):

========================  ======================================================
measure                   statistic (per image, ``[0, 1]`` RGB)
========================  ======================================================
``brightness``            mean luma ``0.299 R + 0.587 G + 0.114 B``
``contrast``              standard deviation of luma
``saturation``            mean of ``(max - min) / max`` over RGB
``sharpness``             variance of the Laplacian of luma (low = blurred)
``texture``               mean gradient magnitude of the background pixels
``clutter``               share of pixels whose gradient magnitude exceeds 0.1
``object_size``           share of the image covered by the foreground
``position``              centroid of the foreground
``attention_size``        share of the attribution map's cells holding 80% of its mass
``object_colour``         dominant named colour of the foreground
``background_colour``     dominant named colour of the rest
========================  ======================================================

The foreground is the set of pixels far (CIELAB distance, Otsu threshold per image)
from the median colour of the image's border, a saliency heuristic for object-centred
images. Object size and position come from it rather than from the attribution map
because attributes describe the *image*: under a spurious correlation the model looks
at the background, and the map's area then says nothing about the object (on the demo,
``attention_size`` is unrelated to the planted digit scale while ``object_size``
correlates at r = 0.7 and ``position`` at r = 0.99). ``attention_size`` is kept for
"how much of the image the model uses".

Continuous statistics become the attribute's values by quantile bins over the assigned
samples (so "small" means the smallest third *in this dataset*); the score is
``0.5 + 0.5 * min(1, 2 k d)`` with ``d`` the rank distance to the nearest bin edge and
``k`` bins (1 in a bin's middle, 0.5 on an edge). Colour scores are the dominant
colour's share of the pixels; position scores grow with the distance from the centre
threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from slicelens.attributes.base import Attribute, Backend, register_assigner
from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.errors import DataError

if TYPE_CHECKING:
    from slicelens.store.run import Run

# named colours as sRGB anchors; pixels take the nearest anchor in CIELAB
PALETTE = {"black": (20, 20, 20), "grey": (128, 128, 128), "white": (235, 235, 235),
           "red": (200, 40, 40), "orange": (230, 130, 30), "yellow": (225, 210, 50),
           "green": (60, 160, 60), "olive": (110, 120, 40), "cyan": (50, 190, 200),
           "blue": (40, 70, 200), "purple": (120, 50, 160), "pink": (230, 130, 180),
           "brown": (120, 70, 40)}
CONTINUOUS = ("brightness", "contrast", "saturation", "sharpness", "texture", "clutter",
              "object_size", "attention_size")
ASCENDING_VALUES = {"sharpness": False}  # high Laplacian variance = the first value, "sharp"
MEASURES = (*CONTINUOUS, "position", "object_colour", "background_colour")
POSITIONS = ("centre", "left", "right", "top", "bottom")


def measure_batch(images: np.ndarray, maps: np.ndarray) -> dict[str, np.ndarray]:
    """Every statistic for a batch.

    Parameters
    ----------
    images : uint8 (b, H, W, 3)
    maps : float (b, m, k), attribution maps (each summing to 1)

    Returns
    -------
    dict measure -> array: float (b,) for continuous measures, float (b, 2) centroid
    ``(x, y)`` in [0, 1] for ``position``, int (b,) palette index for the colours and
    float (b,) their shares under ``<measure>_share``.
    """
    from scipy import ndimage

    x = images.astype(np.float32) / 255.0
    b, h, w, _ = x.shape
    luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
    gy, gx = np.gradient(luma, axis=(1, 2))
    grad = np.hypot(gx, gy)
    lap = np.stack([ndimage.laplace(v) for v in luma])
    mx, mn = x.max(-1), x.min(-1)
    lab, names = colour_index(images)
    fg = foreground(lab)
    bg = ~fg
    m = maps.reshape(b, -1).astype(np.float64)
    m = m / np.maximum(m.sum(1, keepdims=True), 1e-12)
    cells = (np.cumsum(-np.sort(-m, axis=1), 1) < 0.8).sum(1) + 1
    yy, xx = np.mgrid[0:h, 0:w]
    area = fg.sum((1, 2))
    cent = np.stack([(fg * (xx + 0.5)).sum((1, 2)) / w, (fg * (yy + 0.5)).sum((1, 2)) / h], 1)
    out = {
        "brightness": luma.mean((1, 2)), "contrast": luma.std((1, 2)),
        "saturation": np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0).mean((1, 2)),
        "sharpness": lap.var((1, 2)),
        "texture": (grad * bg).sum((1, 2)) / np.maximum(bg.sum((1, 2)), 1),
        "clutter": (grad > 0.1).mean((1, 2)),
        "object_size": area / (h * w), "position": cent / np.maximum(area, 1)[:, None],
        "attention_size": cells / m.shape[1],
    }
    for key, mask in (("object_colour", fg), ("background_colour", bg)):
        counts = np.stack([np.bincount(names[i][mask[i]], minlength=len(PALETTE))
                           for i in range(b)])
        out[key] = counts.argmax(1)
        out[key + "_share"] = counts.max(1) / np.maximum(mask.sum((1, 2)), 1)
    return out


def foreground(lab: np.ndarray, border: int = 2) -> np.ndarray:
    """Saliency mask: pixels far from the median border colour (Otsu threshold).

    Parameters
    ----------
    lab : float (b, H, W, 3), CIELAB images

    Returns
    -------
    bool (b, H, W); never empty (at least the farthest pixel).
    """
    from skimage.filters import threshold_otsu

    b = len(lab)
    edge = np.concatenate([lab[:, :border].reshape(b, -1, 3), lab[:, -border:].reshape(b, -1, 3),
                           lab[:, :, :border].reshape(b, -1, 3),
                           lab[:, :, -border:].reshape(b, -1, 3)], 1)
    d = np.linalg.norm(lab - np.median(edge, 1)[:, None, None, :], axis=-1)
    masks = np.stack([di > threshold_otsu(di) if np.ptp(di) > 0 else np.zeros_like(di, bool)
                      for di in d])
    for i in np.flatnonzero(~masks.any((1, 2))):
        masks[i].flat[d[i].argmax()] = True
    return masks


def colour_index(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CIELAB pixels float (b, H, W, 3) and the nearest ``PALETTE`` colour, int (b, H, W)."""
    from skimage.color import rgb2lab

    anchors = rgb2lab(np.asarray(list(PALETTE.values()), np.float32)[None] / 255.0)[0]
    anchors = anchors.astype(np.float32)
    lab = rgb2lab(images.astype(np.float32) / 255.0).astype(np.float32)
    # |x - a|^2 = |x|^2 - 2 x.a + |a|^2; |x|^2 does not change the argmin
    d = (anchors ** 2).sum(1) - 2 * lab.reshape(-1, 3) @ anchors.T
    return lab, d.argmin(1).reshape(lab.shape[:-1])


def quantile_bins(x: np.ndarray, k: int, ascending: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Split ``x`` (n,) into ``k`` quantile bins; returns (bin int (n,), score float (n,)).

    Examples
    --------
    >>> quantile_bins(np.array([3.0, 1.0, 2.0]), 3)[0].tolist()
    [2, 0, 1]
    """
    from scipy.stats import rankdata

    r = (rankdata(x if ascending else -np.asarray(x)) - 0.5) / len(x)
    b = np.minimum((r * k).astype(int), k - 1)
    lo = np.where(b > 0, r - b / k, np.inf)
    hi = np.where(b < k - 1, (b + 1) / k - r, np.inf)
    d = np.minimum(lo, hi)
    return b, 0.5 + 0.5 * np.minimum(1.0, 2 * k * d)


def position_values(cent: np.ndarray, centre: float) -> tuple[np.ndarray, np.ndarray]:
    """``POSITIONS`` index and score from centroids ``(n, 2)`` in [0, 1]."""
    d = cent - 0.5
    r = np.abs(d).max(1)
    horiz = np.abs(d[:, 0]) >= np.abs(d[:, 1])
    side = np.where(horiz, np.where(d[:, 0] < 0, 1, 2), np.where(d[:, 1] < 0, 3, 4))
    code = np.where(r < centre, 0, side)
    return code, 0.5 + 0.5 * np.minimum(1.0, np.abs(r - centre) / centre)


@register_assigner("stats")
class StatsAssigner(Backend):
    """Image statistics and attribution-map geometry (offline, no model)."""

    requires = ("maps",)

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        image_size: int | None = Field(
            None, ge=8, le=1024,
            description="side the images are measured at (default: native, at most 64)")
        batch_size: int = Field(256, ge=1, description="images per batch")
        centre: float = Field(0.08, gt=0, lt=0.5,
                              description="centroid offset below which the object is 'centre'")

    def supports(self, attribute: Attribute) -> bool:
        return attribute.measure in MEASURES

    def assign(self, run: Run, attributes: list[Attribute], dataset, rows: np.ndarray) -> AttributeMatrix:
        """Measure ``attributes`` for the run's samples ``rows`` (positions in ``run.samples``)."""
        from slicelens.utils import progress

        self.check_supported(attributes, MEASURES)
        ids = run.samples["id"].to_numpy(str)[rows]
        ds_rows = dataset.index_of(ids)
        maps = run.array("maps")
        parts: dict[str, list] = {}
        bs = self.p.batch_size
        size = self.p.image_size or min(64, dataset.load_uint8(ds_rows[:1]).shape[1])
        for s in progress(range(0, len(rows), bs), desc="image statistics"):
            imgs = dataset.load_uint8(ds_rows[s:s + bs], size)
            for k, v in measure_batch(imgs, np.asarray(maps[rows[s:s + bs]], np.float32)).items():
                parts.setdefault(k, []).append(v)
        meas = {k: np.concatenate(v) for k, v in parts.items()}
        return AttributeMatrix.concat([self._values(a, ids, meas) for a in attributes])

    def _values(self, a: Attribute, ids, meas) -> AttributeMatrix:
        if a.measure == "position":
            code, score = position_values(meas["position"], self.p.centre)
            values = a.values or list(POSITIONS)
            if len(values) != len(POSITIONS):
                raise DataError(f"attribute {a.name!r}: position takes 5 values "
                                f"{POSITIONS} (renamed as you like)", field="values")
            return from_codes(ids, a.name, values, code, score)
        if a.measure in ("object_colour", "background_colour"):
            names = list(PALETTE)
            used = sorted(set(meas[a.measure].tolist()))
            values = [names[i] for i in used]
            code = np.searchsorted(used, meas[a.measure])
            return from_codes(ids, a.name, values, code, meas[a.measure + "_share"])
        values = a.values or ["low", "medium", "high"]
        code, score = quantile_bins(meas[a.measure], len(values),
                                    ASCENDING_VALUES.get(a.measure or "", True))
        return from_codes(ids, a.name, values, code, score)


def region_images(images: np.ndarray, region: str) -> np.ndarray:
    """The part of each image an image-model backend should look at.

    Parameters
    ----------
    images : uint8 (b, H, W, 3)
    region : "image", "background" (foreground pixels replaced by the median border
        colour) or "object" (the foreground's bounding box, resized back to H x W)

    Returns
    -------
    uint8 (b, H, W, 3)
    """
    if region == "image":
        return images
    from PIL import Image

    lab, _ = colour_index(images)
    fg = foreground(lab)
    out = images.copy()
    h, w = images.shape[1:3]
    for i in range(len(images)):
        if region == "background":
            edge = np.concatenate([images[i, :2].reshape(-1, 3), images[i, -2:].reshape(-1, 3),
                                   images[i, :, :2].reshape(-1, 3), images[i, :, -2:].reshape(-1, 3)])
            out[i][fg[i]] = np.median(edge, 0).astype(np.uint8)
        else:
            ys, xs = np.nonzero(fg[i])
            crop = images[i, ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            out[i] = np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR))
    return out


def upsample(maps: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear upsampling of maps float (b, m, k) to (b, h, w)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    t = torch.from_numpy(np.asarray(maps, np.float32))[:, None]
    return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[:, 0].numpy()
