"""API: who may reach the server and what it opens (issue 11, items 4-5): the Host
check, the body limit without echo, the bounded job queue, tokens and roles, and job
requests that never open a path sent by the client."""

from __future__ import annotations

import threading

import pytest
from test_api_support import make_client

from slicelens.server.auth import Caller, load_tokens

ANN, ADMIN = "annotator-token-0123456789", "admin-token-0123456789xyz"
TOKENS = {ANN: Caller(name="ana", role="annotator"), ADMIN: Caller(name="bo", role="admin")}


@pytest.fixture()
def api():
    return make_client("sec", max_body_bytes=4096, max_jobs=2)


def _mark(client, run, slice_id, headers=None, **kw):
    return client.post(f"/api/runs/{run.id}/annotations", headers=headers or {},
                       json={"slicer": "attribution", "slice_id": slice_id, "label": "core", **kw})


def test_only_loopback_host_names_are_served(api):
    client, run, ss = api
    assert client.get("/api/health").status_code == 200
    for host in ("attacker.example", "attacker.example:8765", "127.0.0.1.evil.example"):
        assert client.get("/api/health", headers={"Host": host}).status_code == 400
        assert _mark(client, run, ss.slices[0].id, headers={"Host": host}).status_code == 400
    assert client.get(f"/api/runs/{run.id}/annotations").json() == []  # nothing was stored
    for host in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
        assert client.get("/api/health", headers={"Host": host}).status_code == 200


def test_large_bodies_get_413_and_nothing_is_echoed(api):
    client, run, ss = api
    big = "x" * 50_000
    r = _mark(client, run, ss.slices[0].id, description=big)
    assert r.status_code == 413 and "xxxx" not in r.text and len(r.content) < 200
    # a streamed body (no Content-Length) is counted and cut off at the limit
    chunks = iter([b'{"slicer": "attribution", "description": "', b"z" * 8000, b'"}'])
    r = client.post(f"/api/runs/{run.id}/annotations", content=chunks,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "zzzz" not in r.text
    # a body under the limit that fails validation is reported without its input
    r = client.post(f"/api/runs/{run.id}/annotations",
                    json={"slicer": "attribution", "slice_id": "s", "label": "y" * 3000})
    assert r.status_code == 422 and "yyyy" not in r.text
    assert r.json()["detail"][0]["loc"][-1] == "label"


def test_the_job_queue_is_bounded(api):
    client, run, _ = api
    gate = threading.Event()
    jobs = client.app.state.slicelens.jobs
    held = [jobs.submit("hold", lambda report: gate.wait(30)) for _ in range(2)]
    r = client.post(f"/api/runs/{run.id}/compare/jobs", json={"baseline": run.id})
    assert r.status_code == 429 and "retry" in r.json()["detail"]
    gate.set()
    for job in held:
        jobs.wait(job.id, timeout=30)
    assert client.post(f"/api/runs/{run.id}/compare/jobs",
                       json={"baseline": run.id}).status_code == 202


def test_tokens_roles_and_authors():
    client, run, ss = make_client("tok", tokens=TOKENS)
    sid = ss.slices[0].id
    assert client.get("/api/runs").status_code == 401
    assert client.get("/api/runs", headers={"Authorization": "Bearer wrong-token-0123456789"}
                      ).status_code == 401
    ann = {"Authorization": f"Bearer {ANN}"}
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get("/api/runs", headers=ann).status_code == 200
    # an annotator marks, under the token's name whatever author the body claims
    r = _mark(client, run, sid, headers=ann, author="admin")
    assert r.status_code == 201 and r.json()["author"] == "ana"
    # ... but starts no job (repair, retraining, slicing, comparison)
    for path, body in ((f"/api/runs/{run.id}/repair/jobs", {"strategy": "corm"}),
                       (f"/api/runs/{run.id}/compare/jobs", {"baseline": run.id}),
                       (f"/api/runs/{run.id}/slicesets/attribution/jobs", {})):
        assert client.post(path, json=body, headers=ann).status_code == 403
    assert client.post(f"/api/runs/{run.id}/compare/jobs", json={"baseline": run.id},
                       headers=admin).status_code == 202
    # a browser opens /?token=... once; the cookie then carries it
    r = client.get(f"/?token={ANN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/api/runs").status_code == 200
    client.cookies.clear()
    assert client.get("/?token=nope", follow_redirects=False).status_code == 401


def test_without_tokens_the_server_stays_on_loopback(tmp_path):
    from pydantic import ValidationError

    from slicelens.server import Settings

    with pytest.raises(ValidationError, match="drop --no-auth"):
        Settings(workspace=tmp_path, host="0.0.0.0")
    s = Settings(workspace=tmp_path, host="192.168.1.5", tokens=TOKENS)
    assert "192.168.1.5" in s.allowed_hosts and "attacker.example" not in s.allowed_hosts


def test_token_file_errors_name_file_and_row(tmp_path):
    f = tmp_path / "tokens.txt"
    f.write_text(f"# who\nadmin bo {ADMIN}\nannotator ana {ANN}\n")
    assert load_tokens(f) == TOKENS
    from slicelens.errors import DataError

    f.write_text(f"admin bo {ADMIN}\nboss cy {ANN}\n")
    with pytest.raises(DataError, match=r"unknown role 'boss'.*row 2, field 'role'"):
        load_tokens(f)
    f.write_text("admin bo short\n")
    with pytest.raises(DataError, match="field 'token'"):
        load_tokens(f)


def test_jobs_address_runs_by_id_and_open_no_client_path(api, tmp_path):
    client, run, _ = api
    answers = set()
    for baseline in ("../../other/runs/run-0001-x", "../" * 8 + "etc", "/etc", "..",
                     "../../nonexistent-folder"):
        r = client.post(f"/api/runs/{run.id}/compare/jobs", json={"baseline": baseline})
        assert r.status_code == 422
        answers.add(r.text.replace(baseline, "<id>"))
    assert len(answers) == 1  # the same answer whether or not such a folder exists
    assert client.post(f"/api/runs/{run.id}/compare/jobs",
                       json={"baseline": "run-0099-none"}).status_code == 404
    for params in ({"oracle": "/etc/shadow"}, {"oracle": "oracle.csv"},
                   {"ground_truth": "gt.csv"}, {"nested": {"x": "../../secret"}}):
        r = client.post(f"/api/runs/{run.id}/repair/jobs",
                        json={"strategy": "select", "params": params})
        assert r.status_code == 422 and "does not open files" in r.json()["detail"]
        assert "root:" not in r.text and client.app.state.slicelens.jobs.list() == []
    r = client.post(f"/api/runs/{run.id}/tda/jobs", json={"error_group": "../../x:slice-1"})
    assert r.status_code == 422


def test_workspace_refuses_run_ids_that_are_paths(tmp_path):
    from slicelens.errors import WorkspaceError
    from slicelens.store import Workspace

    ws = Workspace(tmp_path / "ws")
    (tmp_path / "outside").mkdir()
    for bad in ("../outside", "../../etc", "/etc", "a/b", ".."):
        with pytest.raises(WorkspaceError, match="is not a run id"):
            ws.run_path(bad)


def test_serve_refuses_other_interfaces_without_auth(tmp_path, capsys):
    from slicelens.cli import main
    from slicelens.store import Workspace

    Workspace(tmp_path)
    assert main(["serve", "--workspace", str(tmp_path), "--host", "0.0.0.0", "--no-browser",
                 "--no-auth"]) == 2
    assert "binds to 127.0.0.1 only; drop --no-auth" in capsys.readouterr().err
    bad = tmp_path / "tokens.txt"
    bad.write_text("root admin\n")
    assert main(["serve", "--workspace", str(tmp_path), "--token-file", str(bad),
                 "--no-browser"]) == 2
    assert f"file {bad}, row 1" in capsys.readouterr().err


def test_serve_makes_tokens_shown_once_and_stores_only_their_hash(tmp_path, capsys):
    from slicelens.cli import main
    from slicelens.server.auth import WORKSPACE_TOKENS, find_caller, load_tokens
    from slicelens.store import Workspace

    Workspace(tmp_path)
    assert main(["serve", "--workspace", str(tmp_path), "--add-token", "annotator:ana"]) == 0
    token = capsys.readouterr().out.splitlines()[1]
    store = tmp_path / WORKSPACE_TOKENS
    text = store.read_text()
    assert token not in text and "annotator ana sha256:" in text
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    tokens = load_tokens(store)
    assert find_caller(tokens, token).name == "ana"
    # one character changed (to one it is not: a random token ends in "x" 1 time in 64)
    assert find_caller(tokens, token[:-1] + ("y" if token.endswith("x") else "x")) is None
    # a new token for the same person replaces the old one; revoking removes it
    main(["serve", "--workspace", str(tmp_path), "--add-token", "admin:ana"])
    second = capsys.readouterr().out.splitlines()[1]
    tokens = load_tokens(store)
    assert find_caller(tokens, token) is None and find_caller(tokens, second).role == "admin"
    assert main(["serve", "--workspace", str(tmp_path), "--revoke-token", "ana"]) == 0
    assert "ana" not in store.read_text()
    assert main(["serve", "--workspace", str(tmp_path), "--add-token", "root:bo"]) == 2
    assert "unknown role 'root'" in capsys.readouterr().err


def test_serve_starts_with_a_fresh_admin_token(tmp_path, monkeypatch, capsys):
    """Without --no-auth every start makes an admin token, prints it once in the address,
    and the app it starts refuses requests without a token."""
    import uvicorn
    from fastapi.testclient import TestClient

    from slicelens.cli import main
    from slicelens.store import Workspace

    Workspace(tmp_path)
    main(["serve", "--workspace", str(tmp_path), "--add-token", "annotator:ana"])
    ana = capsys.readouterr().out.splitlines()[1]
    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    assert main(["serve", "--workspace", str(tmp_path), "--no-browser", "--author", "lead",
                 "--host", "0.0.0.0"]) == 0
    out = capsys.readouterr().out
    own = out.split("?token=")[1].split()[0]
    assert "your admin token as lead (shown once" in out and "1 other tokens" in out
    client = TestClient(started["app"], base_url="http://127.0.0.1")
    assert client.get("/api/runs").status_code == 401
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {own}"}).status_code == 200
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {ana}"}).status_code == 200
    assert started["host"] == "0.0.0.0"
    # --no-auth on loopback: open, and it says so
    assert main(["serve", "--workspace", str(tmp_path), "--no-browser", "--no-auth"]) == 0
    assert "no authentication, loopback only" in capsys.readouterr().out
    assert TestClient(started["app"], base_url="http://127.0.0.1").get("/api/runs").status_code == 200


def test_label_oracles_are_uploaded_and_named_by_id(api, monkeypatch):
    """The web client cannot name an oracle file; it uploads it and gives the id."""
    import time

    client, run, _ = api
    csv = b"id,true_label\nimg/000001.png,a\n"
    r = client.post("/api/uploads/oracles", params={"name": "../../labels.csv"}, content=csv,
                    headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["name"] == "labels.csv" and up["rows"] == 1 and up["id"].startswith("oracle-")
    again = client.post("/api/uploads/oracles", content=csv).json()
    assert again["id"] == up["id"]  # content addressed
    assert [u["id"] for u in client.get("/api/uploads/oracles").json()] == [up["id"]]
    bad = client.post("/api/uploads/oracles", content=b"path,label\nx,a\n")
    assert bad.status_code == 422 and "'id' column" in bad.json()["detail"]
    seen = {}

    def fake_run_repair(workspace, base, strategy, params, train_cfg=None, progress=None):
        seen.update(params)
        raise RuntimeError("stop here")

    monkeypatch.setattr("slicelens.pipeline.repair.run_repair", fake_run_repair)
    r = client.post(f"/api/runs/{run.id}/repair/jobs", json={
        "strategy": "random-select", "params": {"oracle": up["id"], "budget": 5}})
    assert r.status_code == 202
    for _ in range(100):
        if client.get(f"/api/jobs/{r.json()['id']}").json()["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    stored = run.path.parent.parent / "uploads" / f"{up['id']}.csv"
    assert seen["oracle"] == str(stored) and stored.read_bytes() == csv
    assert client.post(f"/api/runs/{run.id}/repair/jobs", json={
        "strategy": "random-select", "params": {"oracle": "oracle-000000000000"}}).status_code == 404


def test_the_app_page_asks_for_a_token_when_the_browser_has_none(tmp_path):
    from fastapi.testclient import TestClient
    from test_api_support import write_synthetic_run

    from slicelens.server import Settings, create_app
    from slicelens.server.auth import Caller

    ws, _ = write_synthetic_run(tmp_path / "ws", 8, n_images=0)
    token = "page-token-0123456789abcdef"
    app = create_app(Settings(workspace=ws.root, tokens={token: Caller(name="a", role="admin")}))
    client = TestClient(app, base_url="http://127.0.0.1")
    r = client.get("/")
    assert r.status_code == 401 and "This server needs a token" in r.text
    assert client.get(f"/?token={token}", follow_redirects=True).status_code == 200
    assert "needs a token" not in client.get("/").text  # the cookie now carries it
