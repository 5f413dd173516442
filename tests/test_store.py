"""Workspace store: annotation database (durability, concurrency), atomic writes, runs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import write_synthetic_run

from slicelens.errors import DataError, WorkspaceError
from slicelens.store import Annotation, AnnotationStore, Run, Workspace, atomic
from slicelens.store.db import connect


def test_schema_is_created(tmp_path):
    AnnotationStore(tmp_path / "a.db")
    conn = sqlite3.connect(tmp_path / "a.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"annotators", "annotations", "annotation_events", "concept_answers"} <= tables
    cols = [r[1] for r in conn.execute("PRAGMA table_info(annotations)")]
    assert cols == ["id", "run_id", "target_type", "target_id", "scope", "label", "description",
                    "author", "created_at", "updated_at", "status"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    c = connect(tmp_path / "a.db")
    assert c.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_add_edit_undo_redo_history(tmp_path):
    st = AnnotationStore(tmp_path / "a.db")
    i = st.add("run-0001-x", "slice", "3", "spurious", "water", author="ana", scope="domino")
    j = st.add("run-0001-x", "sample", "s17", "blurry")
    st.add("run-0002-y", "concept", "water", "valid", scope="bird")
    assert isinstance(i, int)
    a = st.edit(i, label="core", author="bo")
    assert isinstance(a, Annotation) and a.label == "core" and a.description == "water"
    assert [x.id for x in st.list(run_id="run-0001-x")] == [i, j]
    assert [x.id for x in st.list(target_type="slice", scope="domino")] == [i]
    st.undo(i, author="ana")
    assert [x.id for x in st.list(run_id="run-0001-x")] == [j]
    assert st.list(run_id="run-0001-x", include_undone=True)[0].status == "undone"
    with pytest.raises(WorkspaceError, match="undone"):
        st.edit(i, label="spurious", author="ana")
    st.redo(i, author="ana")
    ev = st.history(i)
    assert [e.action for e in ev] == ["create", "edit", "undo", "redo"]
    assert ev[1].payload == {"before": {"label": "spurious"}, "after": {"label": "core"}}
    assert [e.author for e in ev] == ["ana", "bo", "ana", "ana"]
    names = {r[0] for r in connect(tmp_path / "a.db").execute("SELECT name FROM annotators")}
    assert names == {"ana", "bo", "anonymous"}
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with connect(tmp_path / "a.db") as c:
            c.execute("DELETE FROM annotation_events")
    with pytest.raises(WorkspaceError, match="no annotation"):
        st.history(999)


def test_bad_label_names_the_field(tmp_path):
    st = AnnotationStore(tmp_path / "a.db")
    with pytest.raises(DataError, match="field 'label'") as e:
        st.add("r", "slice", "1", "interesting")
    assert e.value.field == "label" and "spurious" in str(e.value)
    with pytest.raises(DataError, match="field 'target_type'"):
        st.add("r", "pixel", "1", "core")
    i = st.add("r", "concept", "c", "valid")
    with pytest.raises(DataError, match="field 'label'"):
        st.edit(i, label="core", author="x")
    assert st.list() == [st.get(i)] and st.get(i).label == "valid"


_ADD = """
import sys
from slicelens.store import AnnotationStore
st = AnnotationStore(sys.argv[1])
for k in range(int(sys.argv[2])):
    st.add("run-1", "sample", f"{sys.argv[3]}-{k}", "note", author=sys.argv[3])
print("ack", flush=True)
if sys.argv[4] == "hang":
    import time; time.sleep(60)
"""


def test_acknowledged_mark_survives_sigkill(tmp_path):
    db = tmp_path / "a.db"
    p = subprocess.Popen([sys.executable, "-c", _ADD, str(db), "1", "w", "hang"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ack"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    assert p.returncode == -signal.SIGKILL
    assert [a.target_id for a in AnnotationStore(db).list()] == ["w-0"]


def test_two_writers_lose_nothing(tmp_path):
    db = tmp_path / "a.db"
    AnnotationStore(db)
    procs = [subprocess.Popen([sys.executable, "-c", _ADD, str(db), "100", w, "exit"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in ("p", "q")]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out.strip() == "ack", err
    marks = AnnotationStore(db).list()
    assert len(marks) == 200 and len({a.target_id for a in marks}) == 200
    assert connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "x.npy"
    atomic.save_npy(target, np.arange(3))

    def boom(_fd):
        raise OSError("disk gone")  # after the data is written, before the rename

    monkeypatch.setattr(atomic.os, "fsync", boom)
    for write in (lambda: atomic.save_npy(target, np.arange(1000)),
                  lambda: atomic.write_parquet(tmp_path / "s.parquet", pd.DataFrame({"a": [1]})),
                  lambda: atomic.write_json(tmp_path / "r.json", {"a": 1})):
        with pytest.raises(OSError, match="disk gone"):
            write()
    monkeypatch.undo()
    assert np.load(target).tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]  # no partial, no tmp
    atomic.write_json(tmp_path / "r.json", {"a": 1})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}


def _fake_run(path, status="complete"):
    write_synthetic_run(path, [0, 1], [0, 1], ["val", "val"], ids=["x", "y"],
                        features=np.zeros((2, 2)), record={"status": status})


def test_workspace_runs_and_errors(tmp_path):
    with pytest.raises(WorkspaceError, match="no slicelens workspace"):
        Workspace(tmp_path / "ws", create=False)
    ws = Workspace(tmp_path / "ws")
    assert (ws.root / "workspace.json").exists() and (ws.root / "runs").is_dir()
    with pytest.raises(WorkspaceError, match="no complete run"):
        ws.latest_run()
    ids = [ws.new_run_dir(p)[0] for p in ("small cnn", "b", "c")]
    assert ids == ["run-0001-small-cnn", "run-0002-b", "run-0003-c"]
    _fake_run(ws.run_path(ids[0]))
    _fake_run(ws.run_path(ids[1]))
    _fake_run(ws.run_path(ids[2]), status="running")
    assert [r.id for r in ws.runs()] == ids[:2]
    assert len(ws.runs(include_incomplete=True)) == 3
    assert ws.latest_run().id == ids[1] and ws.run(ids[0]).classes == ["a", "b"]
    run = ws.run(ids[0])
    assert run.array("fw").shape == (2, 2) and run.samples["id"].tolist() == ["x", "y"]
    with pytest.raises(WorkspaceError, match="run-0001-small-cnn, run-0002-b"):
        ws.run("run-0009-nope")
    with pytest.raises(WorkspaceError, match="resume"):
        ws.run(ids[2])
    with pytest.raises(WorkspaceError, match="resume"):
        Run(ws.run_path(ids[2])).array("maps")
    i = ws.db.add(ids[0], "slice", "1", "core")
    assert Workspace(tmp_path / "ws", create=False).db.get(i).label == "core"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "f.txt").write_text("x")
    with pytest.raises(WorkspaceError, match="not a slicelens workspace"):
        Workspace(tmp_path / "other")


def test_conflicting_status_changes_and_idempotency_keys(tmp_path):
    from slicelens.errors import ConflictError
    from slicelens.store.db import AnnotationStore

    db = AnnotationStore(tmp_path / "a.db")
    i = db.add("r", "slice", "s1", "core", author="ana", idempotency_key="k-1")
    assert db.add("r", "slice", "s1", "core", author="ana", idempotency_key="k-1") == i
    assert len(db.list()) == 1 and len(db.history(i)) == 1
    with pytest.raises(ConflictError, match="used for another request"):
        db.add("r", "slice", "s1", "spurious", author="ana", idempotency_key="k-1")
    assert db.add("r", "slice", "s1", "core", author="ana", idempotency_key="k-2") != i
    with pytest.raises(ConflictError, match="already active"):
        db.redo(i, "bo")
    db.undo(i, "bo")
    with pytest.raises(ConflictError, match="already undone"):
        db.undo(i, "bo")


def test_a_database_from_before_mark_members_is_upgraded_in_place(tmp_path):
    import sqlite3

    from slicelens.store.db import AnnotationStore
    from slicelens.store.schema import SCHEMA

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    cut = SCHEMA.index("-- the sample ids a slice mark")  # the schema before this issue
    old.executescript(SCHEMA[:cut])
    old.execute("INSERT INTO annotators VALUES ('ana', 'then')")
    old.execute("INSERT INTO annotations (run_id, target_type, target_id, label, author, "
                "created_at, updated_at) VALUES ('r', 'slice', 's1', 'core', 'ana', 't', 't')")
    old.commit()
    old.close()
    db = AnnotationStore(path)
    assert [a.target_id for a in db.list()] == ["s1"] and db.members([1]) == {}
    i = db.add("r", "slice", "s2", "spurious", members=["a", "b"], idempotency_key="k")
    assert db.members([1, i]) == {i: ["a", "b"]}
