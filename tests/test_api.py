"""API: meta data, runs, samples (pages, images and heatmaps by sample id), errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from test_api_support import make_client


@pytest.fixture(scope="module")
def api():
    return make_client("api")


def _png(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGB"))


def test_health_and_meta(api):
    client, _, _ = api
    assert client.get("/api/health").json()["status"] == "ok"
    meta = client.get("/api/meta").json()
    assert meta["slice_labels"] == ["core", "spurious", "wrong_labels"]
    assert meta["author"] == "anonymous"


def test_runs_report_accuracy_per_split(api):
    client, run, _ = api
    runs = client.get("/api/runs").json()
    assert [r["id"] for r in runs] == [run.id]
    s = run.samples
    for split in ("train", "val", "test"):
        want = s.loc[s["split"] == split, "correct"].mean()
        assert runs[0]["accuracy"][split] == pytest.approx(want)
    assert runs[0]["slice_sets"] == ["attribution"]
    assert client.get(f"/api/runs/{run.id}").json()["n_samples"] == len(s)


def test_unknown_run_is_404_naming_it(api):
    client, run, _ = api
    r = client.get("/api/runs/run-9999-x")
    assert r.status_code == 404
    assert "run-9999-x" in r.json()["detail"] and run.id in r.json()["detail"]


def test_sample_pages_filter_and_cover_the_split(api):
    client, run, _ = api
    s = run.samples
    val = s[s["split"] == "val"]
    seen = []
    for page in range(10):
        body = client.get(f"/api/runs/{run.id}/samples",
                          params={"split": "val", "page": page, "page_size": 7}).json()
        assert body["total"] == len(val)
        seen += [it["id"] for it in body["items"]]
    assert seen == val["id"].tolist()
    wrong = client.get(f"/api/runs/{run.id}/samples",
                       params={"correct": False, "page_size": 500}).json()
    assert wrong["total"] == int((~s["correct"]).sum())
    assert all(it["correct"] is False and it["label"] != it["pred"] for it in wrong["items"])


def test_image_by_sample_id_is_the_file(api):
    client, run, _ = api
    sid = run.samples["id"].iloc[5]
    r = client.get(f"/api/runs/{run.id}/samples/image", params={"id": sid})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    on_disk = np.asarray(Image.open(run.dataset().paths[5]).convert("RGB"))
    np.testing.assert_array_equal(_png(r.content), on_disk)
    big = client.get(f"/api/runs/{run.id}/samples/image", params={"id": sid, "size": 48})
    assert _png(big.content).shape == (48, 48, 3)


def test_heatmap_is_that_samples_map_over_its_image(api):
    from slicelens.server.render import heatmap_overlay

    client, run, _ = api
    s = run.samples
    maps = run.array("maps")
    img = np.asarray(Image.open(run.dataset().paths[3]).convert("RGB"))
    got = _png(client.get(f"/api/runs/{run.id}/samples/heatmap", params={"id": s["id"].iloc[3]}).content)
    np.testing.assert_array_equal(got, heatmap_overlay(img, maps[3]))
    assert not np.array_equal(got, heatmap_overlay(img, maps[4]))
    assert not np.array_equal(got, img)
    # alpha=1: the colour map alone (the web app lays it over the image with its own opacity)
    pure = _png(client.get(f"/api/runs/{run.id}/samples/heatmap",
                           params={"id": s["id"].iloc[3], "alpha": 1}).content)
    np.testing.assert_array_equal(pure, heatmap_overlay(img, maps[3], 1.0))
    assert client.get(f"/api/runs/{run.id}/samples/heatmap",
                      params={"id": s["id"].iloc[3], "alpha": 2}).status_code == 422


def test_heatmap_puts_the_hot_cell_in_red():
    from slicelens.server.render import heatmap_overlay

    amap = np.zeros((4, 4))
    amap[0, 0] = 1.0
    out = heatmap_overlay(np.full((16, 16, 3), 128, np.uint8), amap)
    assert out[0, 0, 0] > out[0, 0, 2] and out[15, 15, 2] > out[15, 15, 0]


@pytest.mark.parametrize("params", [{"id": "nope.png"}, {"id": "../../etc/passwd"}])
def test_images_only_by_known_sample_id(api, params):
    client, run, _ = api
    r = client.get(f"/api/runs/{run.id}/samples/image", params=params)
    assert r.status_code == 404 and "no sample" in r.json()["detail"]


def test_front_end_is_served_or_explained(api, tmp_path):
    from fastapi.testclient import TestClient

    from slicelens.server import Settings, create_app

    client, run, _ = api
    empty = TestClient(create_app(Settings(workspace=run.path.parent.parent, static_dir=tmp_path)),
                       base_url="http://localhost:8765")
    assert "build_web.sh" in empty.get("/").text
    (tmp_path / "index.html").write_text("<html>bundle</html>")
    assert TestClient(create_app(Settings(workspace=run.path.parent.parent, static_dir=tmp_path)),
                      base_url="http://127.0.0.1").get("/").text == "<html>bundle</html>"


def test_api_docs_work_offline(api):
    """/docs and /redoc load their scripts from the package (fastapi-offline), never a CDN."""
    client, _, _ = api
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text
        assert f"/docs-assets/{script}" in html and "cdn" not in html.lower(), page
        js = client.get(f"/docs-assets/{script}")
        assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200


def test_openapi_schema_lists_every_router(api):
    client, _, _ = api
    tags = {t for p in client.get("/openapi.json").json()["paths"].values()
            for op in p.values() for t in op.get("tags", [])}
    assert {"runs", "samples", "slices", "annotations", "spuriousness", "mosaic", "jobs"} <= tags


def test_demo_step_prints_the_serve_command(tmp_path):
    from types import SimpleNamespace

    from slicelens.demo.app import step_app

    lines = []
    st = SimpleNamespace(workspace=SimpleNamespace(root=tmp_path), results={}, echo=lines.append)
    step_app(st)
    assert f"slicelens serve --workspace {tmp_path}" in lines[0]
    assert st.results["app"]["command"] == f"slicelens serve --workspace {tmp_path}"


def test_serve_command_parses_and_show_returns_a_live_url(api):
    import argparse
    import json
    import urllib.request

    from slicelens.cli import serve
    from slicelens.show import show

    client, run, _ = api
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    args = p.parse_args(["--workspace", "w", "--port", "9001", "--no-browser"])
    assert (args.workspace, args.port, args.no_browser, args.host) == ("w", 9001, True, "127.0.0.1")
    url = show(run.path.parent.parent)
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url + "api/runs") as r:
        assert [x["id"] for x in json.load(r)] == [run.id]


def test_a_stored_comparison_is_answered_as_stored(api, tmp_path):
    """The compare route's typed answer (``ComparisonOut``, derived from the report's
    dataclasses) sends the stored report's keys and values as they are, rows included,
    and ``computed: false`` (run, baseline, detail) when there is none."""
    import json

    from test_evaluation_store import _plain_report

    from slicelens.evaluate.report import EvaluationReport
    from slicelens.pipeline.evaluations import save_evaluation

    client, run, _ = api
    old = {**_plain_report(), "run": run.id, "baseline": "run-0042-base"}
    old["models"][0]["rcs"] = 0.25        # JSON has no NaN: a finite report goes through
    save_evaluation(run, EvaluationReport.from_json(old))
    got = client.get(f"/api/runs/{run.id}/compare/run-0042-base")
    assert got.status_code == 200
    assert json.loads(got.text) == {**json.loads(json.dumps(old).replace("NaN", "null")),
                                    "computed": True}
    assert list(got.json()) == [*old, "computed"]
    assert list(got.json()["models"][0]) == list(old["models"][0])     # no worst_* keys
    missing = client.get(f"/api/runs/{run.id}/compare/run-0043-other").json()
    assert missing == {"computed": False, "run": run.id, "baseline": "run-0043-other",
                       "detail": f"no comparison of {run.id} with run-0043-other yet; "
                                 "start one"}
