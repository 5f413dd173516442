"""AACA concept annotation (docs/concepts.md): seed images, their uncertain saliency, and
answers (confounded / valid concepts) stored like slice marks.

Routes call ``slicelens.pipeline.concepts`` / ``slicelens.concepts`` (the same functions
as the CLI). An answer is committed to SQLite before the response is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from slicelens.server.deps import CallerDep, RunDep, StateDep, author_or_default
from slicelens.server.routers.samples import PNG, SampleId, Size

router = APIRouter(tags=["concepts"])


class SeedOut(BaseModel):
    image_id: str
    label: str
    predicted: str
    correct: bool


class ConceptAnswerIn(BaseModel):
    image_id: str = Field(min_length=1, max_length=1000)
    confounded: str = Field("", max_length=2000, description="';'-separated concepts")
    valid: str = Field("", max_length=2000, description="';'-separated concepts")
    seconds: float | None = Field(None, ge=0)
    author: str = Field("", max_length=200)


class ConceptAnswerOut(BaseModel):
    id: int
    image_id: str
    label: str
    author: str
    confounded: list[str]
    valid: list[str]
    seconds: float | None
    status: str
    updated_at: str


def _out(ann) -> ConceptAnswerOut:
    from slicelens.concepts.store import answer_of

    a = answer_of(ann)
    return ConceptAnswerOut(id=ann.id, image_id=a.image_id, label=a.label, author=a.worker,
                            confounded=a.confounded, valid=a.valid, seconds=a.seconds,
                            status=ann.status, updated_at=ann.updated_at)


@router.get("/runs/{run_id}/concepts/seeds", response_model=list[SeedOut])
def seeds(rd: RunDep, per_class: Annotated[int, Query(ge=1, le=200)] = 20,
          split: Annotated[str, Query(pattern="^(train|val|test)$")] = "val") -> list[SeedOut]:
    """Seed images per class, misclassified first (``pick_seeds``)."""
    from slicelens.pipeline.concepts import pick_seeds

    s = rd.samples.set_index("id")
    out = []
    for i in pick_seeds(rd.run, per_class, split):
        r = s.loc[i]
        out.append(SeedOut(image_id=str(i), label=rd.classes[int(r["label"])],
                           predicted=rd.classes[int(r["pred"])], correct=bool(r["correct"])))
    return out


@router.get("/runs/{run_id}/concepts/saliency", responses=PNG, response_class=Response)
def saliency(rd: RunDep, id: SampleId, size: Size = None,
             passes: Annotated[int, Query(ge=2, le=32)] = 6,
             tau: Annotated[float, Query(gt=0, le=1)] = 0.1) -> Response:
    """Integrated-gradients saliency of the predicted class over the image, MC-dropout-
    ambiguous pixels (variance > tau on the normalised map) tinted magenta."""
    import numpy as np

    from slicelens.concepts.runio import load_images, seed_saliency
    from slicelens.server.render import heatmap_overlay, png, resize

    rd.rows([id])  # unknown ids fail here, naming the run
    sal = seed_saliency(rd.run, [id], passes=passes, tau=tau, steps=8)
    img = heatmap_overlay(load_images(rd.run, [id])[0], sal.mean[0])
    img[sal.ambiguous[0]] = (0.5 * img[sal.ambiguous[0]] + [127, 0, 127]).astype(np.uint8)
    return Response(png(resize(img, size)), media_type="image/png")


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
