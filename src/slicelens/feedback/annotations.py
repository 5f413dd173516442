"""Marks on slices: core / spurious / wrong labels (AttributionScanner Sec. III-E(2)).

A thin, typed layer over the workspace's :class:`~slicelens.store.db.AnnotationStore`
(SQLite, one transaction per write, full history): a slice mark is an annotation with
``target_type="slice"``, ``target_id`` = the slice id and ``scope`` = the slicer's name, so
marks on slices of different slicers never mix. Every write checks its input first (the
slice exists in the run's slice set, the label is one of :data:`SLICE_LABELS`).

A mark also stores the sample ids of the slice it was made on. When the slices are
recomputed, the mark follows those images to the slice that now holds them, or is
orphaned (in force nowhere) when no slice does; it never moves silently to other images
(:mod:`slicelens.feedback.anchoring`, :func:`resolve_marks`).

Example
-------
>>> ws = Workspace("slicelens-workspace"); run = ws.latest_run()     # doctest: +SKIP
>>> a = annotate_slice(ws, run, "attribution", "attribution-03", "spurious",
...                    "brick background")                             # doctest: +SKIP
>>> slice_marks(ws, run, "attribution")["attribution-03"].label       # doctest: +SKIP
'spurious'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slicelens.errors import DataError
from slicelens.feedback.anchoring import ResolvedMark, resolve
from slicelens.store.db import LABELS, Annotation, Event

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

#: The labels a slice can carry (the store enforces the same set).
SLICE_LABELS: tuple[str, ...] = tuple(sorted(LABELS["slice"] or ()))


def _ws(workspace: Workspace, where: str) -> Workspace:
    """``workspace``, or a TypeError when given a path (only the shells open workspaces)."""
    from slicelens.store.workspace import require_workspace

    return require_workspace(workspace, where)


def annotate_slice(workspace: Workspace, run: Run, slicer: str, slice_id: str, label: str, description: str = "",
                   author: str = "anonymous", idempotency_key: str | None = None) -> Annotation:
    """Mark one slice of ``run``'s ``slicer`` slice set; returns the stored annotation.

    Parameters
    ----------
    workspace : Workspace or path
    run : Run
    slicer : str
        Name of the slice set (``<run>/slices/<slicer>.json`` must exist).
    slice_id : str
        E.g. ``"attribution-03"``; an unknown id is a :class:`SliceLensError` listing ids.
    label : {"core", "spurious", "wrong_labels"}
    description : str
        Free text, e.g. ``"brick background"``.
    author : str
    idempotency_key : str, optional
        A client's retry of the same request with the same key gets the mark the first
        request made, not a second one (the same key with another request: 409).

    Returns
    -------
    Annotation
        With its database id (use it to edit, undo or read the history).
    """
    from slicelens.slicing.base import SliceSet

    if label not in SLICE_LABELS:
        raise DataError(f"label {label!r} is not a slice label; expected one of "
                        f"{', '.join(SLICE_LABELS)}", field="label")
    members = SliceSet.load(run.path, slicer).by_id(slice_id).members
    db = _ws(workspace, "annotate_slice").db
    ann_id = db.add(run.id, "slice", slice_id, label, description, author=author, scope=slicer,
                    members=members.tolist(), idempotency_key=idempotency_key)
    return db.get(ann_id)


def list_marks(workspace: Workspace, run: Run | None = None, slicer: str | None = None,
               include_undone: bool = False) -> list[Annotation]:
    """Slice marks, oldest first; filtered by run and slicer when given."""
    return _ws(workspace, "list_marks").db.list(run_id=run.id if run is not None else None,
                                  target_type="slice", scope=slicer,
                                  include_undone=include_undone)


def marked_slicer(workspace: Workspace | None, run: Run) -> str:
    """The slice set a mark-reading repair uses when none is named (``slicer="auto"``).

    The stored slice set that holds the newest mark in force (a person marked
    ``attribution`` slices, then ran ``slicelens slices`` with the default slicer: the
    repair still reads their marks), else :func:`~slicelens.slicing.runio.preferred_slicer`.

    Examples
    --------
    >>> marked_slicer(ws, run)   # after annotate_slice(ws, run, "attribution", ...)  # doctest: +SKIP
    'attribution'
    """
    from slicelens.slicing.runio import preferred_slicer

    if workspace is None:  # a plan made without a workspace has no marks to read
        return preferred_slicer(run)
    stored = set(run.artifact_names("slices"))
    marks = [m for m in list_marks(workspace, run) if m.scope in stored]
    if marks:
        return max(marks, key=lambda m: (m.updated_at, m.id)).scope
    return preferred_slicer(run)


def edit_mark(workspace: Workspace, annotation_id: int, *, label: str | None = None,
              description: str | None = None, author: str = "anonymous") -> Annotation:
    """Change the label and/or description of a mark (recorded in its history)."""
    db = _ws(workspace, "edit_mark").db
    _slice_annotation(db, annotation_id)
    return db.edit(annotation_id, label=label, description=description, author=author)


def undo_mark(workspace: Workspace, annotation_id: int, author: str = "anonymous") -> Annotation:
    """Withdraw a mark (kept with status ``undone``; :func:`redo_mark` reinstates it)."""
    db = _ws(workspace, "undo_mark").db
    _slice_annotation(db, annotation_id)
    return db.undo(annotation_id, author)


def redo_mark(workspace: Workspace, annotation_id: int, author: str = "anonymous") -> Annotation:
    """Reinstate an undone mark."""
    db = _ws(workspace, "redo_mark").db
    _slice_annotation(db, annotation_id)
    return db.redo(annotation_id, author)


def mark_history(workspace: Workspace, annotation_id: int) -> list[Event]:
    """Every event (create, edit, undo, redo) of one mark, oldest first."""
    db = _ws(workspace, "mark_history").db
    _slice_annotation(db, annotation_id)
    return db.history(annotation_id)


def resolve_marks(workspace: Workspace, run: Run, slicer: str, include_undone: bool = False) -> list[ResolvedMark]:
    """Every slice mark of ``run``'s ``slicer`` resolved onto the stored slice set now.

    Each :class:`~slicelens.feedback.anchoring.ResolvedMark` says which current slice
    holds the images the mark was made on (``slice_id``; None: orphaned), the Jaccard
    ``overlap`` and a ``state``: kept, moved, orphaned or unanchored (an old mark without
    stored members, resolved by id).
    """
    from slicelens.slicing.base import SliceSet

    ws = _ws(workspace, "resolve_marks")
    marks = list_marks(ws, run, slicer, include_undone=include_undone)
    if not marks:
        return []
    return resolve(marks, ws.db.members([a.id for a in marks]), SliceSet.load(run.path, slicer))


def marks_in_force(workspace: Workspace, run: Run, slice_set) -> dict[str, Annotation]:
    """:func:`slice_marks` on a slice set already loaded (the server keeps it cached)."""
    ws = _ws(workspace, "marks_in_force")
    marks = list_marks(ws, run, slice_set.slicer)
    found = [r for r in resolve(marks, ws.db.members([a.id for a in marks]), slice_set)
             if r.slice_id is not None] if marks else []
    found.sort(key=lambda r: (r.annotation.updated_at, r.annotation.id))
    return {r.slice_id: r.annotation for r in found if r.slice_id is not None}


def slice_marks(workspace: Workspace, run: Run, slicer: str) -> dict[str, Annotation]:
    """The mark in force per current slice: slice id -> Annotation.

    Only active marks count, each on the slice that now holds its images
    (:func:`resolve_marks`; orphaned marks are in force nowhere, and the Annotation's
    ``target_id`` stays the slice id it was made on). When a slice carries several, the
    one changed last wins (latest ``updated_at``, then highest id): marking a slice
    again, editing a mark or redoing one is the newest decision about that slice.
    """
    from slicelens.slicing.base import SliceSet

    return marks_in_force(_ws(workspace, "slice_marks"), run, SliceSet.load(run.path, slicer))


def _slice_annotation(db, annotation_id: int) -> Annotation:
    ann = db.get(annotation_id)
    if ann.target_type != "slice":
        raise DataError(f"annotation {annotation_id} is a {ann.target_type} annotation, "
                        "not a slice mark", field="id")
    return ann
