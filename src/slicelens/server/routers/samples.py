"""Samples of a run: pages of the per-sample table, images and heatmaps by sample id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from slicelens.server.deps import RunDep
from slicelens.server.render import HEATMAP_ALPHA, heatmap_overlay, png, resize
from slicelens.server.schemas import SamplePage, SampleRow
from slicelens.server.state import RunData

router = APIRouter(tags=["samples"])
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "PNG image"}}
SampleId = Annotated[str, Query(min_length=1, max_length=1000, description="sample id")]
Size = Annotated[int | None, Query(ge=8, le=512, description="square side in pixels")]
# run artifacts never change once complete, so the browser may keep images
CACHE = {"Cache-Control": "private, max-age=86400"}


def sample_rows(rd: RunData, rows) -> list[SampleRow]:
    """Rows of the run's sample table as API rows."""
    s = rd.samples.iloc[rows]
    cls = rd.classes
    out = []
    for r in s.itertuples(index=False):
        lab, pred = int(r.label), int(r.pred)
        loss = float(r.loss)
        out.append(SampleRow(
            id=str(r.id), split=str(r.split), label=lab, pred=pred,
            label_name=cls[lab] if lab >= 0 else "(unlabeled)", pred_name=cls[pred],
            confidence=float(r.confidence), loss=None if loss != loss else loss,
            correct=None if lab < 0 else bool(r.correct)))
    return out


@router.get("/runs/{run_id}/samples", response_model=SamplePage)
def list_samples(rd: RunDep, split: Literal["train", "val", "test", "pool"] | None = None,
                 correct: bool | None = None, page: Annotated[int, Query(ge=0)] = 0,
                 page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> SamplePage:
    """One page of the run's samples, optionally of one split and/or only (in)correct ones."""
    import numpy as np

    s = rd.samples
    mask = np.ones(len(s), bool)
    if split is not None:
        mask &= (s["split"] == split).to_numpy()
    if correct is not None:
        mask &= (s["label"] >= 0).to_numpy() & (s["correct"].fillna(False).to_numpy(bool) == correct)
    rows = np.flatnonzero(mask)
    page_rows = rows[page * page_size:(page + 1) * page_size]
    return SamplePage(total=len(rows), page=page, page_size=page_size,
                      items=sample_rows(rd, page_rows))


def _image(rd: RunData, sample_id: str):
    rd.rows([sample_id])  # unknown ids fail here, naming the run
    return rd.dataset.load_uint8([rd.dataset_row(sample_id)])[0]


@router.get("/runs/{run_id}/samples/image", responses=PNG, response_class=Response)
def sample_image(rd: RunDep, id: SampleId, size: Size = None) -> Response:
    """The sample's image as PNG (looked up by id in the run's dataset)."""
    return Response(png(resize(_image(rd, id), size)), media_type="image/png", headers=CACHE)


@router.get("/runs/{run_id}/samples/heatmap", responses=PNG, response_class=Response)
def sample_heatmap(rd: RunDep, id: SampleId, size: Size = None,
                   alpha: Annotated[float, Query(ge=0, le=1, description="weight of the colour "
                                                 "map over the image (1: the map alone)")]
                   = HEATMAP_ALPHA) -> Response:
    """The sample's attribution map, upsampled and colour-mapped over its image, as PNG."""
    row = int(rd.rows([id])[0])
    img = resize(_image(rd, id), size)
    return Response(png(heatmap_overlay(img, rd.maps[row], alpha)), media_type="image/png",
                    headers=CACHE)
