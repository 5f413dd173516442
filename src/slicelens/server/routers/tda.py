"""Training-data attribution (TDA needfinding study, Sec. 5.1-5.2): for an error group,
the ranked table of training groups x actions with effects, intervals and the effect on
overall accuracy, the training images of a chosen group, and applying a row (retrain).

Routes call ``slicelens.pipeline.tda``; results are the files it saves under
``<run>/tda/<key>.json``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from slicelens.errors import DataError, WorkspaceError
from slicelens.server.deps import NAME, RunDep, StateDep
from slicelens.server.derive import View, derived_from
from slicelens.server.guard import refuse_client_paths
from slicelens.server.routers.jobs import job_out
from slicelens.server.routers.samples import sample_rows
from slicelens.server.schemas import JobOut, SamplePage
from slicelens.tda.result import TDAResult, TDARow

router = APIRouter(tags=["tda"])
Key = Annotated[str, Path(pattern=NAME, max_length=120, description="result key (file stem)")]
Rank = Annotated[int, Path(ge=1, le=100_000)]


class TdaJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error_group: str = Field(min_length=1, max_length=300,
                             description="'TRUE->PRED' (a confusion cell) or 'SLICER:SLICE_ID'")
    params: dict[str, Any] = Field(default_factory=dict, description="TDAParams fields")


class TdaSummary(BaseModel):
    key: str
    error_group: str
    n_errors: int
    metric: str
    n_rows: int


# a row of the ranked table: the library's TDARow (``tda.result``) with its training group
# flattened to name, kind and size; the plan details (relabel / add maps) stay on the server
@derived_from(TDARow, rename={"error_accuracy_effect": "errors_fixed"},
              exclude=("metric", "p_adjusted", "worst_class_effect", "predicted_effect",
                       "predicted_global", "factor", "relabel", "add", "error_group"))
class TdaRowOut(View):
    group: str
    kind: str
    size: int


class TdaResultOut(BaseModel):
    key: str
    error_group: str
    n_errors: int
    metric: str
    baseline: dict[str, Any]
    rows: list[TdaRowOut]


def _load(rd, key: str):
    path = rd.run.artifact_path("tda", key)
    if not path.exists():
        raise WorkspaceError(f"no attribution result {key!r} in run {rd.run.id}")
    return TDAResult.load(path)


def _num(v) -> float | None:
    return None if v is None or v != v else float(v)


@router.get("/runs/{run_id}/tda", response_model=list[TdaSummary])
def list_results(rd: RunDep) -> list[TdaSummary]:
    """Stored attribution results of the run (one per error group)."""
    out = []
    for key in rd.run.artifact_names("tda"):
        res = _load(rd, key)
        out.append(TdaSummary(key=key, error_group=res.error_group.name,
                              n_errors=int(res.error_group.ids.size), metric=res.metric,
                              n_rows=len(res.rows)))
    return out


@router.get("/runs/{run_id}/tda/{key}", response_model=TdaResultOut)
def get_result(rd: RunDep, key: Key) -> TdaResultOut:
    """The ranked table: effect on the error group (mean, interval, p-value) and on
    validation accuracy, per training group and action."""
    res = _load(rd, key)
    rows = [TdaRowOut.of(r, group=r.group.name, kind=r.group.kind, size=r.group.size)
            for r in res.rows]
    return TdaResultOut(key=key, error_group=res.error_group.name,
                        n_errors=int(res.error_group.ids.size), metric=res.metric,
                        baseline={k: _num(v) if isinstance(v, float) else v
                                  for k, v in res.baseline.items()}, rows=rows)


@router.get("/runs/{run_id}/tda/{key}/rows/{rank}/members", response_model=SamplePage)
def group_members(rd: RunDep, key: Key, rank: Rank, page: Annotated[int, Query(ge=0)] = 0,
                  page_size: Annotated[int, Query(ge=1, le=500)] = 24) -> SamplePage:
    """The training images of the group in row ``rank`` (their ids in the run)."""
    ids = _load(rd, key).row(rank).group.ids
    rows = rd.rows(ids)
    part = rows[page * page_size:(page + 1) * page_size]
    return SamplePage(total=len(rows), page=page, page_size=page_size, items=sample_rows(rd, part))


@router.post("/runs/{run_id}/tda/jobs", response_model=JobOut, status_code=202)
def start_tda(body: TdaJobIn, rd: RunDep, state: StateDep) -> JobOut:
    """Attribute an error group to training groups as a background job
    (``slicelens.pipeline.tda.attribute_errors``; exact effects retrain the head)."""
    from slicelens.params import validate
    from slicelens.pipeline.tda import attribute_errors, resolve_error_group, result_path
    from slicelens.tda.params import TDAParams

    refuse_client_paths(body.params)
    if "->" not in body.error_group and not re.match(NAME, body.error_group.split(":", 1)[0]):
        raise DataError("the slice set of an error group is a name (letters, digits, _ . -)",
                        field="error_group")
    params = validate(TDAParams, body.params)
    err = resolve_error_group(rd.run, body.error_group)  # a bad spec fails now, not in the job

    def work(report):
        report(None, f"attributing {err.name} ({err.ids.size} samples)")
        res = attribute_errors(rd.run, err, params=params)
        return {"key": result_path(rd.run, res.error_group).stem, "n_rows": len(res.rows)}

    return job_out(state.jobs.submit("tda", work, {"run": rd.run.id, **body.model_dump()}))


@router.post("/runs/{run_id}/tda/{key}/rows/{rank}/apply", response_model=JobOut, status_code=202)
def apply_tda_row(rd: RunDep, key: Key, rank: Rank, state: StateDep) -> JobOut:
    """Carry out one row's action on its group and retrain (a new run), as a job."""
    from slicelens.pipeline.tda import apply_row

    res = _load(rd, key)
    res.row(rank)

    def work(report):
        report(None, f"retraining with row {rank} applied")
        new = apply_row(state.workspace, rd.run, res, rank)
        return {"run": new.id}

    return job_out(state.jobs.submit("tda-apply", work, {"run": rd.run.id, "key": key,
                                                         "rank": rank}))
