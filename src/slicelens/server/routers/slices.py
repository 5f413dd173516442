"""Slice sets of a run: the slice table, the scatter payload, slice detail and members,
lasso selections saved as slices, and slicing as a background job."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Path, Query, Response

from slicelens.errors import WorkspaceError
from slicelens.server.deps import RunDep, SlicerName, SliceSetDep, StateDep
from slicelens.server.guard import refuse_client_paths
from slicelens.server.routers.jobs import job_out
from slicelens.server.routers.samples import sample_rows
from slicelens.server.schemas import (
    CustomSliceIn,
    JobOut,
    SamplePage,
    SampleRow,
    SliceDetail,
    SliceJobIn,
    SliceRow,
    SliceTable,
)
from slicelens.server.views import (
    confusion_cells,
    slice_marks,
    slice_row,
    slice_table,
    spuriousness_scores,
)

router = APIRouter(tags=["slices"])
BASE = "/runs/{run_id}/slicesets/{slicer}"
SliceId = Annotated[str, Path(min_length=1, max_length=200)]
POINTS_DOC = """Every fitted sample of the slice set in its 2-D layout, as one binary
buffer of ``n`` = header ``X-Count`` points, little-endian, in this order: ``x`` float32[n],
``y`` float32[n], ``slice`` int32[n] (-1 = none), ``label`` int16[n] (-1 = unlabeled),
``pred`` int16[n], ``correct`` int8[n] (-1 = unlabeled). 17 bytes a point instead of a
JSON object; position ``i`` is the i-th sample of the slice set (lasso selections send
positions back)."""


@router.get(BASE, response_model=SliceTable)
def get_slice_table(rd: RunDep, ssd: SliceSetDep, state: StateDep) -> SliceTable:
    """The slice table: size, accuracy, confidence, spuriousness, bug type, description."""
    return slice_table(state, rd, ssd)


@router.get(BASE + "/points", response_class=Response, description=POINTS_DOC,
            responses={200: {"content": {"application/octet-stream": {}}}})
def get_points(rd: RunDep, ssd: SliceSetDep) -> Response:
    ss = ssd.slice_set
    if ss.layout is None:
        raise WorkspaceError(f"slice set {ss.slicer!r} has no 2-D layout to draw")
    if ssd.points is None:
        rows = rd.rows(ss.sample_ids)
        s = rd.samples
        lab = s["label"].to_numpy()[rows]
        corr = np.where(lab >= 0, s["correct"].fillna(False).to_numpy(bool)[rows], -1)
        lay = np.asarray(ss.layout, np.float32)
        ssd.points = b"".join([
            np.ascontiguousarray(lay[:, 0], "<f4").tobytes(),
            np.ascontiguousarray(lay[:, 1], "<f4").tobytes(),
            np.asarray(ss.labels, "<i4").tobytes(), lab.astype("<i2").tobytes(),
            s["pred"].to_numpy()[rows].astype("<i2").tobytes(), corr.astype("<i1").tobytes()])
    return Response(ssd.points, media_type="application/octet-stream",
                    headers={"X-Count": str(len(ss.sample_ids))})


@router.get(BASE + "/points/{index}", response_model=SampleRow)
def get_point(index: Annotated[int, Path(ge=0)], rd: RunDep, ssd: SliceSetDep) -> SampleRow:
    """The sample at position ``index`` of the points payload (the scatter's hover card:
    its id for the thumbnail, label, prediction, confidence and loss)."""
    ids = ssd.slice_set.sample_ids
    if index >= len(ids):
        raise WorkspaceError(f"point {index} is out of range: the slice set has {len(ids)} points")
    return sample_rows(rd, rd.rows([str(ids[index])]))[0]


def _row(state, rd, ssd, slice_id: str) -> SliceRow:
    ss = ssd.slice_set
    s = ss.by_id(slice_id)
    marks = slice_marks(state, rd, ss.slicer)
    _, spur, _ = spuriousness_scores(state, rd, ssd, marks)
    return slice_row(s, ss.split, marks.get(slice_id), spur.get(slice_id))


@router.get(BASE + "/slices/{slice_id}", response_model=SliceDetail)
def get_slice(slice_id: SliceId, rd: RunDep, ssd: SliceSetDep, state: StateDep) -> SliceDetail:
    """One slice: its table row, the slicer's evidence and its confusion-matrix cells."""
    row = _row(state, rd, ssd, slice_id)
    return SliceDetail(row=row, evidence=ssd.slice_set.by_id(slice_id).evidence,
                       cells=confusion_cells(rd, ssd.rows_of(rd, slice_id)))


ORDER = Literal["stored", "loss", "confidence", "-confidence"]


@router.get(BASE + "/slices/{slice_id}/members", response_model=SamplePage)
def get_members(slice_id: SliceId, rd: RunDep, ssd: SliceSetDep,
                page: Annotated[int, Query(ge=0)] = 0,
                page_size: Annotated[int, Query(ge=1, le=500)] = 48,
                order: ORDER = "stored", label: Annotated[int | None, Query(ge=0)] = None,
                pred: Annotated[int | None, Query(ge=0)] = None) -> SamplePage:
    """One page of a slice's members (optionally one confusion cell), highest loss first
    with ``order=loss``."""
    rows = ssd.rows_of(rd, slice_id)
    s = rd.samples
    if label is not None:
        rows = rows[s["label"].to_numpy()[rows] == label]
    if pred is not None:
        rows = rows[s["pred"].to_numpy()[rows] == pred]
    if order != "stored":
        col = order.lstrip("-")
        key = s[col].to_numpy(dtype=float)[rows]
        key = np.nan_to_num(key, nan=-np.inf)
        rows = rows[np.argsort(-key if order in ("loss", "-confidence") else key, kind="stable")]
    part = rows[page * page_size:(page + 1) * page_size]
    return SamplePage(total=len(rows), page=page, page_size=page_size, items=sample_rows(rd, part))


@router.post(BASE + "/custom", response_model=SliceRow, status_code=201)
def add_custom_slice(body: CustomSliceIn, rd: RunDep, ssd: SliceSetDep) -> SliceRow:
    """Save a lasso selection (positions into the points payload) as a new slice of the
    run's ``custom`` slice set."""
    from slicelens.slicing.custom import save_custom_slice

    sl = save_custom_slice(rd.run, ssd.slice_set, body.indices, rd.samples, body.description)
    return slice_row(sl, ssd.slice_set.split, None, None)


@router.post("/runs/{run_id}/slicesets/{slicer}/jobs", response_model=JobOut, status_code=202)
def start_slicing(slicer: SlicerName, body: SliceJobIn, rd: RunDep, state: StateDep) -> JobOut:
    """Run a slicer on the run as a background job (``slicelens.pipeline.slices.find_slices``,
    which fits, computes metrics on every split and saves the slice set), then, as
    ``slicelens slices`` does, the training-label check (stored as the ``wrong-labels``
    set; its figures, or why it was skipped, in the result's ``label_check``)."""
    from slicelens.pipeline.slices import find_slices, label_check_applies, run_label_check
    from slicelens.slicing.base import get_slicer

    refuse_client_paths(body.params)
    get_slicer(slicer, **body.params)  # an unknown name fails now, listing the known ones

    def work(report):
        report(None, f"fitting {slicer} on split {body.split}")
        ss = find_slices(rd.run, slicer=slicer, params=body.params, split=body.split)
        out = {"slicer": ss.slicer, "n_slices": len(ss.slices)}
        if label_check_applies(slicer, body.split):
            report(None, "checking the training labels")
            out["label_check"] = run_label_check(rd.run)
        return out

    return job_out(state.jobs.submit("slices", work, {"run": rd.run.id, "slicer": slicer,
                                                      **body.model_dump()}))
