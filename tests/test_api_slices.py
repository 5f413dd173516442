"""API: slice table, scatter payload, slice detail and members, lasso slices."""

from __future__ import annotations

import numpy as np
import pytest
from test_api_support import make_client


@pytest.fixture(scope="module")
def api():
    return make_client("slices")


def test_table_rows_match_members(api):
    client, run, ss = api
    body = client.get(f"/api/runs/{run.id}/slicesets/attribution").json()
    assert body["n_samples"] == len(ss.sample_ids) and body["has_layout"]
    s = run.samples.set_index("id")
    assert [r["id"] for r in body["slices"]] == [x.id for x in ss.slices]
    for row, sl in zip(body["slices"], ss.slices, strict=True):
        members = s.loc[sl.members]
        assert row["size"] == len(members)
        assert row["accuracy"] == pytest.approx(members["correct"].mean())
        assert row["confidence"] == pytest.approx(members["confidence"].mean())
        assert row["spuriousness"] is None and row["annotation"] is None
        # words (or the cell) on the first line, the confusion cell as second line
        assert row["description"] == sl.description
        assert row["confusion"] == sl.metrics["confusion_text"]
        assert row["bug_evidence"] == sl.evidence.get("explanation")


def test_points_payload_is_columnar_and_aligned(api):
    client, run, ss = api
    r = client.get(f"/api/runs/{run.id}/slicesets/attribution/points")
    n = int(r.headers["X-Count"])
    assert n == len(ss.sample_ids) and len(r.content) == 17 * n
    buf = r.content
    x = np.frombuffer(buf, "<f4", n, 0)
    y = np.frombuffer(buf, "<f4", n, 4 * n)
    sl = np.frombuffer(buf, "<i4", n, 8 * n)
    lab = np.frombuffer(buf, "<i2", n, 12 * n)
    pred = np.frombuffer(buf, "<i2", n, 14 * n)
    corr = np.frombuffer(buf, "<i1", n, 16 * n)
    np.testing.assert_array_equal(np.stack([x, y], 1), ss.layout)
    np.testing.assert_array_equal(sl, ss.labels)
    s = run.samples.set_index("id").loc[ss.sample_ids]
    np.testing.assert_array_equal(lab, s["label"])
    np.testing.assert_array_equal(pred, s["pred"])
    np.testing.assert_array_equal(corr, s["correct"].astype(int))


def test_a_point_names_its_sample_for_the_scatter_hover(api):
    client, run, ss = api
    base = f"/api/runs/{run.id}/slicesets/attribution/points"
    k = len(ss.sample_ids) // 2
    body = client.get(f"{base}/{k}").json()
    row = run.samples.set_index("id").loc[str(ss.sample_ids[k])]
    assert body["id"] == str(ss.sample_ids[k]) and body["label"] == row["label"]
    assert body["confidence"] == pytest.approx(row["confidence"])
    r = client.get(f"{base}/{len(ss.sample_ids)}")
    assert r.status_code == 404 and "out of range" in r.json()["detail"]


def test_detail_cells_name_label_and_prediction(api):
    client, run, ss = api
    sl = ss.slices[0]
    body = client.get(f"/api/runs/{run.id}/slicesets/attribution/slices/{sl.id}").json()
    assert body["row"]["id"] == sl.id
    s = run.samples.set_index("id").loc[sl.members]
    assert sum(c["n"] for c in body["cells"]) == len(s)
    for c in body["cells"]:
        a, b = ["a", "b"][c["label"]], ["a", "b"][c["pred"]]
        assert c["name"] == f"label: {a}; prediction: {b}"
        assert c["n"] == int(((s["label"] == c["label"]) & (s["pred"] == c["pred"])).sum())


def test_members_page_through_the_slice(api):
    client, run, ss = api
    sl = max(ss.slices, key=lambda x: x.size)
    url = f"/api/runs/{run.id}/slicesets/attribution/slices/{sl.id}/members"
    got = []
    for page in range(sl.size // 5 + 1):
        body = client.get(url, params={"page": page, "page_size": 5}).json()
        assert body["total"] == sl.size
        got += [it["id"] for it in body["items"]]
    assert got == sl.members.tolist()
    by_loss = client.get(url, params={"order": "loss", "page_size": 500}).json()["items"]
    losses = [it["loss"] for it in by_loss]
    assert losses == sorted(losses, reverse=True)
    cell = client.get(url, params={"label": 0, "pred": 1, "page_size": 500}).json()
    assert all(it["label"] == 0 and it["pred"] == 1 for it in cell["items"])


def test_lasso_selection_becomes_a_custom_slice(api):
    client, run, ss = api
    picked = [0, 3, 4, 9]
    r = client.post(f"/api/runs/{run.id}/slicesets/attribution/custom",
                    json={"indices": picked, "description": "odd corner"})
    assert r.status_code == 201
    row = r.json()
    assert row["id"] == "custom-01" and row["size"] == 4 and row["description"] == "odd corner"
    table = client.get(f"/api/runs/{run.id}/slicesets/custom").json()
    assert [x["id"] for x in table["slices"]] == ["custom-01"]
    members = client.get(f"/api/runs/{run.id}/slicesets/custom/slices/custom-01/members").json()
    assert sorted(it["id"] for it in members["items"]) == sorted(ss.sample_ids[picked].tolist())
    second = client.post(f"/api/runs/{run.id}/slicesets/attribution/custom", json={"indices": [1, 2, 5]})
    assert second.json()["id"] == "custom-02"
    assert "custom" in client.get(f"/api/runs/{run.id}").json()["slice_sets"]


@pytest.mark.parametrize("indices", [[], [-1], [10**6], [2**70]])
def test_lasso_rejects_positions_outside_the_layout(api, indices):
    client, run, _ = api
    r = client.post(f"/api/runs/{run.id}/slicesets/attribution/custom", json={"indices": indices})
    assert r.status_code == 422


@pytest.mark.parametrize("slicer", ["nope", "..x", "a%2F..%2Fb"])
def test_unknown_or_unsafe_slicer_names_fail_cleanly(api, slicer):
    client, run, _ = api
    r = client.get(f"/api/runs/{run.id}/slicesets/{slicer}")
    assert r.status_code in (404, 422)
