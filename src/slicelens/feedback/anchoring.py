"""Marks follow their images: resolve stored slice marks onto a (recomputed) slice set.

A slice id only means something within one slice set: recomputing slices with another
seed or cluster count renumbers them, so a mark kept by id would silently move to other
images. A mark therefore stores the sample ids of the slice it was made on, and is
resolved to the current slice that holds those images:

    J(M, S) = |M ∩ S| / |M ∪ S|        (Jaccard overlap of mark members M and slice S)

The mark goes to the slice with the highest J (ties: the first slice in slice-set order)
when that J is at least ``min_overlap`` (0.5 by default: the slice shares more than
half of the union with the marked images); otherwise it is **orphaned** and in force
nowhere. Marks stored before members were recorded cannot be followed; they resolve by
slice id and are reported as ``unanchored``.

Example
-------
>>> from slicelens.slicing.base import Slice, SliceSet
>>> import numpy as np
>>> ss = SliceSet("toy", {}, "r", "val", [Slice("toy-0", ["a", "b"]), Slice("toy-1", ["c", "d"])],
...               np.array(["a", "b", "c", "d"]), np.array([0, 0, 1, 1]))
>>> best_slice(["c", "d", "e"], ss)
('toy-1', 0.6666666666666666)
"""

from __future__ import annotations

from dataclasses import dataclass

from slicelens.store.db import Annotation

#: Least Jaccard overlap for a mark to follow its images into a recomputed slice.
MIN_OVERLAP = 0.5


@dataclass(frozen=True)
class ResolvedMark:
    """Where one stored mark stands in the current slice set.

    Attributes
    ----------
    annotation : Annotation
        The stored mark (``target_id`` is the slice id it was made on).
    slice_id : str or None
        The current slice holding its images; None when orphaned.
    overlap : float or None
        Jaccard overlap with that slice (with the best slice when orphaned); None for an
        unanchored mark (no stored members).
    """

    annotation: Annotation
    slice_id: str | None
    overlap: float | None

    @property
    def state(self) -> str:
        """``"kept"`` (same slice id), ``"moved"``, ``"orphaned"`` or ``"unanchored"``."""
        if self.overlap is None:
            return "unanchored" if self.slice_id is not None else "orphaned"
        if self.slice_id is None:
            return "orphaned"
        return "kept" if self.slice_id == self.annotation.target_id else "moved"


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b| (0.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def best_slice(members, slice_set) -> tuple[str | None, float]:
    """The slice of ``slice_set`` with the highest Jaccard overlap with ``members``.

    Returns
    -------
    slice_id : str or None
        None when no slice overlaps at all.
    overlap : float
        In [0, 1].
    """
    return _best(set(map(str, members)), [(s.id, set(s.members.tolist()))
                                          for s in slice_set.slices])


def _best(m: set, slices: list[tuple[str, set]]) -> tuple[str | None, float]:
    best, best_j = None, 0.0
    for sid, members in slices:
        j = jaccard(m, members)
        if j > best_j:
            best, best_j = sid, j
    return best, best_j


def resolve(marks: list[Annotation], members: dict[int, list[str]], slice_set,
            min_overlap: float = MIN_OVERLAP) -> list[ResolvedMark]:
    """Resolve marks onto ``slice_set`` (pure: no I/O).

    Parameters
    ----------
    marks : list of Annotation
        Slice marks of this slice set's slicer.
    members : dict annotation id -> list of str
        The sample ids each mark was made on (marks missing here are unanchored).
    slice_set : SliceSet
    min_overlap : float, default 0.5

    Returns
    -------
    list of ResolvedMark
        In the order of ``marks``.
    """
    known = {s.id for s in slice_set.slices}
    sets = [(s.id, set(s.members.tolist())) for s in slice_set.slices]  # built once
    out = []
    for a in marks:
        if a.id not in members:
            out.append(ResolvedMark(a, a.target_id if a.target_id in known else None, None))
            continue
        sid, j = _best(set(members[a.id]), sets)
        out.append(ResolvedMark(a, sid if sid is not None and j >= min_overlap else None, j))
    return out
