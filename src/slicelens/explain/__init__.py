"""Explain slices: the Attribution Mosaic (feature inversion per slice, composed on the
slices' 2-D layout). Slice metrics live in :mod:`slicelens.slicing.metrics`."""

from slicelens.explain.draw import draw_mosaic
from slicelens.explain.mosaic import (
    Inversion,
    MosaicParams,
    MosaicResult,
    hull_mask,
    invert,
    invert_slices,
)

__all__ = ["Inversion", "MosaicParams", "MosaicResult", "draw_mosaic", "hull_mask", "invert",
           "invert_slices"]
