"""API: background jobs, and the routers whose work runs as jobs (slicing, mosaic,
attributes, training-data attribution, repair and comparison)."""

from __future__ import annotations

import time

import pytest
from test_api_support import make_client, write_synthetic_run

from slicelens.evaluate.report import EvaluationReport
from slicelens.server.jobs import JobManager


@pytest.fixture(scope="module")
def api():
    return make_client("jobs", n=160)


def poll(client, job: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        j = client.get(f"/api/jobs/{job['id']}").json()
        if j["status"] in ("done", "failed"):
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not end in {timeout} s")


def test_job_manager_reports_progress_results_and_errors():
    from slicelens.errors import DataError

    jm = JobManager()
    seen = []

    def work(report):
        report(0.5, "half")
        seen.append((jm.list()[0].progress, jm.list()[0].message))
        return {"x": 1}

    job = jm.submit("t", work)
    assert jm.wait(job.id).result == {"x": 1} and seen == [(0.5, "half")]
    assert job.status == "done" and job.progress == 1.0 and job.finished_at

    def bad(report):
        raise DataError("broken input", field="f")

    failed = jm.wait(jm.submit("t", bad).id)
    assert failed.status == "failed" and "broken input (field 'f')" in failed.error


def test_unknown_job_is_404(api):
    client, _, _ = api
    assert client.get("/api/jobs/nope").status_code == 404


def test_slicing_job_fits_and_stores_a_slice_set(api):
    client, run, _ = api
    assert client.post(f"/api/runs/{run.id}/slicesets/nope/jobs", json={}).status_code == 400
    r = client.post(f"/api/runs/{run.id}/slicesets/error-clustering/jobs", json={"params": {}})
    assert r.status_code == 202
    job = poll(client, r.json())
    assert job["status"] == "done", job["error"]
    table = client.get(f"/api/runs/{run.id}/slicesets/error-clustering").json()
    assert len(table["slices"]) == job["result"]["n_slices"] > 0
    assert "error-clustering" in client.get("/api/runs").json()[0]["slice_sets"]
    # the training-label check runs beside it; this run has no training split: said so
    assert "labelled 'train' samples" in job["result"]["label_check"]["skipped"]
    assert job in client.get("/api/jobs").json()


def test_mosaic_status_tiles_and_job(api, monkeypatch):
    client, run, ss = api
    url = f"/api/runs/{run.id}/slicesets/attribution/mosaic"
    st = client.get(url).json()
    assert not st["computed"] and st["missing"] == [s.id for s in ss.slices]
    assert f"--run {run.id}" in st["command"]
    calls = []

    def fake_make_mosaic(r, slicer):  # the library's inversion is tested in its own suite
        from PIL import Image

        calls.append((r.id, slicer))
        d = run.path / "mosaic" / slicer
        d.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(ss.slices[:2]):
            Image.new("RGB", (8, 8), (i * 100, 0, 0)).save(d / f"{s.id}.png")

    monkeypatch.setattr("slicelens.pipeline.slices.make_mosaic", fake_make_mosaic)
    job = poll(client, client.post(url + "/jobs").json())
    assert job["status"] == "done" and calls == [(run.id, "attribution")]
    st = client.get(url).json()
    assert st["computed"] and st["tiles"] == [s.id for s in ss.slices[:2]]
    tile = client.get(f"{url}/{ss.slices[1].id}.png")
    assert tile.content == (run.path / "mosaic" / "attribution" / f"{ss.slices[1].id}.png").read_bytes()
    assert client.get(f"{url}/{ss.slices[3].id}.png").status_code == 404
    assert client.get(f"{url}/not-a-slice.png").status_code == 400


def test_attributes_histograms_and_editing(api):
    from slicelens.attributes.base import Attribute, AttributeSpec
    from slicelens.pipeline.attributes import load_spec, save_spec

    client, run, _ = api
    url = f"/api/runs/{run.id}/attributes"
    assert client.get(url).json()["status"].startswith("not computed")
    # image-statistics attributes: offline and fast (the zero-shot backends take minutes)
    save_spec(run, AttributeSpec([Attribute("brightness", backend="stats", measure="brightness"),
                                  Attribute("contrast", backend="stats", measure="contrast")]))
    job = poll(client, client.post(url + "/jobs", json={"backend": "default"}).json(), 300)
    assert job["status"] == "done", job["error"]
    body = client.get(url).json()
    assert body["status"] == "ok" and body["attributes"]
    n_val = int((run.samples["split"] == "val").sum())
    val = run.samples[run.samples["split"] == "val"]
    assert body["overall_accuracy"] == pytest.approx(val["correct"].astype(float).mean())
    for a in body["attributes"]:
        assert sum(b["n"] for b in a["histogram"]) == n_val
        # accuracy per value: the labelled samples with it, right / all, interval around it
        assert sum(b["n_labeled"] for b in a["histogram"]) == n_val
        right = sum(b["accuracy"] * b["n_labeled"] for b in a["histogram"] if b["n_labeled"])
        assert right == pytest.approx(val["correct"].sum())
        for b in a["histogram"]:
            if b["n_labeled"]:
                assert b["acc_low"] <= b["accuracy"] <= b["acc_high"]
    first = body["attributes"][0]
    edited = client.put(url, json={"name": first["name"], "new_name": "renamed",
                                   "values": ["low", " high ", ""]}).json()
    assert edited["source"] == "edited"
    spec = load_spec(run.path)
    assert spec.get("renamed").values == ["low", "high"]
    assert client.put(url, json={"name": "nope"}).status_code == 422
    assert body["has_bug_slices"] == ("attributes" in client.get(f"/api/runs/{run.id}").json()["slice_sets"])


def test_training_data_attribution_table_and_group_images(api):
    client, run, _ = api
    r = client.post(f"/api/runs/{run.id}/tda/jobs",
                    json={"error_group": "a->b", "params": {"exact": False}})
    assert r.status_code == 202, r.text
    job = poll(client, r.json(), 300)
    assert job["status"] == "done", job["error"]
    listed = client.get(f"/api/runs/{run.id}/tda").json()
    assert [x["key"] for x in listed] == [job["result"]["key"]]
    res = client.get(f"/api/runs/{run.id}/tda/{job['result']['key']}").json()
    assert len(res["rows"]) == job["result"]["n_rows"] > 0
    assert [x["rank"] for x in res["rows"]] == list(range(1, len(res["rows"]) + 1))
    s = run.samples
    assert res["n_errors"] == int(((s["split"] == "val") & (s["label"] == 0) & (s["pred"] == 1)).sum())
    from slicelens.tda.result import TDAResult

    stored = TDAResult.load(run.path / "tda" / f"{res['key']}.json")
    members = client.get(f"/api/runs/{run.id}/tda/{res['key']}/rows/1/members",
                         params={"page_size": 500}).json()
    assert sorted(m["id"] for m in members["items"]) == sorted(stored.row(1).group.ids.tolist())
    bad = client.post(f"/api/runs/{run.id}/tda/jobs", json={"error_group": "no group"})
    assert bad.status_code == 422


def test_applying_a_tda_row_retrains_as_a_job(api, monkeypatch):
    client, run, _ = api
    key = client.get(f"/api/runs/{run.id}/tda").json()[0]["key"]
    applied = []

    def fake_apply_row(workspace, base, result, rank, *a, **kw):  # retraining: library tests
        applied.append((base.id, result.row(rank).rank))
        return write_synthetic_run(run.path.parent.parent, 10, seed=5, n_images=0)[1]

    monkeypatch.setattr("slicelens.pipeline.tda.apply_row", fake_apply_row)
    job = poll(client, client.post(f"/api/runs/{run.id}/tda/{key}/rows/2/apply").json())
    assert job["status"] == "done" and applied == [(run.id, 2)]
    assert job["result"]["run"] in [r["id"] for r in client.get("/api/runs").json()]
    assert client.post(f"/api/runs/{run.id}/tda/{key}/rows/99999/apply").status_code == 400


def test_repair_job_makes_a_run_and_a_comparison(api, tmp_path, monkeypatch):
    from slicelens.repair.base import load_repairs
    from slicelens.repair.plan import TrainingPlan

    client, run, _ = api
    strategies = client.get("/api/repair/strategies").json()
    assert [s["name"] for s in strategies] == sorted(load_repairs())
    assert all("properties" in s["params_schema"] for s in strategies)
    assert client.post(f"/api/runs/{run.id}/repair/jobs", json={"strategy": "nope"}).status_code == 400
    ws_root = run.path.parent.parent
    progress = []

    def fake_run_repair(workspace, base, strategy, params, train_cfg=None, progress=None):
        # retraining is the library's business; the route must pass things through
        progress(0.5, "training")
        _, new = write_synthetic_run(ws_root, len(base.samples), seed=3, n_images=0)
        return TrainingPlan(strategy=strategy, remove=["x"]), new

    def fake_evaluate(workspace, new, *, baseline=None, slicer=None, **kw):
        progress.append((new.id, baseline.id, slicer))
        return EvaluationReport(run=new.id, baseline=baseline.id)

    monkeypatch.setattr("slicelens.pipeline.repair.run_repair", fake_run_repair, raising=False)
    monkeypatch.setattr("slicelens.pipeline.evaluate.evaluate_run", fake_evaluate)
    name = strategies[0]["name"]
    job = poll(client, client.post(f"/api/runs/{run.id}/repair/jobs",
                                   json={"strategy": name, "slicer": "attribution"}).json())
    assert job["status"] == "done", job["error"]
    new_id = job["result"]["run"]
    assert job["result"]["plan"] == f"{name}: remove 1"
    assert progress == [(new_id, run.id, "attribution")]
    report = client.get(f"/api/runs/{new_id}/compare/{run.id}").json()
    assert report["run"] == new_id and report["baseline"] == run.id and report["computed"]
    # not compared yet is a state, not an error: no 404 in the browser's console
    missing = client.get(f"/api/runs/{run.id}/compare/{new_id}")
    assert missing.status_code == 200 and missing.json()["computed"] is False
    assert new_id in [r["id"] for r in client.get("/api/runs").json()]
