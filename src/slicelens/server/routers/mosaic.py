"""Attribution Mosaic tiles (AttributionScanner Sec. III-E 1, Eq. 2): one feature-inversion
image per slice, made by ``slicelens.pipeline.slices.make_mosaic`` under
``<run>/mosaic/<slicer>/<slice_id>.png``; the browser clips each to its slice's hull."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse
from pydantic import BaseModel

from slicelens.errors import WorkspaceError
from slicelens.server.deps import NAME, RunDep, SliceSetDep, StateDep
from slicelens.server.routers.jobs import job_out
from slicelens.server.schemas import JobOut

router = APIRouter(tags=["mosaic"])
BASE = "/runs/{run_id}/slicesets/{slicer}/mosaic"


class MosaicOut(BaseModel):
    computed: bool
    tiles: list[str]
    missing: list[str]
    command: str


def _dir(rd, slicer: str) -> FsPath:
    return rd.run.artifact_path("mosaic", slicer)


@router.get(BASE, response_model=MosaicOut)
def mosaic_status(rd: RunDep, ssd: SliceSetDep, state: StateDep) -> MosaicOut:
    """Which slices have a mosaic tile, and the command that makes the missing ones."""
    ss = ssd.slice_set
    d = _dir(rd, ss.slicer)
    have = [s.id for s in ss.slices if (d / f"{s.id}.png").exists()]
    missing = [s.id for s in ss.slices if not (d / f"{s.id}.png").exists()]
    return MosaicOut(computed=bool(have), tiles=have, missing=missing,
                     command=f"slicelens mosaic --workspace {state.workspace.root} "
                             f"--run {rd.run.id} --slicer {ss.slicer}")


@router.get(BASE + "/{slice_id}.png", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}})
def mosaic_tile(rd: RunDep, ssd: SliceSetDep,
                slice_id: Annotated[str, Path(pattern=NAME, max_length=200)]) -> FileResponse:
    """One slice's tile (the slice id is checked against the slice set first)."""
    ssd.slice_set.by_id(slice_id)
    path = _dir(rd, ssd.slice_set.slicer) / f"{slice_id}.png"
    if not path.exists():
        raise WorkspaceError(f"no mosaic tile for slice {slice_id!r}; make the mosaic first")
    return FileResponse(path, media_type="image/png")


@router.post(BASE + "/jobs", response_model=JobOut, status_code=202)
def start_mosaic(rd: RunDep, ssd: SliceSetDep, state: StateDep) -> JobOut:
    """Make the mosaic tiles as a background job (feature inversion per slice)."""
    from slicelens.pipeline.slices import make_mosaic

    slicer = ssd.slice_set.slicer

    def work(report):
        report(None, f"inverting features of {len(ssd.slice_set.slices)} slices")
        make_mosaic(rd.run, slicer)
        return {"slicer": slicer}

    return job_out(state.jobs.submit("mosaic", work, {"run": rd.run.id, "slicer": slicer}))
