"""End-to-end: the web app in Debian's headless Chromium, driven by Playwright.

A newcomer's path through the demo: open the workspace (on the analysed base run), sort
the slice table by accuracy, open the worst slice, read its images (thumbnails of at
least 128 px, heatmaps over them with an opacity slider and a colour bar, a lightbox with
keyboard navigation), mark it spurious, watch the other slices' spuriousness change,
reload and find the mark again; then the mosaic (grid gallery with tiles of at least
96 px, zoom, hover kept inside its panel, the confusion-matrix form), double-click
annotation, scatter hover cards, a lasso slice, accuracy per attribute value, training
data attribution (one error group throughout, a confirmation before retraining), the
repair (confirmation, base -> newest repair beside its matched control, changes sorted
worst first and coloured), the dark theme and the offline API docs.
A screenshot of every view goes to test-artifacts/web/; the browser console must stay
free of errors (a 404 is one).

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
    from slicelens.demo.run import (
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
        from slicelens.pipeline.slices import check_training_labels

        find_slices(st.run, slicer="attribution")
        check_training_labels(st.run)  # as `slicelens slices` does beside the slicer
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
        # console errors too: a failed request (e.g. a 404 for a comparison not made yet) is one
        pg.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        pg.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
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


def api(url: str, path: str, body: dict | None = None):
    req = urllib.request.Request(url + "api" + path, method="POST" if body is not None else "GET",
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


MIN_TILE = 96  # px: the smallest mosaic tile the app may draw (web/src/components/MosaicGrid.tsx)


def assert_tiles_legible(pg) -> None:
    """Every mosaic tile is drawn at least MIN_TILE px wide and high: measured in the DOM
    and in a screenshot of the smallest one (so CSS that shrinks it fails too)."""
    import io

    from PIL import Image

    tiles = pg.locator("[data-testid=mosaic-tile] > :first-child")
    boxes = [tiles.nth(i).bounding_box() for i in range(tiles.count())]
    assert boxes, "no mosaic tile drawn"
    small = [b for b in boxes if b["width"] < MIN_TILE or b["height"] < MIN_TILE]
    assert not small, f"{len(small)} tiles under {MIN_TILE} px: {small[:3]}"
    i = min(range(len(boxes)), key=lambda k: boxes[k]["width"] * boxes[k]["height"])
    png = Image.open(io.BytesIO(tiles.nth(i).screenshot()))
    assert min(png.size) >= MIN_TILE, png.size
    assert len(png.convert("L").getcolors(256) or []) > 8, "the smallest tile is blank"


def test_newcomer_marks_a_slice_and_finds_it_after_reload(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url)
    pg.locator("[data-testid=slice-table] tbody tr").first.wait_for()
    pg.locator("[data-testid=scatter] canvas").wait_for()
    assert pg.input_value("[data-testid=run-select]") == run.id
    # the default mosaic is the grid gallery, worst accuracy first
    pg.locator("[data-testid=mosaic-grid]").wait_for()
    shot(pg, "01-slices-combined")

    pg.click("[data-testid=sort-accuracy]")
    acc = [float(t.rstrip("%")) for t in cell_texts(pg, "accuracy") if t != "–"]
    assert acc == sorted(acc) and len(acc) >= 3

    first = pg.locator("[data-testid=slice-table] tbody tr").first
    slice_id = first.get_attribute("data-slice")
    first.click()
    pg.locator("[data-testid=slice-detail] h2", has_text=slice_id).wait_for()
    images_loaded(pg)
    thumb = pg.locator("[data-testid=sample-grid] .thumb").first
    assert thumb.bounding_box()["width"] >= 128  # thumbnails sized to be read
    before = thumb.screenshot()
    shot(pg, "02-slice-detail")

    pg.check("[data-testid=heatmap-toggle]")
    pg.wait_for_selector("[data-testid=sample-grid][data-heatmap=on]")
    images_loaded(pg)
    srcs = pg.locator("[data-testid=sample-grid] img.overlay").evaluate_all("im => im.map(i => i.src)")
    assert srcs and all("/samples/heatmap?" in s and "alpha=1" in s for s in srcs)
    pg.locator("[data-testid=heatmap-colourbar]").first.wait_for()
    assert thumb.screenshot() != before
    pg.fill("[data-testid=heatmap-opacity]", "1")  # the map alone over the image
    assert pg.locator("[data-testid=sample-grid] img.overlay").first.evaluate(
        "i => getComputedStyle(i).opacity") == "1"
    shot(pg, "03-heatmaps")

    # the lightbox: image and heatmap side by side, the facts, arrow keys, Escape
    pg.locator("[data-testid=sample-grid] figure").first.click()
    box = pg.locator("[data-testid=lightbox]")
    box.wait_for()
    first_id = box.locator("[data-testid=lightbox-id]").inner_text()
    facts = box.locator("[data-testid=lightbox-facts]").inner_text()
    assert all(k in facts for k in ("label", "prediction", "confidence", "loss"))
    pg.wait_for_function("""() => [...document.querySelectorAll('[data-testid=lightbox] img')]
        .every(i => i.complete && i.naturalWidth > 0)""")
    assert box.locator("img").first.bounding_box()["width"] >= 300
    shot(pg, "03b-lightbox")
    pg.keyboard.press("ArrowRight")
    expect(box.locator("[data-testid=lightbox-id]")).not_to_have_text(first_id)
    pg.keyboard.press("Escape")
    box.wait_for(state="detached")
    pg.uncheck("[data-testid=heatmap-toggle]")

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


def test_spuriousness_after_two_spurious_and_one_core_mark_reads_as_a_scale(page, demo_url):
    """Calibrated propagation (slicelens.feedback.calibrated): unmarked slices spread
    over [0, 1] instead of all reading 1.00 or 0.00."""
    pg, errors = page
    url, run = demo_url
    rows = api(url, f"/runs/{run.id}/slicesets/attribution")["slices"]
    free = [r["id"] for r in rows if r["annotation"] is None]
    for sid, label in ((free[0], "spurious"), (free[-1], "core")):
        api(url, f"/runs/{run.id}/annotations", {"slicer": "attribution", "slice_id": sid,
                                                 "label": label, "author": "e2e"})
    pg.goto(url)
    cells = pg.locator("[data-testid=slice-table] td[data-col=spuriousness][data-source=propagated]")
    expect(cells).to_have_count(len(rows) - 3)
    vals = [float(t.strip().lstrip("≈")) for t in cells.all_inner_texts()]
    assert sum(0.02 < v < 0.98 for v in vals) >= len(vals) // 2, vals
    expect(pg.locator("[data-testid=spuriousness-status]")).to_contain_text("not a probability")
    shot(pg, "04b-spuriousness-three-marks")
    assert not errors, errors


def test_mosaic_confusion_form_and_double_click_annotation(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url + "?layout=confusion")
    pg.locator("[data-testid=mosaic] figcaption").first.wait_for()
    caps = pg.locator("[data-testid=mosaic] figcaption").all_inner_texts()
    assert "label: 0-4; prediction: 5-9" in caps and len(caps) == 4
    # hover one piece: it grows in its own panel only, inside it, and shrinks on leaving
    piece = pg.locator("[data-testid=mosaic] figure.panel").first.locator("g.piece").first
    piece.hover()
    raised = pg.locator("[data-testid=mosaic] g.piece.raised")
    expect(raised).to_have_count(1)
    panel = pg.locator("[data-testid=mosaic] figure.panel").first.locator("svg").bounding_box()
    rb = raised.bounding_box()
    assert rb["x"] >= panel["x"] - 1 and rb["y"] >= panel["y"] - 1
    assert rb["x"] + rb["width"] <= panel["x"] + panel["width"] + 1
    assert rb["y"] + rb["height"] <= panel["y"] + panel["height"] + 1
    shot(pg, "06-mosaic-confusion")
    pg.mouse.move(5, 5)
    expect(raised).to_have_count(0)

    pg.select_option("[data-testid=layout-select]", "combined")
    piece = pg.locator("[data-testid=mosaic] g.piece").first
    sid = piece.get_attribute("data-slice")
    piece.hover()  # App. A-III: the hovered tile is raised to the top and grows
    top = pg.locator("[data-testid=mosaic] g.piece").last
    expect(top).to_have_attribute("data-slice", sid)
    assert float(top.get_attribute("transform").split("scale(")[1].split(")")[0]) > 1
    piece.dblclick()
    dialog = pg.get_by_role("dialog")
    dialog.get_by_text(f"Annotate {sid}").wait_for()
    shot(pg, "07-annotate-dialog")
    dialog.get_by_label("close").click()
    pg.get_by_role("button", name="zoom in").click()
    expect(pg.locator("[data-testid=zoom-reset]")).to_be_enabled()
    pg.click("[data-testid=zoom-reset]")

    # the mosaic's tiles are feature inversions computed as a background job (Eq. 2)
    pg.locator("[data-testid=mosaic-missing]").get_by_role("button", name="compute now").click()
    pg.locator("[data-testid=mosaic] g.piece image").first.wait_for(timeout=180_000)
    pg.locator("[data-testid=mosaic-missing]").wait_for(state="detached")
    n_tiles = pg.locator("[data-testid=mosaic] g.piece image").count()
    table = api(url, f"/runs/{run.id}/slicesets/attribution")["slices"]
    assert n_tiles == len(table)
    pg.wait_for_timeout(500)  # let the tile PNGs decode before the screenshot
    shot(pg, "06b-mosaic-tiles")

    # the grid gallery: one legible tile per slice, worst accuracy first
    pg.select_option("[data-testid=layout-select]", "grid")
    pg.wait_for_function("""() => { const im = [...document.querySelectorAll('[data-testid=mosaic-tile] img')];
        return im.length > 0 && im.every(i => i.complete && i.naturalWidth > 0); }""")
    order = pg.locator("[data-testid=mosaic-tile]").evaluate_all("ts => ts.map(t => t.dataset.slice)")
    acc = {r["id"]: r["accuracy"] for r in table}
    assert sorted(order) == sorted(acc) and [acc[o] for o in order] == sorted(acc[o] for o in order)
    assert_tiles_legible(pg)
    shot(pg, "06c-mosaic-grid")
    assert not errors, errors


def test_lasso_selection_is_saved_as_a_slice(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url + "?color=slice")
    canvas = pg.locator("[data-testid=scatter] canvas")
    canvas.wait_for()
    pg.wait_for_timeout(500)
    box = canvas.bounding_box()
    # hover: a point shows its image and facts beside the cursor, inside the panel; the
    # point's place on the canvas as Scatter.tsx draws it (the camera not moved yet)
    import numpy as np

    with urllib.request.urlopen(f"{url}api/runs/{run.id}/slicesets/attribution/points") as r:
        n = int(r.headers["X-Count"])
        buf = r.read()
    x, y = np.frombuffer(buf, "<f4", n, 0), np.frombuffer(buf, "<f4", n, 4 * n)
    fx = ((x - (x.min() + x.max()) / 2) / ((x.max() - x.min()) / 2) * 0.95 + 1) / 2
    fy = (1 - (y - (y.min() + y.max()) / 2) / ((y.max() - y.min()) / 2) * 0.92) / 2
    card = pg.locator("[data-testid=scatter-hover]")
    for k in range(0, n, max(1, n // 20)):
        pg.mouse.move(box["x"] + box["width"] * float(fx[k]),
                      box["y"] + box["height"] * float(fy[k]), steps=3)
        pg.wait_for_timeout(100)
        if card.count():
            break
    card.locator("img").wait_for()
    pg.wait_for_function("() => document.querySelector('[data-testid=scatter-hover] img').naturalWidth > 0")
    cb, wrap = card.bounding_box(), canvas.bounding_box()
    assert cb["x"] >= wrap["x"] - 1 and cb["x"] + cb["width"] <= wrap["x"] + wrap["width"] + 1
    shot(pg, "08b-scatter-hover")
    pg.click("[data-testid=lasso-mode]")
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
    # accuracy per value (bars with intervals against the overall accuracy), count beside
    pg.locator("[data-testid='accuracy-brightness'] svg").wait_for(timeout=5 * WAIT)
    body = api(url, f"/runs/{run.id}/attributes")
    bars = next(a for a in body["attributes"] if a["name"] == "brightness")["histogram"]
    svg = pg.locator("[data-testid='accuracy-brightness'] svg").last.inner_html()
    assert all(f"n={b['n']}" in svg for b in bars if b["accuracy"] is not None)
    expect(pg.locator("[data-testid=attr-legend]")).to_contain_text(
        f"{100 * body['overall_accuracy']:.1f}%")
    if body["has_bug_slices"] and api(url, f"/runs/{run.id}/slicesets/attributes")["slices"]:
        pg.locator("[data-testid=bug-group]").first.wait_for()  # grouped by attribute set
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
    # one error group throughout: another group has no result, so no table answers it
    group = pg.locator("[data-testid=tda-group]")
    done = group.input_value()
    other = next(v for v in group.locator("option").evaluate_all("os => os.map(o => o.value)")
                 if v != done)
    group.select_option(other)
    pg.locator("[data-testid=tda-missing]").wait_for()
    expect(pg.locator("[data-testid=tda-table]")).to_have_count(0)
    group.select_option(done)
    table.first.wait_for()
    # apply & retrain asks first, with the plan
    n_runs = len(api(url, "/runs"))
    table.first.locator("[data-testid=tda-apply]").click()
    dialog = pg.locator("[data-testid=confirm-dialog]")
    expect(dialog.locator("[data-testid=plan-summary]")).to_contain_text(
        table.first.locator("td").nth(1).inner_text().split(" (")[0])
    shot(pg, "11b-retrain-confirmation")
    dialog.get_by_role("button", name="cancel").click()
    dialog.wait_for(state="detached")
    expect(pg.locator("[data-testid=job]")).to_have_count(0)
    assert len(api(url, "/runs")) == n_runs
    assert not errors, errors


def test_repair_job_and_before_after(page, demo_url):
    pg, errors = page
    url, run = demo_url
    pg.goto(url + "?tab=repair")
    # the default strategy is preselected; it reads the spurious mark made in the first test
    expect(pg.locator("[data-testid=repair-strategy]")).to_have_value("dfr")
    pg.locator("[data-testid=not-compared], .empty").first.wait_for()
    pg.click("[data-testid=repair-start]")
    summary = pg.locator("[data-testid=confirm-dialog] [data-testid=plan-summary]")
    expect(summary).to_contain_text("spurious")
    expect(summary).to_contain_text("matched control")
    assert pg.locator("[data-testid=job]").count() == 0  # nothing runs before the confirmation
    shot(pg, "12a-repair-confirmation")
    pg.click("[data-testid=confirm-retrain]")
    pg.locator("[data-testid=job]").wait_for()
    shot(pg, "12-repair-running")
    pg.locator("[data-testid=comparison] table").first.wait_for(timeout=10 * WAIT)
    runs = api(url, "/runs")
    # the repair and its matched control, both made from the base run
    assert len(runs) == 3 and {r["base_run"] for r in runs[1:]} == {run.id}
    repaired = next(r for r in runs[1:] if "dfr" in r["id"])
    assert repaired["control_run"] and not repaired["is_control"]
    # the open run stays the analysed base; the view compares base -> newest repair
    assert pg.input_value("[data-testid=run-select]") == run.id
    assert pg.input_value("[data-testid=compare-before]") == run.id
    assert pg.input_value("[data-testid=compare-after]") == repaired["id"]
    report = api(url, f"/runs/{repaired['id']}/compare/{run.id}")
    roles = [m["role"] for m in report["models"]]
    assert roles == ["before", "control", "after"] and report["control"] == repaired["control_run"]
    verdict = pg.locator("[data-testid=repair-verdict]")
    expect(verdict).to_contain_text("matched control")
    assert report["verdict"] in verdict.inner_text()
    # per slice of the BASE run's slice set, worst change first, changes coloured
    assert report["slicer"] == "attribution" and report["slices"]
    pg.locator("[data-testid=compare-chart] svg").last.wait_for()
    for tid in ("slice-changes", "group-changes"):
        cells = pg.locator(f"[data-testid={tid}] [data-testid=delta]")
        if not cells.count():
            continue
        vals = [float(t.replace("−", "-").replace("±", "").split()[0]) for t in cells.all_text_contents()]
        assert vals == sorted(vals), (tid, vals)
        classes = cells.evaluate_all("cs => cs.map(c => c.className)")
        assert all(("bad" in c) == (v < -0.05) for c, v in zip(classes, vals, strict=True))
    shot(pg, "13-repair-before-after")

    # a label oracle for the selection repairs is uploaded from the form, not named by path
    pg.select_option("[data-testid=repair-strategy]", "random-select")
    ids = run.samples["id"].head(2).tolist()
    pg.locator("[data-testid=oracle-file]").set_input_files(files=[{
        "name": "labels.csv", "mimeType": "text/csv",
        "buffer": ("id,true_label\n" + "".join(f"{i},{run.classes[0]}\n" for i in ids)).encode()}])
    expect(pg.locator("[data-testid=oracle-select] option:checked")).to_contain_text("labels.csv")
    uploads = api(url, "/uploads/oracles")
    assert [u["name"] for u in uploads] == ["labels.csv"]
    assert pg.input_value("[data-testid=oracle-select]") == uploads[0]["id"]

    # a pair never compared is a state of the view, not a 404 in the console
    pg.select_option("[data-testid=compare-before]", repaired["control_run"])
    pg.locator("[data-testid=not-compared]").wait_for()
    # after a reload the app opens on the analysed base run, not the repair
    pg.goto(url)
    pg.locator("[data-testid=slice-table] tbody tr").first.wait_for()
    assert pg.input_value("[data-testid=run-select]") == run.id
    assert not errors, errors


def test_scatter_redraws_in_a_burst_without_a_dropped_draw(page, demo_url):
    """New colours or points in quick succession ask the scatter to redraw before its last
    draw finished (slow in software WebGL on a busy machine); regl-scatterplot rejects such
    a draw (an uncaught error, and the newest picture not drawn). Draws are queued
    (Scatter.tsx drawLatest): no error, and the last choice is what is drawn."""
    pg, errors = page
    url, _ = demo_url
    pg.goto(url)
    pg.locator("[data-testid=scatter] canvas").wait_for()
    before = len(errors)
    pg.evaluate("""async () => {
        const sel = document.querySelector('[data-testid=scatter-color]');
        const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;
        const values = [...sel.options].map((o) => o.value);
        for (let i = 0; i < 12; i++) {
            set.call(sel, values[i % values.length]);
            sel.dispatchEvent(new Event('change', { bubbles: true }));
            await new Promise((r) => setTimeout(r, 5));
        }
    }""")
    pg.wait_for_timeout(1500)
    assert not errors[before:], errors[before:]
    n = pg.locator("[data-testid=scatter-color] option").count()
    last = pg.locator("[data-testid=scatter-color] option").nth((12 - 1) % n).get_attribute("value")
    assert pg.locator("[data-testid=scatter-color]").input_value() == last


def test_dark_theme_follows_the_os_and_api_docs_work_offline(page, demo_url):
    pg, errors = page
    url, _ = demo_url
    pg.emulate_media(color_scheme="dark")
    pg.goto(url)
    pg.locator("[data-testid=slice-table] tbody tr").first.wait_for()
    bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
    r, g, b = (int(v) for v in bg[bg.index("(") + 1:bg.index(")")].split(",")[:3])
    assert 0.2126 * r + 0.7152 * g + 0.0722 * b < 60, bg
    shot(pg, "15-dark-theme")
    pg.emulate_media(color_scheme="light")
    assert not errors, errors
    # Swagger UI from the package: renders with no network beyond the server
    pg.goto(url + "docs")
    pg.locator(".swagger-ui .info .title", has_text="slicelens").wait_for()
    shot(pg, "14-api-docs")


def test_concept_annotation_survives_a_reload(page, demo_url):
    """AACA (paper Fig. 3): image and saliency side by side, answer boxes, keyboard-driven
    next/previous; answers are stored and back after a reload."""
    pg, errors = page
    url, run = demo_url
    pg.goto(f"{url}?run={run.id}&tab=concepts")
    view = pg.get_by_test_id("concept-view")
    expect(view).to_be_visible()
    # the saliency image is computed on first view (then kept in the run): wait for it
    pg.wait_for_function("""() => document.querySelector('[data-testid=saliency-image]') &&
        [...document.querySelectorAll('[data-testid=concept-view] img')]
        .every(i => i.complete && i.naturalWidth > 0)""")
    first = pg.get_by_test_id("concept-status").inner_text()
    assert first.startswith("Image 1 of ")
    shot(pg, "concepts")
    box = pg.get_by_label("confounded concept")
    box.fill("brick wall")
    pg.get_by_label("valid concept").fill("digit")
    pg.get_by_label("valid concept").press("Enter")          # save and move on
    expect(pg.get_by_test_id("concept-status")).to_contain_text("Image 2 of ")
    expect(pg.get_by_test_id("concept-status")).to_contain_text("1 answered")
    pg.get_by_label("confounded concept").press("Alt+ArrowLeft")   # back, without saving
    expect(pg.get_by_test_id("concept-status")).to_contain_text("Image 1 of ")
    pg.reload()
    expect(pg.get_by_label("confounded concept")).to_have_value("brick wall")
    expect(pg.get_by_label("valid concept")).to_have_value("digit")
    stored = api(url, f"/runs/{run.id}/concepts/answers")
    assert [(a["confounded"], a["valid"]) for a in stored] == [(["brick wall"], ["digit"])]
    # no AACA repair is stored: the alignment section says so and how to make one
    expect(pg.get_by_test_id("alignment-none")).to_contain_text("slicelens repair --strategy aaca")
    # undo the last answer from the keyboard: withdrawn in the store, boxes empty
    pg.get_by_label("valid concept").press("Alt+z")
    expect(pg.get_by_test_id("undo-status")).to_contain_text("undone")
    expect(pg.get_by_test_id("concept-status")).to_contain_text("0 answered")
    expect(pg.get_by_label("confounded concept")).to_have_value("")
    shot(pg, "concepts-undo")
    assert api(url, f"/runs/{run.id}/concepts/answers") == []
    kept = api(url, f"/runs/{run.id}/concepts/answers?include_undone=true")
    assert [(a["id"], a["status"]) for a in kept] == [(stored[0]["id"], "undone")]
    pg.reload()  # durable: still undone after a reload
    expect(pg.get_by_test_id("concept-status")).to_contain_text("0 answered")
    expect(pg.get_by_label("confounded concept")).to_have_value("")
    pg.get_by_label("valid concept").fill("digit")
    pg.get_by_label("confounded concept").fill("brick wall")
    pg.get_by_label("valid concept").press("Enter")
    expect(pg.get_by_test_id("concept-status")).to_contain_text("1 answered")
    pg.get_by_test_id("undo-answer").click()                  # the button does the same
    expect(pg.get_by_test_id("concept-status")).to_contain_text("0 answered")
    pg.get_by_test_id("redo-answer").click()                  # and redo brings it back
    expect(pg.get_by_test_id("concept-status")).to_contain_text("1 answered")
    assert [a["status"] for a in api(url, f"/runs/{run.id}/concepts/answers")] == ["active"]
    assert not errors


def test_training_label_check_banner_opens_the_suspect_groups(page, demo_url):
    """Above another slice set, a banner counts the stored training-label check's groups
    (figures from the API); "Show them" opens the wrong-labels set, typed wrong labels."""
    pg, errors = page
    url, run = demo_url
    pg.goto(url)
    pg.locator("[data-testid=slice-table] tbody tr").first.wait_for()
    lc = api(url, f"/runs/{run.id}/slicesets/attribution")["label_check"]
    assert lc["slicer"] == "wrong-labels" and lc["split"] == "train" and lc["groups"] >= 1
    banner = pg.locator("[data-testid=label-check]")
    expect(banner).to_contain_text(f"Training labels: {lc['groups']} group")
    expect(banner).to_contain_text(f"{lc['suspects']:,} of {lc['checked']:,} train samples")
    shot(pg, "14-label-check-banner")
    pg.click("[data-testid=open-label-check]")
    pg.locator("[data-testid=slice-table] tbody tr[data-slice='wrong-labels-00']").wait_for()
    expect(pg.locator(".slice-table h2")).to_contain_text("train samples")
    bugs = pg.locator("[data-testid=slice-table] tbody tr td.wrap").all_inner_texts()
    assert bugs[:lc["groups"]] == ["wrong labels"] * lc["groups"]
    assert pg.locator("[data-testid=label-check]").count() == 0  # not above the check itself
    # no layout: no mosaic to compute (the button would fail), said instead
    pg.locator("[data-testid=mosaic-no-layout]").wait_for()
    assert pg.locator("[data-testid=mosaic-missing]").count() == 0
    shot(pg, "15-label-check-groups")
    assert not errors, errors
