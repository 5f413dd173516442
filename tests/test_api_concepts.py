"""API: AACA concept answers (seeds, save, one row per image and annotator, bad input)."""

from __future__ import annotations

import pytest
from test_api_support import make_client


@pytest.fixture()
def api():
    return make_client("concepts", author="server-default")


def test_seeds_then_answers_round_trip(api):
    client, run, _ = api
    seeds = client.get(f"/api/runs/{run.id}/concepts/seeds", params={"per_class": 3}).json()
    assert len(seeds) == 3 * len(run.classes)
    wrong = [not s["correct"] for s in seeds if s["label"] == run.classes[0]]
    assert wrong == sorted(wrong, reverse=True)
    img = seeds[0]["image_id"]
    r = client.post(f"/api/runs/{run.id}/concepts/answers",
                    json={"image_id": img, "confounded": "Brick; wall", "valid": "digit"})
    assert r.status_code == 201
    body = r.json()
    assert (body["author"], body["confounded"], body["valid"]) == ("server-default", ["brick", "wall"], ["digit"])
    again = client.post(f"/api/runs/{run.id}/concepts/answers",
                        json={"image_id": img, "confounded": "bricks", "valid": "digit"}).json()
    assert again["id"] == body["id"]  # the same annotator on the same image: one row
    listed = client.get(f"/api/runs/{run.id}/concepts/answers").json()
    assert [(a["id"], a["confounded"]) for a in listed] == [(body["id"], ["bricks"])]


def test_bad_answers_are_refused(api):
    client, run, _ = api
    url = f"/api/runs/{run.id}/concepts/answers"
    r = client.post(url, json={"image_id": "nope", "confounded": "x"})
    assert r.status_code == 422 and "image_id" in r.text
    img = run.samples.query("label >= 0")["id"].iloc[0]
    r = client.post(url, json={"image_id": img, "confounded": " ", "valid": ""})
    assert r.status_code == 422 and "names no concept" in r.text


def test_undo_last_answer_redo_and_supersede(api):
    """Undo withdraws the annotator's last answer durably (kept, ``undone``, in its
    history); redo restores it unless a newer answer on that image superseded it."""
    client, run, _ = api
    base = f"/api/runs/{run.id}/concepts/answers"
    a, b = run.samples.query("label >= 0")["id"].iloc[:2]
    first = client.post(base, json={"image_id": a, "confounded": "brick", "author": "ana"}).json()
    second = client.post(base, json={"image_id": b, "valid": "digit", "author": "ana"}).json()
    client.post(base, json={"image_id": b, "valid": "digit", "author": "bob"})
    r = client.post(f"{base}/undo-last", json={"author": "ana"})
    assert r.status_code == 200 and (r.json()["id"], r.json()["status"]) == (second["id"], "undone")
    active = client.get(base).json()
    assert sorted((x["author"], x["image_id"]) for x in active) == [("ana", a), ("bob", b)]
    every = client.get(base, params={"include_undone": True}).json()
    assert {x["id"]: x["status"] for x in every}[second["id"]] == "undone"
    assert client.post(f"{base}/{second['id']}/undo", json={}).status_code == 409
    assert client.post(f"{base}/{second['id']}/redo", json={"author": "ana"}).json()["status"] == "active"
    # undo twice: the newest answer first (b again, then a), then nothing left
    assert client.post(f"{base}/undo-last", json={"author": "ana"}).json()["id"] == second["id"]
    assert client.post(f"{base}/undo-last", json={"author": "ana"}).json()["id"] == first["id"]
    assert client.post(f"{base}/undo-last", json={"author": "ana"}).status_code == 409
    # a new answer on a supersedes the undone one, which can then not be redone
    new = client.post(base, json={"image_id": a, "confounded": "bricks", "author": "ana"}).json()
    assert new["id"] != first["id"]
    r = client.post(f"{base}/{first['id']}/redo", json={"author": "ana"})
    assert r.status_code == 409 and "superseded" in r.text
    assert [x["confounded"] for x in client.get(base).json() if x["author"] == "ana"] == [["bricks"]]
    assert client.post(f"{base}/999999/undo", json={}).status_code == 404


def test_alignment_without_a_repair_says_how_to_make_one(api):
    client, run, _ = api
    body = client.get(f"/api/runs/{run.id}/concepts/alignment").json()
    assert body["repairs"] == [] and "slicelens repair --strategy aaca" in body["detail"]
