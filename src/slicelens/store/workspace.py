"""The workspace: one directory holding runs (computed, recomputable) and the annotation
database (human input, durable).

Layout::

    <workspace>/
        workspace.json     format version and creation time
        slicelens.db       AnnotationStore (SQLite, WAL)
        runs/run-0001-<prefix>/ ...   see slicelens.store.run
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from slicelens.errors import WorkspaceError
from slicelens.store.atomic import write_json
from slicelens.store.db import AnnotationStore
from slicelens.store.run import Run

DEFAULT_PATH = "slicelens-workspace"
FORMAT = 1
_RUN_RE = re.compile(r"^run-(\d{4,})-")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")


def _run_number(path: Path) -> int:
    """``runs/run-0012-demo`` -> 12 (only called on names that match ``_RUN_RE``)."""
    match = _RUN_RE.match(path.name)
    assert match is not None
    return int(match.group(1))


class Workspace:
    """A slicelens workspace directory.

    Parameters
    ----------
    path : str or Path, default "./slicelens-workspace"
    create : bool, default True
        Create the workspace if missing; with False a missing one is a WorkspaceError.

    Examples
    --------
    >>> import tempfile
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> ws.new_run_dir("small-cnn")[0]
    'run-0001-small-cnn'
    """

    #: the class of the runs it hands out (``slicelens.api`` hands out richer ones)
    run_class = Run

    def __init__(self, path: str | os.PathLike = DEFAULT_PATH, create: bool = True):
        self.root = Path(path)  # the workspace directory
        meta = self.root / "workspace.json"
        if not meta.exists():
            if not create:
                raise WorkspaceError(f"no slicelens workspace at {self.root}")
            if self.root.exists() and any(self.root.iterdir()):
                raise WorkspaceError(f"{self.root} exists and is not a slicelens workspace "
                                     "(no workspace.json); choose another directory")
            (self.root / "runs").mkdir(parents=True, exist_ok=True)
            write_json(meta, {"format": FORMAT,
                              "created_at": datetime.now(timezone.utc).isoformat()})
        (self.root / "runs").mkdir(exist_ok=True)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @cached_property
    def db(self) -> AnnotationStore:
        """The annotation store (``slicelens.db``)."""
        return AnnotationStore(self.root / "slicelens.db")

    def _run_dirs(self) -> list[Path]:
        dirs = [p for p in (self.root / "runs").iterdir() if p.is_dir() and _RUN_RE.match(p.name)]
        return sorted(dirs, key=_run_number)

    def runs(self, include_incomplete: bool = False) -> list[Run]:
        """Runs in creation order (newest last); only complete ones unless asked."""
        runs = [self.run_class(p) for p in self._run_dirs()]
        return runs if include_incomplete else [r for r in runs if r.is_complete]

    def run_path(self, run_id: str) -> Path:
        """Directory of an existing run, complete or not (e.g. to resume it).

        A run is addressed by its id only: an id that is not a plain name (a path, ``..``)
        is refused before anything is looked up, so no id reaches outside ``runs/``.
        """
        if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id) or ".." in run_id:
            raise WorkspaceError(f"{str(run_id)[:80]!r} is not a run id (a name such as "
                                 "run-0001-demo, no path)")
        path = self.root / "runs" / run_id
        if not path.is_dir():
            have = [p.name for p in self._run_dirs()]
            raise WorkspaceError(f"no run {run_id!r} in {self.root}; available: "
                                 f"{', '.join(have) if have else 'none (run extract first)'}")
        return path

    def run(self, run_id: str | None = None) -> Run:
        """A complete run by id (default: :meth:`base_run`); a missing or unfinished one is a
        WorkspaceError."""
        if run_id is None:
            return self.base_run()
        run = self.run_class(self.run_path(run_id))
        run._require_complete()
        return run

    def latest_run(self) -> Run:
        """The newest complete run."""
        runs = self.runs()
        if not runs:
            raise WorkspaceError(f"no complete run in {self.root}; run extract first")
        return runs[-1]

    def base_run(self) -> Run:
        """The newest complete run that is being analysed: not a repair, a retraining or a
        matched control (their records name a ``base_run`` or a ``control_key``).

        Falls back to :meth:`latest_run` when every run was derived from another.
        """
        runs = self.runs()
        if not runs:
            raise WorkspaceError(f"no complete run in {self.root}; run extract first")
        base = [r for r in runs if not r.is_derived]
        return (base or runs)[-1]

    def new_run_dir(self, prefix: str) -> tuple[str, Path]:
        """Create ``runs/run-<NNNN>-<prefix>/`` with the next free number.

        Returns
        -------
        run_id : str
        path : Path
        """
        prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", prefix).strip("-.") or "run"
        nums = [_run_number(p) for p in self._run_dirs()]
        n = max(nums, default=0) + 1
        while True:
            run_id = f"run-{n:04d}-{prefix}"
            path = self.root / "runs" / run_id
            try:
                path.mkdir()  # atomic: two processes never get the same directory
                return run_id, path
            except FileExistsError:
                n += 1


#: what the shells (CLI, server, demo entry points) accept as a workspace: the object, or its
#: directory; the library's functions take a :class:`Workspace` only
WorkspaceLike = Workspace | str | os.PathLike


def as_workspace(workspace: WorkspaceLike, create: bool = False) -> Workspace:
    """``workspace`` itself when it is a :class:`Workspace`, else the workspace at that path
    (``create``: make it when missing). The one place a path becomes a workspace; only the
    shells call it (``tests/test_layers.py`` checks), the library takes a Workspace.

    >>> import tempfile
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> as_workspace(ws) is ws, as_workspace(ws.root).root == ws.root
    (True, True)
    """
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=create)


def require_workspace(workspace: object, where: str) -> Workspace:
    """``workspace`` when it is a :class:`Workspace`, else a TypeError saying to open one.

    The library's functions take a workspace object, never its path (only the shells turn a
    path into a workspace); this makes passing a path fail loudly at the door.

    >>> require_workspace("slicelens-workspace", "evaluate_run")
    Traceback (most recent call last):
    ...
    TypeError: evaluate_run needs a slicelens Workspace, not str 'slicelens-workspace': pass slicelens.Workspace(path) (or slicelens.store.Workspace(path))
    """
    if not isinstance(workspace, Workspace):
        raise TypeError(f"{where} needs a slicelens Workspace, not {type(workspace).__name__} "
                        f"{str(workspace)!r}: pass slicelens.Workspace(path) "
                        "(or slicelens.store.Workspace(path))")
    return workspace
