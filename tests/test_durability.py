"""Durability under a real server process: marks survive ``kill -9`` mid-burst.

20 clients each send 50 marks with an ``Idempotency-Key`` and retry until the server
acknowledges (201). Part-way through the burst the server is killed with SIGKILL and
started again on the same port. Every acknowledged mark must be in the database exactly
once, retries must not duplicate, and SQLite's ``PRAGMA integrity_check`` must say ok.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import requests
from test_api_support import write_fixture_slices, write_synthetic_run

CLIENTS, MARKS = 20, 50
TOKEN = "annotator-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(ws, port, tokens):
    env = {**os.environ, "SLICELENS_QUIET": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "slicelens", "serve", "--workspace", str(ws),
                             "--port", str(port), "--no-browser", "--token-file", str(tokens)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            r = requests.get(f"http://127.0.0.1:{port}/api/runs", timeout=2,
                             headers={"Authorization": f"Bearer {TOKEN}"})
            if r.status_code == 200:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start in 60 s")


@pytest.mark.slow
def test_acknowledged_marks_survive_kill_9_without_duplicates(tmp_path):
    ws, run = write_synthetic_run(tmp_path / "ws", 80, n_images=0)
    ss = write_fixture_slices(run)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"annotator crowd {TOKEN}\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/runs/{run.id}/annotations"
    acked: dict[str, int] = {}  # idempotency key -> annotation id the server acknowledged
    lock = threading.Lock()
    errors: list[str] = []

    def client(c: int):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        for i in range(MARKS):
            key = f"client{c:02d}-mark{i:02d}"
            body = {"slicer": "attribution", "slice_id": ss.slices[(c + i) % len(ss.slices)].id,
                    "label": "spurious", "description": key}
            deadline = time.time() + 120
            while True:
                try:
                    r = session.post(url, json=body, headers={"Idempotency-Key": key}, timeout=10)
                except requests.RequestException:
                    r = None  # the server is down: retry, as a real client would
                if r is not None and r.status_code in (200, 201):
                    with lock:
                        if key in acked and acked[key] != r.json()["id"]:
                            errors.append(f"{key}: acknowledged twice as different marks")
                        acked[key] = r.json()["id"]
                    break
                if r is not None and r.status_code < 500 and r.status_code != 429:
                    errors.append(f"{key}: {r.status_code} {r.text[:200]}")
                    break
                if time.time() > deadline:
                    errors.append(f"{key}: never acknowledged")
                    break
                time.sleep(0.05)

    server = _start(ws.root, port, tokens)
    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        while len(acked) < CLIENTS * MARKS // 4 and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        before_kill = dict(acked)
        os.kill(server.pid, signal.SIGKILL)  # mid-burst: requests are in flight
        server.wait()
        server = _start(ws.root, port, tokens)
        for t in threads:
            t.join(timeout=300)
    finally:
        server.kill()
        server.wait()
    assert not errors, errors[:5]
    assert 0 < len(before_kill) < CLIENTS * MARKS  # the kill really came mid-burst
    assert len(acked) == CLIENTS * MARKS
    con = sqlite3.connect(ws.root / "slicelens.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = con.execute("SELECT id, description FROM annotations").fetchall()
    con.close()
    stored = {}
    for ann_id, description in rows:
        stored.setdefault(description, []).append(ann_id)
    duplicates = {k: v for k, v in stored.items() if len(v) > 1}
    assert not duplicates, list(duplicates.items())[:5]
    lost = [k for k, ann_id in acked.items() if stored.get(k) != [ann_id]]
    assert not lost, lost[:5]  # includes every mark acknowledged before the kill
    assert set(before_kill) <= set(stored)
