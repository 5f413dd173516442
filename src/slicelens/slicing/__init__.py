"""Slices: the slicer family (:mod:`slicelens.slicing.base`), slice metrics and ranking
(:mod:`~slicelens.slicing.metrics`), the 2-D layout (:mod:`~slicelens.slicing.layout`),
AttributionScanner's consistency measures (:mod:`~slicelens.slicing.consistency`) and
the slicers in ``slicer_*.py`` (``SLICER_FAMILY`` imports every module of this package on
first use by ``get_slicer``)."""

from slicelens.slicing.base import (
    SLICER_FAMILY,
    SLICERS,
    Slice,
    Slicer,
    SliceSet,
    get_slicer,
    register_slicer,
)
from slicelens.slicing.metrics import slice_metrics, wilson_interval

__all__ = ["SLICERS", "SLICER_FAMILY", "Slice", "SliceSet", "Slicer", "get_slicer", "register_slicer",
           "slice_metrics", "wilson_interval"]
