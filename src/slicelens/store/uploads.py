"""Files a web client gives the server (label oracles), kept in the workspace by content.

A client never names a file on the server's machine (``slicelens.server.guard``); it
uploads the file's content instead. :func:`save_upload` checks it, stores it as
``<workspace>/uploads/<kind>-<12 hex of its SHA-256>.csv`` (atomically; the same content
twice is the same upload) and returns that id, by which job parameters then refer to it
(:func:`resolve_upload`). The original file name is kept as a label only.

Example
-------
>>> import tempfile
>>> from slicelens.store import Workspace
>>> ws = Workspace(tempfile.mkdtemp())
>>> up = save_upload(ws, "oracle", "labels.csv", b"id,label\\na.png,cat\\n")
>>> up.id, up.rows
('oracle-144f38d07d51', 1)
>>> resolve_upload(ws, up.id).name
'oracle-144f38d07d51.csv'
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from slicelens.errors import DataError, WorkspaceError

if TYPE_CHECKING:
    from slicelens.store.workspace import Workspace

KINDS = ("oracle",)
UPLOAD_ID = re.compile(r"(oracle)-[0-9a-f]{12}")
#: largest upload, bytes (the server's body limit applies first)
MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class Upload:
    """One stored upload: its id, the client's file name, rows, columns and size."""

    id: str
    kind: str
    name: str
    rows: int
    columns: list[str]
    bytes: int


def _folder(workspace: Workspace) -> Path:
    return Path(workspace.root) / "uploads"


def save_upload(workspace: Workspace, kind: str, name: str, content: bytes) -> Upload:
    """Check ``content`` (a CSV with an ``id`` column) and store it; returns its :class:`Upload`.

    Raises
    ------
    DataError
        Not UTF-8, not a CSV, no ``id`` column, empty, or too large (named by field).
    """
    import pandas as pd

    from slicelens.store.atomic import atomic_open, write_json

    if kind not in KINDS:
        raise DataError(f"unknown upload kind {kind!r}; expected one of {KINDS}", field="kind")
    if len(content) > MAX_BYTES:
        raise DataError(f"an upload holds at most {MAX_BYTES >> 20} MiB", field="content")
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"not a CSV file: {str(e).splitlines()[0][:200]}",
                        field="content") from None
    if "id" not in frame.columns:
        raise DataError(f"a label oracle needs an 'id' column (columns: "
                        f"{', '.join(map(str, frame.columns[:10]))})", field="id")
    if frame.empty:
        raise DataError("the file has a header but no rows", field="content")
    upload_id = f"{kind}-{hashlib.sha256(content).hexdigest()[:12]}"
    folder = _folder(workspace)
    path = folder / f"{upload_id}.csv"
    if not path.exists():
        with atomic_open(path, "wb") as f:
            f.write(content)
    up = Upload(id=upload_id, kind=kind, name=Path(name or "upload.csv").name[:200],
                rows=len(frame), columns=[str(c) for c in frame.columns], bytes=len(content))
    write_json(folder / f"{upload_id}.json", asdict(up))
    return up


def list_uploads(workspace: Workspace, kind: str | None = None) -> list[Upload]:
    """Stored uploads, oldest first."""
    folder = _folder(workspace)
    if not folder.is_dir():
        return []
    found = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    ups = [Upload(**json.loads(p.read_text())) for p in found]
    return [u for u in ups if kind is None or u.kind == kind]


def resolve_upload(workspace: Workspace, upload_id: str) -> Path:
    """The stored file of ``upload_id``; a :class:`WorkspaceError` when it is not one."""
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise WorkspaceError(f"{str(upload_id)[:60]!r} is not an upload id (e.g. oracle-0123456789ab)")
    path = _folder(workspace) / f"{upload_id}.csv"
    if not path.exists():
        raise WorkspaceError(f"no upload {upload_id} in this workspace")
    return path
