"""User-defined slices: a lasso selection in the scatter saved as a slice.

They are stored as the slice set ``custom`` of the run (``<run>/slices/custom.json``),
sharing the 2-D layout of the slice set they were drawn on, so every view (table,
scatter, mosaic, detail, annotation, propagation) treats them like any other slice.
Metrics come from ``slicelens.slicing.metrics.slice_metrics``; the hull from SciPy.
The web app's ``POST .../slicesets/{slicer}/custom`` route only calls
:func:`save_custom_slice`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from slicelens.errors import DataError
from slicelens.slicing.base import Slice, SliceSet

if TYPE_CHECKING:
    from slicelens.store.run import Run

CUSTOM = "custom"
_lock = threading.Lock()


def _hull(points: np.ndarray) -> list[list[float]] | None:
    from scipy.spatial import ConvexHull, QhullError

    if len(points) < 3:
        return None
    try:
        hull = ConvexHull(points)
    except QhullError:  # all points on a line
        return None
    return points[hull.vertices].astype(float).tolist()


def save_custom_slice(run: Run, base: SliceSet, positions, samples, description: str = "") -> Slice:
    """Add the samples at ``positions`` of ``base`` as a new slice of the ``custom`` set.

    Parameters
    ----------
    run : Run
    base : SliceSet
        The slice set whose layout the selection was drawn on.
    positions : sequence of int, shape (k,)
        Positions into ``base.sample_ids`` (the scatter payload's order).
    samples : DataFrame
        The run's sample table (``run.samples``).
    description : str

    Returns
    -------
    Slice
        The new slice, with id ``custom-NN``.
    """
    from slicelens.slicing.metrics import slice_metrics

    pos = np.unique(np.asarray(positions, dtype=np.int64))
    if pos.size == 0 or pos.min() < 0 or pos.max() >= len(base.sample_ids):
        raise DataError(f"selection positions must lie in [0, {len(base.sample_ids)})",
                        field="indices")
    members = base.sample_ids[pos]
    subset = samples[samples["id"].isin(set(members.tolist()))]
    with _lock:
        if run.has_artifact("slices", CUSTOM):
            cs = SliceSet.load(run.path, CUSTOM)
        else:  # the first custom slice: start a set on the base layout
            cs = SliceSet(CUSTOM, {"base": base.slicer}, run.id, base.split, [],
                          base.sample_ids.copy(), np.full(len(base.sample_ids), -1, np.int64),
                          base.layout)
        if len(cs.sample_ids) != len(base.sample_ids) or (cs.sample_ids != base.sample_ids).any():
            raise DataError(f"custom slices of run {run.id} were drawn on another layout "
                            f"({cs.params.get('base')}); draw on that one", field="slicer")
        n = 1 + max((int(s.id.rsplit("-", 1)[-1]) for s in cs.slices), default=0)
        layout = None if base.layout is None else np.asarray(base.layout)[pos]
        sl = Slice(id=f"{CUSTOM}-{n:02d}", members=members,
                   description=description or f"lasso selection of {len(pos)} samples",
                   metrics=slice_metrics(subset, run.classes),
                   polygon=None if layout is None else _hull(layout),
                   evidence={"drawn_on": base.slicer})
        cs.slices.append(sl)
        labels = np.asarray(cs.labels).copy()
        labels[pos] = len(cs.slices) - 1
        cs.labels = labels
        cs.save(run.path)
    return sl
