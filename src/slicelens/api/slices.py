"""A run's slices as Python objects: a table of slices, and each slice's samples.

Example
-------
>>> run = sl.Workspace("slicelens-workspace").run()          # doctest: +SKIP
>>> slices = run.slices("attribution")                       # doctest: +SKIP
>>> slices.to_dataframe().head(3)                            # doctest: +SKIP
>>> slices["attribution-03"].samples()                       # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.slicing.base import SliceSet
    from slicelens.store.run import Run


class SliceView:
    """One slice of a run: its id, words, metrics and members.

    Attributes
    ----------
    id : str
    description : str
    metrics : dict
        Size, accuracy with its Wilson 95% interval, confidence, loss, confusion, and the
        same per split under ``metrics["by_split"]``.
    bug_type : str or None
    """

    def __init__(self, slices: Slices, index: int):
        self._slices, self.rank = slices, index
        self._slice = slices.slice_set.slices[index]
        self.id = self._slice.id
        self.description = self._slice.description
        self.metrics = self._slice.metrics
        self.bug_type = self._slice.bug_type

    def __repr__(self) -> str:
        m = self.metrics
        acc = m.get("accuracy")
        return (f"<slice {self.id}: {self._slice.size} samples, accuracy "
                f"{acc if acc is None else round(acc, 3)}, {self.description!r}>")

    @property
    def members(self) -> np.ndarray:
        """Sample ids of the members on the split the slices were learned on."""
        return self._slice.members

    def samples(self, split: str | None = None) -> pd.DataFrame:
        """The slice's samples, hardest first (highest loss).

        Parameters
        ----------
        split : str, optional
            Default: the split the slices were learned on (its members); another split
            gives the samples assigned to this slice there.

        Returns
        -------
        DataFrame with ``id, path, split, label, pred, confidence, loss, correct`` (class
        names), then the integer ``label_index`` / ``pred_index``.
        """
        from slicelens.api.frames import sample_frame

        run = self._slices.run
        ids = run.samples["id"].astype(str).to_numpy()
        if split is None or split == self._slices.slice_set.split:
            rows = np.flatnonzero(np.isin(ids, self.members))
        else:
            from slicelens.pipeline.slices import assign_all

            assigned = assign_all(run, self._slices.slice_set)
            if split not in assigned:
                raise SliceLensError(f"run {run.id} has no split {split!r}; it has "
                                     f"{', '.join(map(str, assigned))}")
            in_split = np.flatnonzero(run.samples["split"].to_numpy() == split)
            rows = in_split[assigned[split] == self.rank]
        frame = sample_frame(run, rows)
        return frame.sort_values("loss", ascending=False, kind="stable",
                                 na_position="last").reset_index(drop=True)


class Slices:
    """The slice set of one slicer on one run, ranked (index 0 = most problematic).

    Index by slice id (``slices["attribution-03"]``) or rank (``slices[0]``); iterate
    for :class:`SliceView` objects; :meth:`to_dataframe` gives one row per slice.
    """

    def __init__(self, run: Run, slice_set: SliceSet):
        self.run, self.slice_set = run, slice_set
        self.slicer = slice_set.slicer

    def __repr__(self) -> str:
        return (f"<{len(self)} {self.slicer} slices of run {self.run.id}, learned on "
                f"{self.slice_set.split!r}>")

    def __len__(self) -> int:
        return len(self.slice_set.slices)

    def __iter__(self):
        return (SliceView(self, i) for i in range(len(self)))

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.slice_set.slices]

    def __getitem__(self, key) -> SliceView:
        if isinstance(key, int | np.integer):
            if not -len(self) <= key < len(self):
                raise SliceLensError(f"slice rank {key} out of range (0..{len(self) - 1})")
            return SliceView(self, int(key) % len(self))
        key = str(key)
        if ":" in key:
            slicer, key = key.split(":", 1)
            if slicer != self.slicer:
                raise SliceLensError(f"{slicer!r} is not this slice set ({self.slicer!r})")
        if key not in self.ids:
            raise SliceLensError(f"no slice {key!r} in {self.slicer} slices of run "
                                 f"{self.run.id}; ids: {', '.join(self.ids[:12])}"
                                 + (" ..." if len(self) > 12 else ""))
        return SliceView(self, self.ids.index(key))

    def to_dataframe(self) -> pd.DataFrame:
        """One row per slice: rank, slice, size, accuracy, its Wilson 95% interval
        (``acc_low``, ``acc_high``), errors, confidence, loss, confusion in class names,
        bug type, description and the mark in force (core / spurious / wrong_labels)."""
        from slicelens.api.frames import slice_frame
        from slicelens.api.marks import marks_in_force

        return slice_frame(self.slice_set, marks_in_force(self.run, self.slicer))

    def _repr_html_(self) -> str:  # a notebook shows the table
        return self.to_dataframe()._repr_html_()
