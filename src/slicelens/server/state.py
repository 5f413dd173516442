"""What the server keeps in memory between requests: opened runs and slice sets.

Run artifacts are immutable once a run is complete, so a run's sample table, id index
and dataset are read once. A slice set is re-read when its file changes (a slicing job
or a custom slice rewrote it); annotations are never cached (they live in SQLite and
change with every mark).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from slicelens.errors import WorkspaceError
from slicelens.evaluate.report import EvaluationReport
from slicelens.server.jobs import JobManager, Worker
from slicelens.server.settings import Settings
from slicelens.slicing.base import SliceSet
from slicelens.store import Run, Workspace


class RunData:
    """A complete run with the lookups the routes need (built lazily, once).

    Parameters
    ----------
    run : Run
    """

    def __init__(self, run: Run):
        self.run = run
        self._lock = threading.Lock()

    @cached_property
    def samples(self) -> pd.DataFrame:
        """The run's per-sample table (id, label, split, pred, confidence, loss, correct)."""
        return self.run.samples

    @cached_property
    def index(self) -> pd.Index:
        """Sample id -> row of ``samples`` (and of every run array)."""
        return pd.Index(self.samples["id"].to_numpy(dtype=str))

    @cached_property
    def classes(self) -> list[str]:
        return self.run.classes

    def rows(self, ids) -> np.ndarray:
        """Rows of the given sample ids; an unknown id is a :class:`WorkspaceError`."""
        pos = self.index.get_indexer(np.asarray(ids, dtype=str))
        if (pos < 0).any():
            bad = np.asarray(ids, dtype=str)[pos < 0][0]
            raise WorkspaceError(f"no sample {bad!r} in run {self.run.id}")
        return pos

    @property
    def dataset(self):
        """The run's :class:`ImageDataset` (reloaded once; images decode on demand)."""
        with self._lock:
            if not hasattr(self, "_dataset"):
                self._dataset = self.run.dataset()
            return self._dataset

    def dataset_row(self, sample_id: str) -> int:
        """Row of a sample in the run's dataset (which may order samples differently)."""
        ds = self.dataset
        with self._lock:
            if not hasattr(self, "_ds_index"):
                self._ds_index = pd.Index(ds.ids)
        pos = int(self._ds_index.get_indexer([sample_id])[0])
        if pos < 0:
            raise WorkspaceError(f"sample {sample_id!r} is not in the dataset of run {self.run.id}")
        return pos

    @cached_property
    def maps(self) -> np.ndarray:
        """Attribution maps, float16 (n, m, k), memory-mapped."""
        return self.run.array("maps")


@dataclass
class SliceSetData:
    """A loaded slice set and lookups derived from it (rebuilt when its file changes)."""

    slice_set: SliceSet
    mtime: float
    member_rows: dict[str, np.ndarray] = field(default_factory=dict)
    points: bytes | None = None  # the scatter payload, built on first request

    def rows_of(self, rd: RunData, slice_id: str) -> np.ndarray:
        """Run rows of one slice's members (cached)."""
        if slice_id not in self.member_rows:
            self.member_rows[slice_id] = rd.rows(self.slice_set.by_id(slice_id).members)
        return self.member_rows[slice_id]


class AppState:
    """Everything shared by the routes of one app: settings, workspace, caches, jobs.

    Parameters
    ----------
    settings : Settings
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.workspace = Workspace(settings.workspace, create=False)
        self.jobs = JobManager(settings.max_jobs)
        self._runs: dict[str, RunData] = {}
        self._slices: dict[tuple[str, str], SliceSetData] = {}
        #: propagated spuriousness per (run, slicer, file, marks) (views.spuriousness_scores),
        #: the propagations under way, and the newest scores per (run, slicer)
        self.spuriousness: dict[tuple, tuple[str, dict]] = {}
        self.propagating: dict[tuple, Future] = {}
        self.last_spuriousness: dict[tuple, tuple[str, dict]] = {}
        self.propagation = Worker("slicelens-propagation")
        #: before/after reports of evaluate_run, keyed (run id, baseline run id)
        self.evaluations: dict[tuple[str, str], EvaluationReport] = {}
        self.lock = threading.Lock()

    def run_data(self, run_id: str) -> RunData:
        """The opened run ``run_id`` (missing or incomplete: :class:`WorkspaceError`)."""
        with self.lock:
            rd = self._runs.get(run_id)
        if rd is None:
            rd = RunData(self.workspace.run(run_id))
            with self.lock:
                rd = self._runs.setdefault(run_id, rd)
        return rd

    def slice_set(self, run_id: str, slicer: str) -> SliceSetData:
        """The stored slice set of ``slicer`` on a run, re-read when its file changed."""
        rd = self.run_data(run_id)
        path = rd.run.artifact_path("slices", slicer)
        mtime = path.stat().st_mtime if path.exists() else -1.0
        key = (run_id, slicer)
        with self.lock:
            cached = self._slices.get(key)
        if cached is not None and cached.mtime == mtime:
            return cached
        data = SliceSetData(SliceSet.load(rd.run.path, slicer), mtime)
        with self.lock:
            self._slices[key] = data
        return data

    def stored_slicers(self, run_id: str) -> list[str]:
        """Names of the slice sets stored in a run."""
        return self.run_data(run_id).run.artifact_names("slices")
