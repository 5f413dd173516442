"""Repair and evaluation: the registered strategies, a repair as a background job (plan,
retrain, new run), and the before/after comparison of two runs per slice and overall.

Routes call ``slicelens.pipeline.repair.run_repair`` and
``slicelens.pipeline.evaluate.evaluate_run`` (clean / core / spurious accuracy, RCS,
worst group, and per-slice accuracy before and after).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from slicelens.errors import SliceLensError
from slicelens.evaluate.report import EvaluationReport, GroupRow, ModelScores, SliceRow
from slicelens.server.deps import NAME, RunDep, StateDep
from slicelens.server.derive import View, derived_from
from slicelens.server.guard import resolve_uploads
from slicelens.server.routers.jobs import job_out
from slicelens.server.schemas import JobOut

if TYPE_CHECKING:
    from slicelens.store.run import Run

router = APIRouter(tags=["repair"])


class StrategyOut(BaseModel):
    name: str
    doc: str
    params_schema: dict[str, Any]
    default: bool = Field(False, description="the strategy `slicelens repair` uses by default")


class RepairJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: str = Field(min_length=1, max_length=50)
    params: dict[str, Any] = Field(default_factory=dict, description="the strategy's Params")
    slicer: str | None = Field("auto", max_length=100,
                               description="slice set for the before/after slice table")


class CompareJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    baseline: str = Field(min_length=1, max_length=200, pattern=NAME,
                          description="id of the run before repair (a run of this workspace)")
    slicer: str | None = Field("auto", max_length=100)


@router.get("/repair/strategies", response_model=list[StrategyOut])
def strategies() -> list[StrategyOut]:
    """Registered repair strategies with the JSON schema of their parameters (the form)."""
    from slicelens.pipeline.repair import DEFAULT_STRATEGY
    from slicelens.repair.base import load_repairs

    return [StrategyOut(name=name, doc=(cls.__doc__ or "").strip().split("\n\n")[0],
                        params_schema=cls.Params.model_json_schema(),
                        default=name == DEFAULT_STRATEGY)
            for name, cls in sorted(load_repairs().items())]


def _evaluate(state, run: Run, baseline, slicer: str | None) -> EvaluationReport:
    from slicelens.pipeline.evaluate import evaluate_run

    if slicer == "auto":
        from slicelens.slicing.runio import preferred_slicer

        slicer = preferred_slicer(baseline)
    use = slicer if slicer and slicer in state.stored_slicers(baseline.id) else None
    report = evaluate_run(state.workspace, run, baseline=baseline, slicer=use)
    with state.lock:
        state.evaluations[(run.id, baseline.id)] = report
    return report


@router.post("/runs/{run_id}/repair/jobs", response_model=JobOut, status_code=202)
def start_repair(body: RepairJobIn, rd: RunDep, state: StateDep) -> JobOut:
    """Plan a repair with ``strategy``, retrain, extract the new run and compare it with
    this one, as one background job; the result names the new run."""
    from slicelens.repair.base import load_repairs

    params = resolve_uploads(state.workspace, body.params)  # a label oracle, by upload id
    if body.strategy not in load_repairs():
        raise SliceLensError(f"unknown repair strategy {body.strategy!r}; choose one of "
                             f"{sorted(load_repairs())}")

    def work(report):
        from slicelens.pipeline.repair import run_repair

        report(0.0, f"planning {body.strategy}")
        plan, new_run = run_repair(state.workspace, rd.run, body.strategy, params,
                                   progress=report)
        report(0.9, f"comparing {new_run.id} with {rd.run.id} and its matched control")
        ev = _evaluate(state, state.run_data(new_run.id).run, rd.run, body.slicer)
        return {"run": new_run.id, "plan": plan.summary(),
                "control": new_run.record.control_run, "verdict": ev.verdict}

    return job_out(state.jobs.submit("repair", work, {"run": rd.run.id, **body.model_dump()}))


@router.post("/runs/{run_id}/compare/jobs", response_model=JobOut, status_code=202)
def start_compare(body: CompareJobIn, rd: RunDep, state: StateDep) -> JobOut:
    """Compare this run with ``baseline`` (``evaluate_run``) as a background job."""
    base = state.run_data(body.baseline).run

    def work(report):
        report(None, f"evaluating {rd.run.id} against {base.id}")
        _evaluate(state, rd.run, base, body.slicer)
        return {"run": rd.run.id, "baseline": base.id}

    return job_out(state.jobs.submit("compare", work, {"run": rd.run.id, **body.model_dump()}))


@derived_from(ModelScores, optional=ModelScores.OPTIONAL)
class ComparedModelOut(View):
    """One model of a comparison (``slicelens.evaluate.report.ModelScores``); the worst
    slice / group are left out when they were not measured."""


@derived_from(GroupRow, optional=GroupRow.OPTIONAL)
class ComparedGroupOut(View):
    """One ground-truth group of a comparison (``GroupRow``): before / after (and the
    control) with a baseline, else its ``accuracy``."""


@derived_from(SliceRow, optional=SliceRow.OPTIONAL)
class ComparedSliceOut(View):
    """One slice of a comparison (``SliceRow``); the control's columns only with one."""


@derived_from(EvaluationReport)
class ComparisonOut(View):
    """A comparison made (``slicelens.evaluate.report.EvaluationReport``, as stored)."""

    models: list[ComparedModelOut]
    groups: list[ComparedGroupOut]
    slices: list[ComparedSliceOut]
    computed: Literal[True] = True


class NotComparedOut(BaseModel):
    """No comparison of the run with this baseline yet (a state of the view, not an
    error)."""

    computed: Literal[False] = False
    run: str
    baseline: str
    detail: str


@router.get("/runs/{run_id}/compare/{baseline}", response_model=ComparisonOut | NotComparedOut,
            response_model_exclude_unset=True)
def get_comparison(rd: RunDep, baseline: str, state: StateDep) -> ComparisonOut | NotComparedOut:
    """The comparison of this run with ``baseline``: the last one this server made, else
    the one stored in the run's folder (``slicelens repair`` / ``evaluate`` / the demo),
    with ``computed: true``; when there is none yet, ``computed: false`` and a ``detail``
    (200, not 404: "not compared yet" is a state of the view, not an error)."""
    from slicelens.pipeline.evaluations import load_evaluation

    with state.lock:
        report = state.evaluations.get((rd.run.id, baseline))
    if report is None:
        report = load_evaluation(rd.run, baseline) if re.fullmatch(NAME, baseline) else None
    if report is None:
        return NotComparedOut(computed=False, run=rd.run.id, baseline=baseline,
                              detail=f"no comparison of {rd.run.id} with {baseline} yet; start one")
    return ComparisonOut.model_validate({**report.to_json(), "computed": True})
