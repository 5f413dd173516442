"""Attributes of the explained region against the rest of the image (``region-stats``).

An offline tagger that uses what no text-image model is needed for: the attribution map
``M`` of the run (AttributionScanner Eq. 1, stored as ``maps``) says *where* the model
looks. Upsampled bilinearly to the image, its highest cells holding ``mass`` (0.5) of
its total form the **explained region** ``E``; the other pixels are the **rest** ``R``.
Per image:

=======================  =====================================================  ===========
measure                  statistic                                              values
=======================  =====================================================  ===========
``explained_colour``     dominant named colour (``PALETTE``) of ``E``           the colours
``rest_colour``          dominant named colour of ``R``                         the colours
``looks_at``             share of ``M``'s mass on the saliency foreground        3 quantiles
                         (:func:`~slicelens.attributes.assign_stats.foreground`)
``brightness_contrast``  mean luma of ``E`` minus mean luma of ``R``            3 quantiles
``texture_contrast``     mean gradient magnitude of ``E`` minus that of ``R``   3 quantiles
=======================  =====================================================  ===========

Continuous measures are cut into quantile bins with scores as in the ``stats`` backend
(:func:`~slicelens.attributes.assign_stats.quantile_bins`); colour scores are the
dominant colour's share of the region. Under a spurious correlation the model's
explained region lies on the background, so ``looks_at`` and ``explained_colour`` name
the cue the model uses, while ``rest_colour`` names what it ignores. Not in HiBug (whose
attributes come from BLIP); it is the "image statistics per region" part of issue 13.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from slicelens.attributes.assign_stats import (
    PALETTE,
    colour_index,
    foreground,
    quantile_bins,
    upsample,
)
from slicelens.attributes.base import Attribute, Backend, register_assigner
from slicelens.attributes.matrix import AttributeMatrix, from_codes

if TYPE_CHECKING:
    from slicelens.store.run import Run

REGION_MEASURES = ("explained_colour", "rest_colour", "looks_at", "brightness_contrast",
                   "texture_contrast")
COLOURS = ("explained_colour", "rest_colour")


def region_attributes() -> list[Attribute]:
    """The explained-region attributes, bound to the ``region-stats`` backend."""
    b = "region-stats"
    return [
        Attribute("explained colour", backend=b, measure="explained_colour",
                  phrase="where the model looks at {value}"),
        Attribute("background colour outside the explained region", backend=b,
                  measure="rest_colour", phrase="on {value} background"),
        Attribute("model looks at", ["the background", "object and background", "the object"],
                  backend=b, measure="looks_at", phrase="where the model looks at {value}"),
        Attribute("explained brightness", ["darker than the rest", "as bright as the rest",
                                           "brighter than the rest"],
                  backend=b, measure="brightness_contrast", phrase="with a region {value}"),
        Attribute("explained texture", ["smoother than the rest", "as textured as the rest",
                                        "more textured than the rest"],
                  backend=b, measure="texture_contrast", phrase="with a region {value}"),
    ]


def explained_mask(maps: np.ndarray, h: int, w: int, mass: float) -> np.ndarray:
    """bool (b, h, w): the highest pixels of each upsampled map holding ``mass`` of it.

    >>> m = np.zeros((1, 2, 2)); m[0, 0, 0] = 1
    >>> explained_mask(m, 2, 2, 0.5)[0].tolist()
    [[True, False], [False, False]]
    """
    u = np.clip(upsample(maps, h, w).reshape(len(maps), -1), 0, None).astype(np.float64)
    u = u / np.maximum(u.sum(1, keepdims=True), 1e-12)
    srt = -np.sort(-u, axis=1)
    k = np.minimum((np.cumsum(srt, 1) < mass).sum(1), u.shape[1] - 1)
    thr = srt[np.arange(len(u)), k]
    return (u >= thr[:, None]).reshape(len(maps), h, w)


def region_measures(images: np.ndarray, maps: np.ndarray, mass: float = 0.5) -> dict:
    """Every region measure of a batch: uint8 images (b, H, W, 3), maps (b, m, k).

    Returns dict measure -> array (b,): palette index for the colours (and their shares
    under ``<measure>_share``), floats otherwise.
    """
    x = images.astype(np.float32) / 255.0
    b, h, w, _ = x.shape
    luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
    gy, gx = np.gradient(luma, axis=(1, 2))
    grad = np.hypot(gx, gy)
    lab, names = colour_index(images)
    fg = foreground(lab)
    e = explained_mask(maps, h, w, mass)
    r = ~e
    u = np.clip(upsample(maps, h, w), 0, None)

    def mean(v, mask):
        return (v * mask).sum((1, 2)) / np.maximum(mask.sum((1, 2)), 1)

    out = {"looks_at": (u * fg).sum((1, 2)) / np.maximum(u.sum((1, 2)), 1e-12),
           "brightness_contrast": mean(luma, e) - mean(luma, r),
           "texture_contrast": mean(grad, e) - mean(grad, r)}
    for key, mask in (("explained_colour", e), ("rest_colour", r)):
        counts = np.stack([np.bincount(names[i][mask[i]], minlength=len(PALETTE))
                           for i in range(b)])
        out[key] = counts.argmax(1)
        out[key + "_share"] = counts.max(1) / np.maximum(mask.sum((1, 2)), 1)
    return out


@register_assigner("region-stats")
class RegionStatsAssigner(Backend):
    """Image statistics of the explained region against the rest (offline, no model)."""

    requires = ("maps",)

    p: Params  # the validated parameters (set in __init__)

    class Params(BaseModel):
        image_size: int | None = Field(
            None, ge=8, le=1024,
            description="side the images are measured at (default: native, at most 64)")
        batch_size: int = Field(256, ge=1, description="images per batch")
        mass: float = Field(0.5, gt=0, lt=1,
                            description="share of the attribution map the explained region holds")

    def supports(self, attribute: Attribute) -> bool:
        return attribute.measure in REGION_MEASURES

    def assign(self, run: Run, attributes: list[Attribute], dataset, rows: np.ndarray) -> AttributeMatrix:
        """Measure ``attributes`` for the run's samples ``rows`` (positions in ``run.samples``)."""
        from slicelens.utils import progress

        self.check_supported(attributes, REGION_MEASURES)
        ids = run.samples["id"].to_numpy(str)[rows]
        ds_rows = dataset.index_of(ids)
        maps = run.array("maps")
        size = self.p.image_size or min(64, dataset.load_uint8(ds_rows[:1]).shape[1])
        parts: dict[str, list] = {}
        bs = self.p.batch_size
        for s in progress(range(0, len(rows), bs), desc="explained-region statistics"):
            imgs = dataset.load_uint8(ds_rows[s:s + bs], size)
            m = np.asarray(maps[rows[s:s + bs]], np.float32)
            for k, v in region_measures(imgs, m, self.p.mass).items():
                parts.setdefault(k, []).append(v)
        meas = {k: np.concatenate(v) for k, v in parts.items()}
        return AttributeMatrix.concat([self._values(a, ids, meas) for a in attributes])

    @staticmethod
    def _values(a: Attribute, ids, meas) -> AttributeMatrix:
        if a.measure in COLOURS:
            names = list(PALETTE)
            used = sorted(set(meas[a.measure].tolist()))
            code = np.searchsorted(used, meas[a.measure])
            return from_codes(ids, a.name, [names[i] for i in used], code,
                              meas[a.measure + "_share"])
        values = a.values or ["low", "medium", "high"]
        code, score = quantile_bins(meas[a.measure], len(values))
        return from_codes(ids, a.name, values, code, score)
