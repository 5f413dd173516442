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
