"""Human marks on slices: create, list, edit, undo / redo, history (who, what, when).

Routes call ``slicelens.feedback`` (the same functions as the CLI and notebooks). A mark
is committed to SQLite (synchronous commit) before the response is sent, so a client
that shows a mark only after the response never shows one that is not on disk.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query

from slicelens.server.deps import NAME, CallerDep, RunDep, StateDep, author_or_default
from slicelens.server.schemas import (
    AnnotationEditIn,
    AnnotationIn,
    AnnotationOut,
    AuthorIn,
    EventOut,
)
from slicelens.server.views import annotation_out

router = APIRouter(tags=["annotations"])
AnnId = Annotated[int, Path(ge=1, le=2**62)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


@router.get("/runs/{run_id}/annotations", response_model=list[AnnotationOut])
def list_annotations(rd: RunDep, state: StateDep,
                     slicer: Annotated[str | None, Query(pattern=NAME, max_length=100)] = None,
                     include_undone: bool = False) -> list[AnnotationOut]:
    """Slice marks of a run (optionally of one slice set), oldest first, each with the
    current slice holding its images (``slice_now``) and ``anchor`` (kept, moved,
    orphaned, unanchored)."""
    from slicelens.feedback import list_marks, resolve_marks

    marks = list_marks(state.workspace, rd.run, slicer, include_undone)
    where: dict[int, Any] = {}
    for scope in sorted({a.scope for a in marks} & set(state.stored_slicers(rd.run.id))):
        where.update((r.annotation.id, r) for r in
                     resolve_marks(state.workspace, rd.run, scope, include_undone))
    return [annotation_out(a, where.get(a.id)) for a in marks]


@router.post("/runs/{run_id}/annotations", response_model=AnnotationOut, status_code=201)
def create_annotation(body: AnnotationIn, rd: RunDep, state: StateDep, caller: CallerDep,
                      idempotency_key: IdemKey = None) -> AnnotationOut:
    """Mark a slice core / spurious / wrong labels (``slicelens.feedback.annotate_slice``).

    With an ``Idempotency-Key`` header, a retry of the same request returns the mark the
    first one made (no duplicate); the same key with another request is 409."""
    from slicelens.feedback import annotate_slice

    ann = annotate_slice(state.workspace, rd.run, body.slicer, body.slice_id, body.label,
                         description=body.description,
                         author=author_or_default(state, body.author, caller),
                         idempotency_key=idempotency_key)
    return annotation_out(ann)


def _require(state, ann_id: int, status: str) -> None:
    have = state.workspace.db.get(ann_id).status
    if have != status:
        raise HTTPException(409, f"annotation {ann_id} is {have}, not {status}")


@router.patch("/annotations/{ann_id}", response_model=AnnotationOut)
def edit_annotation(ann_id: AnnId, body: AnnotationEditIn, state: StateDep,
                    caller: CallerDep) -> AnnotationOut:
    """Change a mark's label and/or description (kept in its history)."""
    from slicelens.feedback import edit_mark

    _require(state, ann_id, "active")
    return annotation_out(edit_mark(state.workspace, ann_id, label=body.label,
                                    description=body.description,
                                    author=author_or_default(state, body.author, caller)))


@router.post("/annotations/{ann_id}/undo", response_model=AnnotationOut)
def undo_annotation(ann_id: AnnId, body: AuthorIn, state: StateDep,
                    caller: CallerDep) -> AnnotationOut:
    """Withdraw a mark (it stays in the database with status ``undone``)."""
    from slicelens.feedback import undo_mark

    _require(state, ann_id, "active")
    author = author_or_default(state, body.author, caller)
    return annotation_out(undo_mark(state.workspace, ann_id, author))


@router.post("/annotations/{ann_id}/redo", response_model=AnnotationOut)
def redo_annotation(ann_id: AnnId, body: AuthorIn, state: StateDep,
                    caller: CallerDep) -> AnnotationOut:
    """Reinstate an undone mark."""
    from slicelens.feedback import redo_mark

    _require(state, ann_id, "undone")
    author = author_or_default(state, body.author, caller)
    return annotation_out(redo_mark(state.workspace, ann_id, author))


@router.get("/annotations/{ann_id}/history", response_model=list[EventOut])
def annotation_history(ann_id: AnnId, state: StateDep) -> list[EventOut]:
    """Every change of a mark: create, edit, undo, redo, with author and time."""
    from slicelens.feedback import mark_history

    return [EventOut.of(e)
            for e in mark_history(state.workspace, ann_id)]
