"""Background jobs: poll one by id, or list them."""

from __future__ import annotations

from fastapi import APIRouter, Path

from slicelens.server.deps import StateDep
from slicelens.server.jobs import Job
from slicelens.server.schemas import JobOut

router = APIRouter(tags=["jobs"])


def job_out(job: Job) -> JobOut:
    return JobOut.of(job)


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(state: StateDep) -> list[JobOut]:
    """Jobs of this server process, newest first."""
    return [job_out(j) for j in state.jobs.list()]


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(state: StateDep, job_id: str = Path(max_length=64)) -> JobOut:
    """A job's status, progress in [0, 1] (null: unknown) and, when done, its result."""
    return job_out(state.jobs.get(job_id))
