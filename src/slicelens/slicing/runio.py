"""The slice sets stored with a run and their per-sample assignments.

Files under the run directory::

    slices/<slicer>.json|.npz     the SliceSet (:meth:`SliceSet.save`)
    slices/<slicer>.assign.npz    slice index of every sample of the run (all splits)

The part that owns the artifact reads it, so repair strategies and TDA reach it without
importing :mod:`slicelens.pipeline` (``slicelens.pipeline.slices`` re-exports these names
and writes the files in ``find_slices``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from slicelens.errors import WorkspaceError
from slicelens.slicing.base import DEFAULT_SLICER, SliceSet
from slicelens.store.artifacts import ArtifactKind
from slicelens.store.atomic import save_npz

if TYPE_CHECKING:
    from slicelens.store.run import Run

#: ``run.artifact(SLICES, slicer) -> SliceSet``
SLICES: ArtifactKind[SliceSet] = ArtifactKind("slices")
#: ``run.artifact(ASSIGNMENTS, slicer) -> {split: slice index per sample}``
ASSIGNMENTS: ArtifactKind[dict[str, np.ndarray]] = ArtifactKind("assignments")


def preferred_slicer(run: Run) -> str:
    """The slice set a command reads when none is named.

    The default slicer's if it is stored, else the paper's ``attribution`` slicer's (what
    the demo and earlier versions made), else the most recently written one other than
    ``custom`` and the training-label check's ``wrong-labels`` (written beside every
    ``slicelens slices``; read only when nothing else is stored), else
    :data:`~slicelens.slicing.base.DEFAULT_SLICER` (so the reader's
    "no stored slices" error names the command to run).
    """
    stored = run.artifact_names("slices")
    for name in (DEFAULT_SLICER, "attribution"):
        if name in stored:
            return name
    others = [s for s in stored if s not in ("custom", "wrong-labels")] or [
        s for s in stored if s == "wrong-labels"]
    if others:
        return max(others, key=lambda s: run.artifact_path("slices", s).stat().st_mtime)
    return stored[0] if stored else DEFAULT_SLICER


@SLICES.reader
def load_slices(run: Run, slicer: str) -> SliceSet:
    """The slice set ``find_slices`` saved for ``slicer`` (WorkspaceError if none)."""
    return SliceSet.load(run.path, slicer)


@ASSIGNMENTS.reader
def _assignments(run: Run, slicer: str) -> dict[str, np.ndarray]:
    return _assign_all(run, slicer)


def assign_all(run: Run, slice_set: SliceSet) -> dict[str, np.ndarray]:
    """Slice index of every sample, per split.

    Returns
    -------
    dict split -> int array (n_split,)
        In the order of ``run.samples``; -1 = in no slice.
    """
    return _assign_all(run, slice_set.slicer)


def _assign_all(run: Run, slicer: str) -> dict[str, np.ndarray]:
    path = assign_path(run, slicer)
    if not path.exists():
        raise WorkspaceError(f"no assignments for {slicer!r} in {run.path}; run "
                             f"`slicelens slices --slicer {slicer}` again")
    with np.load(path) as z:
        ids, labels = z["ids"], z["labels"]
    samples = run.samples
    if not np.array_equal(ids, samples["id"].to_numpy(str)):
        raise WorkspaceError(f"{path} does not match the run's samples; find the slices again")
    splits = samples["split"].to_numpy()
    return {s: labels[splits == s] for s in samples["split"].unique()}


def assign_path(run: Run, slicer: str) -> Path:
    """``<run>/slices/<slicer>.assign.npz``."""
    return run.artifact_path("assignments", slicer)


def save_assignments(run: Run, slice_set: SliceSet, samples, assigned: np.ndarray) -> None:
    """Store the slice index of every sample of ``samples`` (the run's rows, in order)."""
    save_npz(assign_path(run, slice_set.slicer), ids=samples["id"].to_numpy(str),
             labels=assigned)
