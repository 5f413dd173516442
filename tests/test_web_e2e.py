"""End-to-end: the web app in Debian's headless Chromium, driven by Playwright.

A newcomer's path through the demo: open the workspace, sort the slice table by
accuracy, open the worst slice, toggle its heatmaps, mark it spurious, watch the other
slices' spuriousness change, reload and find the mark again; then the mosaic's
confusion-matrix form, double-click annotation, a lasso slice and the other tabs.
A screenshot of every view goes to test-artifacts/web/.

The browser is the system's ``chromium`` (``scripts/install_browser.sh``), never a
downloaded one; the bundle is built by ``scripts/build_web.sh``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
STATIC = Path(__file__).resolve().parent.parent / "src" / "slicelens" / "server" / "static"
# --enable-unsafe-swiftshader: WebGL on the CPU (the scatter); no GPU here
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--enable-unsafe-swiftshader"]
WAIT = 60_000


def _require(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI") or os.environ.get("SLICELENS_REQUIRE_BROWSER"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def demo_url():
    """A small demo workspace with slices, served on a free loopback port.

    In its own temporary directory, not pytest's numbered ones: a concurrent pytest
    session prunes those, and this fixture lives for minutes.
    """
    os.environ["SLICELENS_QUIET"] = "1"
    from slicelens.pipeline.demo import (
        DemoRun,
        DemoState,
        step_build_data,
        step_extract,
        step_train,
    )
    from slicelens.show import show
    from slicelens.store import Workspace

    _require((STATIC / "index.html").exists(), "web bundle missing: run scripts/build_web.sh")
    tmp = tempfile.TemporaryDirectory(prefix="slicelens-e2e-")
    root = Path(tmp.name) / "ws"
    # the demo's data, model and run only: the browser does the rest of the loop
    # the default demo's data and training (32 px, 3,000 training images): a model that
    # learns digits as well as backgrounds, so the screenshots show real failure slices
    # (the --fast model is a pure background classifier, at chance on validation)
    cfg = DemoRun()
    st = DemoState(workspace=Workspace(root), cfg=cfg, echo=lambda *_: None)
    for step in (step_build_data, step_train, step_extract):
        step(st)
    try:
        from slicelens.pipeline.slices import find_slices
    except ImportError:  # the slicing stage is not installed: a stand-in slice set
        from test_api_support import write_fixture_slices

        write_fixture_slices(st.run, k=10)
    else:
        find_slices(st.run, slicer="attribution")
    yield show(root), st.run
    tmp.cleanup()


@pytest.fixture(scope="module")
def page(demo_url):
    _require(shutil.which("chromium") is not None,
             "Debian's chromium is not installed: run scripts/install_browser.sh")
    _require(importlib.util.find_spec("playwright") is not None,
             "the Python package playwright is not installed (pip install playwright; it "
             "drives the system chromium, no browser download)")
    from playwright import sync_api

    sync_api.expect.set_options(timeout=WAIT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=shutil.which("chromium"), headless=True, args=FLAGS,
            viewport={"width": 1600, "height": 1000})
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.set_default_timeout(WAIT)
        yield pg, errors
        ctx.close()


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def shot(pg, name: str) -> None:
    pg.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def images_loaded(pg) -> None:
    pg.wait_for_function("""() => { const im = [...document.querySelectorAll('[data-testid=sample-grid] img')];
        return im.length > 0 && im.every(i => i.complete && i.naturalWidth > 0); }""")


def cell_texts(pg, col: str) -> list[str]:
    return pg.locator(f"[data-testid=slice-table] tbody td[data-col={col}]").all_inner_texts()


def api(url: str, path: str):
    with urllib.request.urlopen(url + "api" + path) as r:
        return json.load(r)


def test_newcomer_marks_a_slice_and_finds_it_after_reload(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url)
    pg.locator("[data-testid=slice-table] tbody tr").first.wait_for()
    pg.locator("[data-testid=scatter] canvas").wait_for()
    shot(pg, "01-slices-combined")

    pg.click("[data-testid=sort-accuracy]")
    acc = [float(t.rstrip("%")) for t in cell_texts(pg, "accuracy") if t != "–"]
    assert acc == sorted(acc) and len(acc) >= 3

    first = pg.locator("[data-testid=slice-table] tbody tr").first
    slice_id = first.get_attribute("data-slice")
    first.click()
    pg.locator("[data-testid=slice-detail] h2", has_text=slice_id).wait_for()
    images_loaded(pg)
    before = pg.locator("[data-testid=sample-grid] img").first.screenshot()
    shot(pg, "02-slice-detail")

    pg.check("[data-testid=heatmap-toggle]")
    pg.wait_for_selector("[data-testid=sample-grid][data-heatmap=on]")
    images_loaded(pg)
    srcs = pg.locator("[data-testid=sample-grid] img").evaluate_all("im => im.map(i => i.src)")
    assert srcs and all("/samples/heatmap?" in s for s in srcs)
    assert pg.locator("[data-testid=sample-grid] img").first.screenshot() != before
    shot(pg, "03-heatmaps")

    assert all(t == "–" for t in cell_texts(pg, "spuriousness"))
    pg.check("[data-testid=label-spurious]")
    pg.fill("[data-testid=mark-description]", "background, not the digit")
    pg.click("[data-testid=save-mark]")
    pg.locator("[data-testid=mark-status]", has_text="saved").wait_for()
    marks = api(url, f"/runs/{run.id}/annotations")
    assert [(m["target_id"], m["label"]) for m in marks] == [(slice_id, "spurious")]

    row = pg.locator(f"[data-testid=slice-table] tbody tr[data-slice='{slice_id}']")
    expect(row.locator("td[data-col=mark]")).to_have_text("spurious")
    pg.wait_for_function("""() => [...document.querySelectorAll(
        '[data-testid=slice-table] tbody tr:not(.selected) td[data-col=spuriousness]')]
        .some(td => td.textContent.trim() !== '–')""")
    others = [t for r, t in zip(pg.locator("[data-testid=slice-table] tbody tr").evaluate_all(
        "rs => rs.map(r => r.dataset.slice)"), cell_texts(pg, "spuriousness"), strict=True)
        if r != slice_id]
    assert any(t != "–" for t in others)
    shot(pg, "04-marked-spurious")

    pg.reload()
    pg.locator("[data-testid=current-mark]", has_text="spurious").wait_for()
    assert "background, not the digit" in pg.inner_text("[data-testid=current-mark]")
    row = pg.locator(f"[data-testid=slice-table] tbody tr[data-slice='{slice_id}']")
    expect(row.locator("td[data-col=mark]")).to_have_text("spurious")
    expect(row).to_have_class("selected")
    shot(pg, "05-after-reload")
    assert not errors, errors


def test_mosaic_confusion_form_and_double_click_annotation(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url + "?layout=confusion")
    pg.locator("[data-testid=mosaic] figcaption").first.wait_for()
    caps = pg.locator("[data-testid=mosaic] figcaption").all_inner_texts()
    assert "label: 0-4; prediction: 5-9" in caps and len(caps) == 4
    shot(pg, "06-mosaic-confusion")
    pg.select_option("[data-testid=layout-select]", "combined")
    piece = pg.locator("[data-testid=mosaic] g.piece").first
    sid = piece.get_attribute("data-slice")
    piece.hover()  # App. A-III: the hovered tile is raised to the top and grows
    top = pg.locator("[data-testid=mosaic] g.piece").last
    expect(top).to_have_attribute("data-slice", sid)
    assert float(top.get_attribute("transform").split("scale(")[1].split(")")[0]) > 1
    piece = top
    piece.dblclick()
    dialog = pg.get_by_role("dialog")
    dialog.get_by_text(f"Annotate {sid}").wait_for()
    shot(pg, "07-annotate-dialog")
    dialog.get_by_label("close").click()

    # the mosaic's tiles are feature inversions computed as a background job (Eq. 2)
    pg.locator("[data-testid=mosaic-missing]").get_by_role("button", name="compute now").click()
    pg.locator("[data-testid=mosaic] g.piece image").first.wait_for(timeout=180_000)
    pg.locator("[data-testid=mosaic-missing]").wait_for(state="detached")
    n_tiles = pg.locator("[data-testid=mosaic] g.piece image").count()
    assert n_tiles == len(api(url, f"/runs/{run.id}/slicesets/attribution")["slices"])
    pg.wait_for_timeout(500)  # let the tile PNGs decode before the screenshot
    shot(pg, "06b-mosaic-tiles")
    assert not errors, errors


def test_lasso_selection_is_saved_as_a_slice(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url + "?color=slice")
    canvas = pg.locator("[data-testid=scatter] canvas")
    canvas.wait_for()
    pg.wait_for_timeout(500)
    pg.click("[data-testid=lasso-mode]")
    box = canvas.bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"] * 0.45
    pts = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r), (cx - r, cy - r)]
    pg.mouse.move(*pts[0])
    pg.mouse.down()
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        for k in range(1, 9):
            pg.mouse.move(x0 + (x1 - x0) * k / 8, y0 + (y1 - y0) * k / 8)
            pg.wait_for_timeout(20)
    pg.mouse.up()
    save = pg.locator("[data-testid=lasso-save]")
    save.wait_for()
    n = int(save.inner_text().split()[0])
    assert n > 0
    save.get_by_placeholder("description").fill("centre of the map")
    save.get_by_role("button", name="save as slice").click()
    pg.locator("[data-testid=slice-detail] h2", has_text="custom-01").wait_for()
    assert pg.input_value("[data-testid=slicer-select]") == "custom"
    custom = api(url, f"/runs/{run.id}/slicesets/custom")
    assert custom["slices"][0]["size"] == n
    shot(pg, "08-lasso-slice")
    assert not errors, errors


def test_attributes_histograms_and_bug_table(page, demo_url):
    from slicelens.attributes.base import Attribute, AttributeSpec
    from slicelens.pipeline.attributes import save_spec

    pg, errors = page
    url, run = demo_url
    # the user's own attribute list (HiBug lets users edit it): image statistics, offline
    save_spec(run, AttributeSpec([
        Attribute("brightness", backend="stats", measure="brightness"),
        Attribute("background colour", backend="stats", measure="background_colour")]))
    pg.goto(url + "?tab=attributes")
    pg.get_by_role("button", name="assign and find bugs now").click()
    pg.locator("[data-testid='histogram-brightness'] svg").wait_for(timeout=5 * WAIT)
    shot(pg, "10-attributes")
    assert not errors, errors


def test_training_data_attribution_of_a_slice(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url + "?tab=tda")
    pg.locator("[data-testid=tda-missing]").wait_for()
    pg.get_by_label("measure the top rows by retraining").uncheck()
    pg.click("[data-testid=tda-start]")
    table = pg.locator("[data-testid=tda-table] tbody tr")
    table.first.wait_for(timeout=5 * WAIT)
    pg.locator("[data-testid=tda-forest] svg").wait_for()
    table.first.click()
    pg.locator("[data-testid=tda-images] img").first.wait_for()
    pg.wait_for_function("""() => [...document.querySelectorAll('[data-testid=tda-images] img')]
        .every(i => i.complete && i.naturalWidth > 0)""")
    shot(pg, "11-training-data-attribution")
    assert not errors, errors


def test_repair_job_and_before_after(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url + "?tab=repair")
    # the default strategy is preselected; it reads the spurious mark made in the first test
    expect(pg.locator("[data-testid=repair-strategy]")).to_have_value("dfr")
    pg.click("[data-testid=repair-start]")
    pg.locator("[data-testid=job]").wait_for()
    shot(pg, "12-repair-running")
    pg.locator("[data-testid=comparison] table").first.wait_for(timeout=10 * WAIT)
    runs = api(url, "/runs")
    # the repair and its matched control, both made from the base run
    assert len(runs) == 3 and {r["base_run"] for r in runs[1:]} == {run.id}
    repaired = next(r for r in runs[1:] if "dfr" in r["id"])
    assert pg.input_value("[data-testid=run-select]") == repaired["id"]
    report = api(url, f"/runs/{repaired['id']}/compare/{run.id}")
    roles = [m["role"] for m in report["models"]]
    assert roles == ["before", "control", "after"] and report["control"] in [r["id"] for r in runs]
    verdict = pg.locator("[data-testid=repair-verdict]")
    expect(verdict).to_contain_text("matched control")
    assert report["verdict"] in verdict.inner_text()
    pg.locator("[data-testid=compare-chart] svg").last.wait_for()
    shot(pg, "13-repair-before-after")
    assert not errors, errors


def test_concept_annotation_survives_a_reload(page, demo_url):
    """AACA (paper Fig. 3): image and saliency side by side, answer boxes, keyboard-driven
    next/previous; answers are stored and back after a reload."""
    pg, errors = page
    url, run = demo_url
    pg.goto(f"{url}?run={run.id}&tab=concepts")
    view = pg.get_by_test_id("concept-view")
    expect(view).to_be_visible()
    pg.wait_for_function("""() => [...document.querySelectorAll('[data-testid=concept-view] img')]
        .every(i => i.complete && i.naturalWidth > 0)""")
    first = view.locator("p").inner_text()
    assert first.startswith("Image 1 of ")
    shot(pg, "concepts")
    box = pg.get_by_label("confounded concept")
    box.fill("brick wall")
    pg.get_by_label("valid concept").fill("digit")
    pg.get_by_label("valid concept").press("Enter")          # save and move on
    expect(view.locator("p")).to_contain_text("Image 2 of ")
    expect(view.locator("p")).to_contain_text("1 answered")
    pg.get_by_label("confounded concept").press("Alt+ArrowLeft")   # back, without saving
    expect(view.locator("p")).to_contain_text("Image 1 of ")
    pg.reload()
    expect(pg.get_by_label("confounded concept")).to_have_value("brick wall")
    expect(pg.get_by_label("valid concept")).to_have_value("digit")
    stored = api(url, f"/runs/{run.id}/concepts/answers")
    assert [(a["confounded"], a["valid"]) for a in stored] == [(["brick wall"], ["digit"])]
    assert not errors
