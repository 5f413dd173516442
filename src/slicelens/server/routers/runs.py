"""Runs of the workspace, the app's meta data (registries) and a health check."""

from __future__ import annotations

from fastapi import APIRouter

from slicelens import __version__
from slicelens.server.deps import RunDep, StateDep
from slicelens.server.schemas import Health, Meta, RunSummary
from slicelens.server.state import AppState, RunData

router = APIRouter(tags=["runs"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness (also the benchmark's reference endpoint)."""
    return Health(status="ok", version=__version__)


@router.get("/meta", response_model=Meta)
def meta(state: StateDep) -> Meta:
    """Menus come from the registries, never from hand-written lists."""
    from slicelens.slicing.base import BUG_TYPES, SLICERS, _load_builtin_slicers
    from slicelens.store.db import LABELS

    _load_builtin_slicers()
    return Meta(workspace=str(state.workspace.root), author=state.settings.author,
                slice_labels=sorted(LABELS["slice"] or ()), bug_types=list(BUG_TYPES),
                slicers=sorted(SLICERS), repair_strategies=_repair_strategies())


def _repair_strategies() -> list[str]:
    from slicelens.repair.base import load_repairs

    return sorted(load_repairs())


def summary(state: AppState, rd: RunData) -> RunSummary:
    from slicelens.evaluate.summary import accuracy_by

    rec = rd.run.record
    acc = accuracy_by(rd.samples, ["split"])
    plan = rec.plan
    return RunSummary(
        id=rd.run.id, n_samples=len(rd.samples), classes=rd.classes,
        accuracy={str(r.split): float(r.accuracy) for r in acc.itertuples(index=False)},
        created_at=str(rec.created_at or ""), model=rec.model.spec,
        slice_sets=state.stored_slicers(rd.run.id), base_run=rec.base_run,
        plan=None if not plan else f"{plan.get('strategy', '')}: {plan.get('description', '')}",
        control_run=rec.control_run, is_control="control_key" in rec.model_fields_set)


@router.get("/runs", response_model=list[RunSummary])
def list_runs(state: StateDep) -> list[RunSummary]:
    """Complete runs, newest last."""
    return [summary(state, state.run_data(r.id)) for r in state.workspace.runs()]


@router.get("/runs/{run_id}", response_model=RunSummary)
def get_run(rd: RunDep, state: StateDep) -> RunSummary:
    return summary(state, rd)
