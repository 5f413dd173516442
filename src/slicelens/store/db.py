"""Human input (annotations, their history, crowd answers) in SQLite.

Human marks are the one thing slicelens cannot recompute, so they go to a database
written in transactions: WAL journal, ``synchronous=FULL`` (a commit is on disk before
the call returns), a 10 s busy timeout so concurrent writers queue instead of failing,
and one connection per thread and process (SQLite connections must not cross a fork).

Example
-------
>>> import tempfile
>>> st = AnnotationStore(tempfile.mkdtemp() + "/slicelens.db")
>>> i = st.add("run-0001-a", "slice", "s3", "spurious", "water background", author="ana")
>>> _ = st.edit(i, label="core", author="bo"); [a.label for a in st.list()]
['core']
>>> [e.action for e in st.history(i)]
['create', 'edit']
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from slicelens.errors import ConflictError, DataError, WorkspaceError
from slicelens.store.schema import LABELS, SCHEMA

_FIELDS = ("id", "run_id", "target_type", "target_id", "scope", "label", "description",
           "author", "created_at", "updated_at", "status")


@dataclass(frozen=True)
class Annotation:
    """One human mark on a slice, a sample or a concept (current state)."""

    id: int
    run_id: str
    target_type: str
    target_id: str
    scope: str
    label: str
    description: str
    author: str
    created_at: str
    updated_at: str
    status: str


@dataclass(frozen=True)
class Event:
    """One entry of an annotation's history; ``payload`` holds what changed."""

    id: int
    annotation_id: int
    action: str
    payload: dict
    author: str
    at: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def connect(path: str | os.PathLike) -> sqlite3.Connection:
    """A new connection configured for durable, concurrent use (one per thread/process)."""
    # autocommit mode (isolation_level=None): transactions are opened explicitly with
    # BEGIN IMMEDIATE in `transaction`, see there
    conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; commits on success, rolls back on any error.

    ``BEGIN IMMEDIATE`` takes the write lock up front (waiting up to the busy timeout).
    A deferred transaction that reads and then writes can instead fail at once with
    SQLITE_BUSY when another process committed in between, which is what
    ``with conn:`` would do for ``edit``/``undo``.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class AnnotationStore:
    """Annotations with full history, stored in one SQLite file.

    Parameters
    ----------
    path : str or Path
        Database file; created with the full schema if missing.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one transaction, so a kill mid-creation leaves no half schema
        self._conn().executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._local.conn = connect(self.path)
            self._local.pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writes ---------------------------------------------------------------------
    def add(self, run_id: str, target_type: str, target_id: str, label: str,
            description: str = "", author: str = "anonymous", scope: str = "",
            members=None, idempotency_key: str | None = None) -> int:
        """Record a new annotation; returns its id once the commit is on disk.

        ``members`` (sample ids, optional) are the images the mark was made on; they are
        committed in the same transaction (see :meth:`members`). With an
        ``idempotency_key``, a second call with the same key and the same request returns
        the first call's id and records nothing; the same key with another request is a
        :class:`ConflictError`.
        """
        _check_label(target_type, label)
        now = _now()
        row = dict(run_id=run_id, target_type=target_type, target_id=str(target_id),
                   scope=scope, label=label, description=description, author=author)
        request = json.dumps(row, sort_keys=True)
        with transaction(self._conn()) as c:
            if idempotency_key is not None:
                seen = c.execute("SELECT annotation_id, request FROM idempotency_keys "
                                 "WHERE key = ?", (idempotency_key,)).fetchone()
                if seen is not None:
                    if seen[1] != request:
                        raise ConflictError(f"idempotency key {idempotency_key[:40]!r} was "
                                            "used for another request")
                    return int(seen[0])
            c.execute("INSERT OR IGNORE INTO annotators (name, created_at) VALUES (?, ?)",
                      (author, now))
            cur = c.execute(
                "INSERT INTO annotations (run_id, target_type, target_id, scope, label, "
                "description, author, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (*row.values(), now, now))
            ann_id = cur.lastrowid
            assert ann_id is not None  # an INSERT sets it
            if members is not None:
                c.execute("INSERT INTO annotation_members (annotation_id, members) VALUES (?, ?)",
                          (ann_id, json.dumps([str(m) for m in members])))
            if idempotency_key is not None:
                c.execute("INSERT INTO idempotency_keys (key, annotation_id, request) "
                          "VALUES (?, ?, ?)", (idempotency_key, ann_id, request))
            self._event(c, ann_id, "create", row, author, now)
        return ann_id

    def edit(self, id: int, *, label: str | None = None, description: str | None = None,
             author: str) -> Annotation:
        """Change the label and/or description of an active annotation."""
        changes = {k: v for k, v in (("label", label), ("description", description)) if v is not None}
        if not changes:
            raise DataError("nothing to edit: give a label or a description", field="label")
        now = _now()
        with transaction(self._conn()) as c:
            old = self._get(c, id)
            if old.status != "active":
                raise ConflictError(f"annotation {id} is undone; redo it before editing")
            if "label" in changes:
                _check_label(old.target_type, changes["label"])
            c.execute("INSERT OR IGNORE INTO annotators (name, created_at) VALUES (?, ?)",
                      (author, now))
            sets = ", ".join(f"{k} = ?" for k in changes)
            c.execute(f"UPDATE annotations SET {sets}, updated_at = ? WHERE id = ?",
                      (*changes.values(), now, id))
            before = {k: getattr(old, k) for k in changes}
            self._event(c, id, "edit", {"before": before, "after": changes}, author, now)
            return self._get(c, id)

    def undo(self, id: int, author: str) -> Annotation:
        """Withdraw an annotation (kept, with status ``undone``, and in the history)."""
        return self._set_status(id, "undone", "undo", author)

    def redo(self, id: int, author: str) -> Annotation:
        """Reinstate an undone annotation."""
        return self._set_status(id, "active", "redo", author)

    def _set_status(self, id: int, status: str, action: str, author: str) -> Annotation:
        now = _now()
        with transaction(self._conn()) as c:
            old = self._get(c, id)
            if old.status == status:
                raise ConflictError(f"annotation {id} is already {status}")
            c.execute("INSERT OR IGNORE INTO annotators (name, created_at) VALUES (?, ?)",
                      (author, now))
            c.execute("UPDATE annotations SET status = ?, updated_at = ? WHERE id = ?",
                      (status, now, id))
            self._event(c, id, action, {"status": status}, author, now)
            return self._get(c, id)

    @staticmethod
    def _event(c, ann_id: int, action: str, payload: dict, author: str, at: str) -> None:
        c.execute("INSERT INTO annotation_events (annotation_id, action, payload, author, at) "
                  "VALUES (?,?,?,?,?)", (ann_id, action, json.dumps(payload), author, at))

    # -- reads ----------------------------------------------------------------------
    @staticmethod
    def _get(c, id: int) -> Annotation:
        row = c.execute(f"SELECT {', '.join(_FIELDS)} FROM annotations WHERE id = ?",
                        (int(id),)).fetchone()
        if row is None:
            raise WorkspaceError(f"no annotation with id {id}")
        return Annotation(*row)

    def get(self, id: int) -> Annotation:
        """One annotation by id (missing: :class:`WorkspaceError`)."""
        return self._get(self._conn(), id)

    def list(self, run_id: str | None = None, target_type: str | None = None,
             scope: str | None = None, include_undone: bool = False) -> list[Annotation]:
        """Annotations matching every given filter, oldest first."""
        where, args = [], []
        for col, val in (("run_id", run_id), ("target_type", target_type), ("scope", scope)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if not include_undone:
            where.append("status = 'active'")
        sql = f"SELECT {', '.join(_FIELDS)} FROM annotations"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Annotation(*r) for r in self._conn().execute(sql + " ORDER BY id", args)]

    def members(self, ids) -> dict[int, builtins.list[str]]:
        """Annotation id -> the sample ids it was made on (ids stored without any: absent)."""
        ids = [int(i) for i in ids]
        out: dict[int, list[str]] = {}
        for k in range(0, len(ids), 500):  # SQLite caps the number of bound parameters
            chunk = ids[k:k + 500]
            rows = self._conn().execute(
                "SELECT annotation_id, members FROM annotation_members WHERE annotation_id IN "
                f"({', '.join('?' * len(chunk))})", chunk)
            out.update((r[0], json.loads(r[1])) for r in rows)
        return out

    def history(self, id: int) -> builtins.list[Event]:
        """Every event of one annotation, oldest first."""
        self.get(id)
        rows = self._conn().execute(
            "SELECT id, annotation_id, action, payload, author, at FROM annotation_events "
            "WHERE annotation_id = ? ORDER BY id", (int(id),))
        return [Event(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]


def _check_label(target_type: str, label: str) -> None:
    if target_type not in LABELS:
        raise DataError(f"unknown target type {target_type!r}; expected one of "
                        f"{', '.join(LABELS)}", field="target_type")
    allowed = LABELS[target_type]
    if not isinstance(label, str) or not label.strip():
        raise DataError("an annotation needs a non-empty label", field="label")
    if allowed is not None and label not in allowed:
        raise DataError(f"label {label!r} is not allowed for a {target_type} annotation; "
                        f"expected one of {', '.join(sorted(allowed))}", field="label")
