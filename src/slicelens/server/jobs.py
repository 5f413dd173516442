"""Long work (slicing, mosaic, attributes, training-data attribution, repair) as jobs.

A job runs in one background worker thread; the client polls ``GET /api/jobs/{id}``.
One worker on purpose: the machines this runs on are small and every job is CPU-bound
(a second job waits in the queue instead of halving the speed of the first).

Example
-------
>>> jm = JobManager()
>>> job = jm.submit("demo", lambda report: report(1.0, "done") or 42)
>>> jm.wait(job.id).result
42
"""

from __future__ import annotations

import queue
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from slicelens.errors import SliceLensError, WorkspaceError

#: ``report(fraction in [0, 1] or None, message)``
Report = Callable[[float | None, str], None]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Job:
    """State of one background job (read by the jobs router)."""

    id: str
    kind: str
    params: dict
    status: str = "queued"  # queued | running | done | failed
    progress: float | None = 0.0
    message: str = "queued"
    result: Any = None
    error: str | None = None
    created_at: str = field(default_factory=_now)
    finished_at: str | None = None


class Worker:
    """One daemon thread running submitted calls in order (``submit`` -> Future).

    Unlike ``ThreadPoolExecutor`` it never blocks interpreter exit (a repair that is
    still training when the user stops the server is abandoned, its finished runs kept)
    and it has no shutdown state that a stopped app could leave behind.
    """

    def __init__(self, name: str):
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def submit(self, fn: Callable, *args) -> Future:
        future: Future = Future()
        self._queue.put((future, fn, args))
        return future

    def _loop(self) -> None:
        while True:
            future, fn, args = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # handed to whoever waits on the future
                future.set_exception(e)


class QueueFull(SliceLensError):
    """Too many jobs queued or running (HTTP 429: retry when one has finished)."""


class JobManager:
    """Run callables in a worker thread and keep their state for polling.

    One worker thread: a second job waits until the first ends. At most ``max_jobs`` are
    queued or running at once; one more is refused with :class:`QueueFull`, so a client
    cannot fill the server's memory and hours with jobs.
    """

    def __init__(self, max_jobs: int = 4):
        self.max_jobs = int(max_jobs)
        self._worker = Worker("slicelens-job")
        self._jobs: dict[str, Job] = {}
        self._futures: dict[str, Any] = {}
        self._lock = threading.Lock()

    def submit(self, kind: str, fn: Callable[[Report], Any], params: dict | None = None,
               on_done: Callable[[], None] | None = None) -> Job:
        """Queue ``fn(report)``; its return value becomes ``job.result`` (JSON-able)."""
        job = Job(id=uuid.uuid4().hex[:12], kind=kind, params=params or {})
        with self._lock:
            active = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if active >= self.max_jobs:
                raise QueueFull(f"{active} jobs are queued or running (the limit); retry "
                                "when one has finished")
            self._jobs[job.id] = job
        self._futures[job.id] = self._worker.submit(self._run, job, fn, on_done)
        return job

    def _run(self, job: Job, fn: Callable[[Report], Any], on_done) -> None:
        def report(fraction: float | None, message: str) -> None:
            job.progress = None if fraction is None else min(max(float(fraction), 0.0), 1.0)
            job.message = message

        job.status, job.message = "running", "started"
        try:
            job.result = fn(report)
            job.status, job.progress, job.message = "done", 1.0, "done"
        except SliceLensError as e:
            job.status, job.error, job.message = "failed", str(e), "failed"
        except Exception as e:  # a bug in a library step: keep the trace for the report
            job.status, job.message = "failed", "failed"
            job.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}"
        finally:
            job.finished_at = _now()
            if on_done is not None:
                on_done()

    def get(self, job_id: str) -> Job:
        """A job by id; unknown ids are a :class:`WorkspaceError` (HTTP 404)."""
        try:
            return self._jobs[job_id]
        except KeyError:
            raise WorkspaceError(f"no job {job_id!r}") from None

    def list(self) -> list[Job]:
        """Every job of this server process, newest first."""
        return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until a job ends (tests and scripts); returns the job."""
        self._futures[job_id].result(timeout)
        return self.get(job_id)
