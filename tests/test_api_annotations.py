"""API: slice marks (create, edit, undo, redo, history) and propagated spuriousness."""

from __future__ import annotations

import pytest
from test_api_support import make_client


@pytest.fixture()
def api():
    return make_client("ann", author="server-default")


def _mark(client, run, slice_id, label="spurious", headers=None, **kw):
    return client.post(f"/api/runs/{run.id}/annotations", headers=headers or {},
                       json={"slicer": "attribution", "slice_id": slice_id, "label": label, **kw})


def test_mark_is_on_disk_when_the_response_arrives(api):
    from slicelens.store import Workspace

    client, run, ss = api
    r = _mark(client, run, ss.slices[1].id, description="brick", author="ana")
    assert r.status_code == 201
    body = r.json()
    # a separate connection (another process would see the same) finds the committed mark
    stored = Workspace(run.path.parent.parent, create=False).db.get(body["id"])
    assert (stored.label, stored.description, stored.author, stored.scope) == \
        ("spurious", "brick", "ana", "attribution")
    listed = client.get(f"/api/runs/{run.id}/annotations", params={"slicer": "attribution"}).json()
    assert [a["id"] for a in listed] == [body["id"]]


def test_default_author_and_bad_input(api):
    client, run, ss = api
    assert _mark(client, run, ss.slices[0].id).json()["author"] == "server-default"
    assert _mark(client, run, "no-such-slice").status_code == 400
    assert _mark(client, run, ss.slices[0].id, label="maybe").status_code == 422


def test_edit_undo_redo_keep_history(api):
    client, run, ss = api
    sid = ss.slices[2].id
    a = _mark(client, run, sid, label="core", author="ana").json()
    e = client.patch(f"/api/annotations/{a['id']}",
                     json={"label": "wrong_labels", "description": "7s flipped", "author": "bo"})
    assert e.json()["label"] == "wrong_labels" and e.json()["description"] == "7s flipped"
    u = client.post(f"/api/annotations/{a['id']}/undo", json={"author": "bo"})
    assert u.json()["status"] == "undone"
    assert client.post(f"/api/annotations/{a['id']}/undo", json={"author": "bo"}).status_code == 409
    assert client.patch(f"/api/annotations/{a['id']}", json={"label": "core"}).status_code == 409
    table = client.get(f"/api/runs/{run.id}/slicesets/attribution").json()
    assert next(r for r in table["slices"] if r["id"] == sid)["annotation"] is None
    client.post(f"/api/annotations/{a['id']}/redo", json={"author": "cy"})
    hist = client.get(f"/api/annotations/{a['id']}/history").json()
    assert [(h["action"], h["author"]) for h in hist] == \
        [("create", "ana"), ("edit", "bo"), ("undo", "bo"), ("redo", "cy")]
    table = client.get(f"/api/runs/{run.id}/slicesets/attribution").json()
    assert next(r for r in table["slices"] if r["id"] == sid)["annotation"]["label"] == "wrong_labels"
    assert client.get("/api/annotations/99999/history").status_code == 404


def test_marks_propagate_spuriousness_to_every_slice(api):
    client, run, ss = api
    url = f"/api/runs/{run.id}/slicesets/attribution"
    before = client.get(url + "/spuriousness").json()
    assert all(s["spuriousness"] is None for s in before["scores"])
    spur, core = ss.slices[0].id, ss.slices[-1].id
    _mark(client, run, spur, label="spurious")
    _mark(client, run, core, label="core")
    after = {s["slice_id"]: s for s in client.get(url + "/spuriousness").json()["scores"]}
    assert after[spur] == {"slice_id": spur, "spuriousness": 1.0, "source": "human"}
    assert after[core]["spuriousness"] == 0.0
    others = [v for k, v in after.items() if k not in (spur, core)]
    assert all(v["source"] == "propagated" for v in others)
    assert any(v["spuriousness"] is not None for v in others)
    # the slice table shows the same numbers (every view reads one source)
    table = {r["id"]: r for r in client.get(url).json()["slices"]}
    for k, v in after.items():
        assert table[k]["spuriousness"] == v["spuriousness"]
        assert table[k]["spuriousness_source"] == v["source"]


def test_spuriousness_follows_an_undo(api):
    client, run, ss = api
    url = f"/api/runs/{run.id}/slicesets/attribution/spuriousness"
    a = _mark(client, run, ss.slices[0].id).json()
    assert any(s["spuriousness"] is not None for s in client.get(url).json()["scores"])
    client.post(f"/api/annotations/{a['id']}/undo", json={})
    assert all(s["spuriousness"] is None for s in client.get(url).json()["scores"])


def test_slow_propagation_never_blocks_the_table(api, monkeypatch):
    import threading

    import slicelens.feedback.propagation as prop
    from slicelens.server import views

    client, run, ss = api
    gate = threading.Event()
    real = prop.spuriousness

    def slow(*a, **kw):  # a 100k-sample propagation takes minutes
        gate.wait(30)
        return real(*a, **kw)

    monkeypatch.setattr(prop, "spuriousness", slow)
    monkeypatch.setattr(views, "PROPAGATION_WAIT", 0.05)
    _mark(client, run, ss.slices[0].id)
    url = f"/api/runs/{run.id}/slicesets/attribution"
    first = client.get(url).json()
    assert first["spuriousness_pending"] and "propagating" in first["spuriousness_status"]
    assert all(r["spuriousness"] is None for r in first["slices"])
    gate.set()
    for _ in range(200):
        table = client.get(url).json()
        if not table["spuriousness_pending"]:
            break
        threading.Event().wait(0.05)
    assert table["slices"][0]["spuriousness"] == 1.0
    assert any(r["spuriousness"] is not None for r in table["slices"][1:])


def test_a_mark_follows_its_images_into_recomputed_slices(api):
    import dataclasses

    client, run, ss = api
    sid = ss.slices[1].id
    a = _mark(client, run, sid, label="spurious").json()
    # recompute: the same clusters, numbered in reverse; slice 0's images are split up
    ids = [s.id for s in ss.slices]
    moved = [dataclasses.replace(s, id=new) for s, new in zip(ss.slices, reversed(ids), strict=True)]
    moved[0] = dataclasses.replace(moved[0], members=moved[0].members[:1])
    dataclasses.replace(ss, slices=moved).save(run.path)
    now = ids[::-1][1]
    [listed] = client.get(f"/api/runs/{run.id}/annotations").json()
    assert (listed["target_id"], listed["slice_now"], listed["anchor"]) == (sid, now, "moved")
    table = client.get(f"/api/runs/{run.id}/slicesets/attribution").json()
    marked = {r["id"]: r["annotation"]["id"] for r in table["slices"] if r["annotation"]}
    assert marked == {now: a["id"]}


def test_concurrent_redo_gives_one_success_and_409s(api):
    from concurrent.futures import ThreadPoolExecutor

    client, run, ss = api
    a = _mark(client, run, ss.slices[0].id).json()
    client.post(f"/api/annotations/{a['id']}/undo", json={})
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: client.post(f"/api/annotations/{a['id']}/redo",
                                                    json={}).status_code, range(20)))
    assert sorted(set(codes)) == [200, 409] and codes.count(200) == 1


def test_idempotency_key_makes_retries_safe(api):
    client, run, ss = api
    key = {"Idempotency-Key": "mark-7f3a"}
    first = _mark(client, run, ss.slices[0].id, headers=key, description="water")
    again = _mark(client, run, ss.slices[0].id, headers=key, description="water")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len(client.get(f"/api/runs/{run.id}/annotations").json()) == 1
    other = _mark(client, run, ss.slices[0].id, headers=key, description="sky")
    assert other.status_code == 409
