"""AACA concept annotation (docs/concepts.md): seed images, their uncertain saliency, and
answers (confounded / valid concepts) stored like slice marks.

Routes call ``slicelens.pipeline.concepts`` / ``slicelens.concepts`` (the same functions
as the CLI). An answer is committed to SQLite before the response is sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from slicelens.concepts.answers import ConceptAnswer
from slicelens.pipeline.alignment_types import Alignment, ClassFigures, Figures, RepairAlignment
from slicelens.pipeline.concepts import Seed
from slicelens.server.deps import CallerDep, RunDep, StateDep, author_or_default
from slicelens.server.derive import View, derived_from
from slicelens.server.routers.samples import PNG, SampleId, Size
from slicelens.server.schemas import AuthorIn

router = APIRouter(tags=["concepts"])


@derived_from(Seed)
class SeedOut(View):
    """A seed image (``slicelens.pipeline.concepts.Seed``)."""


class ConceptAnswerIn(BaseModel):
    image_id: str = Field(min_length=1, max_length=1000)
    confounded: str = Field("", max_length=2000, description="';'-separated concepts")
    valid: str = Field("", max_length=2000, description="';'-separated concepts")
    seconds: float | None = Field(None, ge=0)
    author: str = Field("", max_length=200)


@derived_from(ConceptAnswer, rename={"worker": "author"},
              order=("id", "image_id", "label", "author", "confounded", "valid", "seconds",
                     "status", "updated_at"))
class ConceptAnswerOut(View):
    """One annotator's answer on one image (``slicelens.concepts.answers.ConceptAnswer``)
    and the state of the stored annotation that holds it."""

    id: int
    status: str
    updated_at: str


def _out(ann) -> ConceptAnswerOut:
    from slicelens.concepts.store import answer_of

    return ConceptAnswerOut.of(answer_of(ann), id=ann.id, status=ann.status,
                               updated_at=ann.updated_at)


@router.get("/runs/{run_id}/concepts/seeds", response_model=list[SeedOut])
def seeds(rd: RunDep, per_class: Annotated[int, Query(ge=1, le=200)] = 20,
          split: Annotated[str, Query(pattern="^(train|val|test)$")] = "val") -> list[SeedOut]:
    """Seed images per class, misclassified first (``pick_seeds``)."""
    from slicelens.pipeline.concepts import seed_rows

    return [SeedOut.of(s) for s in seed_rows(rd.run, per_class, split)]


#: the browser asks again every time and gets a 304 while the ETag holds: a run id can
#: come back with other content (a workspace deleted and rebuilt), so the URL is not the key
SALIENCY_CACHE = "private, no-cache"
#: bump when the rendering below changes, so stored images are not served for it
SALIENCY_FORMAT = 1
#: the saliency settings the view uses (one place: they key the cache and make the map)
SALIENCY_METHOD: dict[str, Any] = {"steps": 8, "p": 0.5, "seed": 0}


@router.get("/runs/{run_id}/concepts/saliency", responses=PNG, response_class=Response)
def saliency(request: Request, rd: RunDep, id: SampleId, size: Size = None,
             passes: Annotated[int, Query(ge=2, le=32)] = 6,
             tau: Annotated[float, Query(gt=0, le=1)] = 0.1) -> Response:
    """Integrated-gradients saliency of the predicted class over the image, MC-dropout-
    ambiguous pixels (variance > tau on the normalised map) tinted magenta.

    Computed once per (run, image, method, parameters) and kept in the run folder
    (artifact ``saliency_image``, :func:`slicelens.store.cache.cached_bytes`); served
    with an ETag (304 on ``If-None-Match``) that names the run's creation time too, so a
    rebuilt run with the same id never gets an old image; ``Cache-Control: no-cache``
    (the browser revalidates, then 304)."""
    from slicelens.store.cache import cache_name, cached_bytes

    rd.rows([id])  # unknown ids fail here, naming the run
    key = {"image": id, "method": "integrated-gradients, MC dropout", "target": "pred",
           **SALIENCY_METHOD, "passes": passes, "tau": tau, "size": size,
           "format": SALIENCY_FORMAT, "run_created": rd.run.record.created_at}
    name = cache_name(key)
    headers = {"ETag": f'"{name}"', "Cache-Control": SALIENCY_CACHE}
    if request.headers.get("if-none-match") == headers["ETag"] and \
            rd.run.has_artifact("saliency_image", name):
        return Response(status_code=304, headers=headers)
    data, _, _ = cached_bytes(rd.run, "saliency_image", key,
                              lambda: _saliency_png(rd, id, size, passes, tau))
    return Response(data, media_type="image/png", headers=headers)


def _saliency_png(rd, id: str, size: int | None, passes: int, tau: float) -> bytes:
    import numpy as np

    from slicelens.concepts.runio import load_images, seed_saliency
    from slicelens.server.render import heatmap_overlay, png, resize

    sal = seed_saliency(rd.run, [id], passes=passes, tau=tau, **SALIENCY_METHOD)
    img = heatmap_overlay(load_images(rd.run, [id])[0], sal.mean[0])
    img[sal.ambiguous[0]] = (0.5 * img[sal.ambiguous[0]] + [127, 0, 127]).astype(np.uint8)
    return png(resize(img, size))


@router.get("/runs/{run_id}/concepts/answers", response_model=list[ConceptAnswerOut])
def list_answers(rd: RunDep, state: StateDep, include_undone: bool = False) -> list[ConceptAnswerOut]:
    """Stored concept answers of the run, oldest first."""
    from slicelens.concepts.store import list_answers as stored

    return [_out(a) for a in stored(state.workspace, rd.run, include_undone)]


@router.post("/runs/{run_id}/concepts/answers", response_model=ConceptAnswerOut, status_code=201)
def save(body: ConceptAnswerIn, rd: RunDep, state: StateDep,
         caller: CallerDep) -> ConceptAnswerOut:
    """Store one answer (one row per image and annotator: a second answer edits it)."""
    from slicelens.concepts.answers import ConceptAnswer, split_concepts
    from slicelens.concepts.runio import class_of_samples
    from slicelens.concepts.store import save_answer
    from slicelens.errors import DataError

    labels = class_of_samples(rd.run)
    if body.image_id not in labels:
        raise DataError(f"image {body.image_id!r} is not a labelled sample of run {rd.run.id}",
                        field="image_id")
    a = ConceptAnswer(author_or_default(state, body.author, caller), body.image_id,
                      labels[body.image_id], split_concepts(body.confounded),
                      split_concepts(body.valid), body.seconds)
    return _out(save_answer(state.workspace, rd.run, a))


def _own(state, rd, ann_id: int):
    """The stored concept answer ``ann_id`` of this run (404 otherwise)."""
    from fastapi import HTTPException

    from slicelens.concepts.store import SCOPE
    from slicelens.errors import WorkspaceError

    try:
        ann = state.workspace.db.get(ann_id)
    except WorkspaceError:
        ann = None
    if ann is None or ann.scope != SCOPE or ann.run_id != rd.run.id:
        raise HTTPException(404, f"no concept answer {ann_id} in run {rd.run.id}")
    return ann


@router.post("/runs/{run_id}/concepts/answers/undo-last", response_model=ConceptAnswerOut)
def undo_last(body: AuthorIn, rd: RunDep, state: StateDep, caller: CallerDep) -> ConceptAnswerOut:
    """Withdraw the caller's most recently changed active answer (kept, status
    ``undone``, in its history; 409 when there is none)."""
    from slicelens.concepts.store import last_answer, undo_answer
    from slicelens.errors import ConflictError

    author = author_or_default(state, body.author, caller)
    ann = last_answer(state.workspace, rd.run, author)
    if ann is None:
        raise ConflictError(f"{author!r} has no answer in run {rd.run.id} to undo")
    return _out(undo_answer(state.workspace, ann.id, author))


@router.post("/runs/{run_id}/concepts/answers/{ann_id}/undo", response_model=ConceptAnswerOut)
def undo(ann_id: int, body: AuthorIn, rd: RunDep, state: StateDep,
         caller: CallerDep) -> ConceptAnswerOut:
    """Withdraw one answer (409 when it is already undone)."""
    from slicelens.concepts.store import undo_answer

    _own(state, rd, ann_id)
    return _out(undo_answer(state.workspace, ann_id, author_or_default(state, body.author, caller)))


@router.post("/runs/{run_id}/concepts/answers/{ann_id}/redo", response_model=ConceptAnswerOut)
def redo(ann_id: int, body: AuthorIn, rd: RunDep, state: StateDep,
         caller: CallerDep) -> ConceptAnswerOut:
    """Reinstate an undone answer (409 when it is active, or superseded by a newer answer
    of the same annotator on that image)."""
    from slicelens.concepts.store import redo_answer

    _own(state, rd, ann_id)
    return _out(redo_answer(state.workspace, ann_id, author_or_default(state, body.author, caller)))


@derived_from(Figures)
class FiguresOut(View):
    """JS(train || val) in bits before (initial training), after the repair and after
    its matched control; ``fall`` = 1 - after / before; null where not computable
    (``slicelens.pipeline.alignment_types.Figures``)."""


@derived_from(ClassFigures, rename={"class_": "class"})
class ClassFiguresOut(View):
    """The figures within one class (``slicelens.pipeline.alignment_types.ClassFigures``)."""


@derived_from(RepairAlignment)
class RepairAlignmentOut(View):
    """One stored AACA repair beside its matched control
    (``slicelens.pipeline.alignment_types.RepairAlignment``)."""


@derived_from(Alignment)
class AlignmentOut(View):
    """Every stored AACA repair of a run (``slicelens.pipeline.alignment_types.Alignment``)."""


@router.get("/runs/{run_id}/concepts/alignment", response_model=AlignmentOut)
def alignment(rd: RunDep, state: StateDep,
              top: Annotated[int, Query(ge=2, le=50)] = 10) -> AlignmentOut:
    """Concept alignment (JSD to validation, bits) per class before and after every stored
    AACA repair of this run, beside its matched control
    (``slicelens.pipeline.repair_alignment.repair_alignments``)."""
    from slicelens.pipeline.repair_alignment import repair_alignments

    return AlignmentOut.of(repair_alignments(state.workspace, rd.run, top))
