"""End-to-end (Chromium, Playwright): the Concepts view on a tiny workspace with a stored
AACA repair (fast demo data, 1 epoch, simulated crowd, pool route k = 3).

1. Saliency images come from the query cache: navigating next / previous never shows an
   empty image element (the previous image stays under a loading indicator), and every
   seed's image is requested from the server at most once (prefetch, cache).
2. The concept-alignment chart of the stored repair: bars and numbers (before, after,
   matched control, the reachable-JSD bound), equal to the API's figures.

Screenshots go to test-artifacts/web/ (shared with tests/test_web_e2e.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from test_web_e2e import ARTIFACTS, FLAGS, STATIC, WAIT, _require, api, expect, shot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def concepts_url():
    os.environ["SLICELENS_QUIET"] = "1"
    from demo_bed import fast_demo_run

    from slicelens.concepts.store import save_answer
    from slicelens.demo import hibug
    from slicelens.demo.aaca import simulate_crowd
    from slicelens.models import TrainConfig
    from slicelens.pipeline.concepts import pick_seeds
    from slicelens.pipeline.repair import run_repair
    from slicelens.show import show

    _require((STATIC / "index.html").exists(), "web bundle missing: run scripts/build_web.sh")
    tmp = tempfile.TemporaryDirectory(prefix="slicelens-e2e-concepts-")
    st = fast_demo_run(Path(tmp.name) / "ws", epochs=1)
    hibug.step_hibug_attributes(st)          # the concept tagger (image statistics)
    seeds = pick_seeds(st.run, 4)
    answers, _ = simulate_crowd(st.run, st.paths.ground_truth, seeds, workers=4, spammers=0,
                                gold_items=0, slip=0.0)
    for a in answers:
        save_answer(st.workspace, st.run, a)
    _, repaired = run_repair(st.workspace, st.run, "aaca",
                             {"variant": "sel", "source": "pool", "k": 3, "candidates": 6,
                              "oracle": str(st.paths.ground_truth),
                              "oracle_column": "true_label"},
                             TrainConfig(epochs=1, patience=1, seed=0))
    yield show(st.workspace.root), st.run, repaired
    tmp.cleanup()


@pytest.fixture(scope="module")
def page(concepts_url):
    _require(shutil.which("chromium") is not None,
             "Debian's chromium is not installed: run scripts/install_browser.sh")
    try:
        from playwright import sync_api
    except ImportError:
        _require(False, "the Python package playwright is not installed")
    sync_api.expect.set_options(timeout=WAIT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=shutil.which("chromium"), headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        errors: list[str] = []
        requested: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        pg.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        pg.on("request", lambda r: requested.append(r.url) if "/concepts/saliency" in r.url else None)
        pg.set_default_timeout(WAIT)
        yield pg, errors, requested
        ctx.close()


# every animation frame: is the saliency frame showing a decoded image?
WATCH = """() => { window.__blank = 0; window.__frames = 0; window.__loadingSeen = 0;
  const tick = () => {
    const f = document.querySelector('[data-testid=saliency-frame]');
    const im = f && f.querySelector('img');
    window.__frames++;
    if (!im || !im.getAttribute('src') || !(im.naturalWidth > 0)) window.__blank++;
    if (document.querySelector('[data-testid=saliency-loading]')) window.__loadingSeen++;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick); }"""


def _shown(pg, n: int) -> None:
    """Wait until seed ``n`` (1-based) is shown with its own saliency image."""
    expect(pg.get_by_test_id("concept-status")).to_contain_text(f"Image {n} of ")
    pg.wait_for_function("""() => { const im = document.querySelector('[data-testid=saliency-image]');
        return im && im.dataset.imageId && im.naturalWidth > 0 &&
               !document.querySelector('[data-testid=saliency-loading]'); }""")


def test_saliency_never_blank_while_navigating(page, concepts_url):
    pg, errors, requested = page
    url, run, _ = concepts_url
    pg.goto(f"{url}?run={run.id}&tab=concepts")
    _shown(pg, 1)
    pg.evaluate(WATCH)
    box = pg.get_by_label("confounded concept")
    for _ in range(3):                       # faster than the server computes them
        box.press("Alt+ArrowRight")
    expect(pg.get_by_test_id("concept-status")).to_contain_text("Image 4 of ")
    if pg.get_by_test_id("saliency-loading").count():
        shot(pg, "concepts-saliency-loading")   # the previous image under the indicator
    _shown(pg, 4)
    for _ in range(3):
        box.press("Alt+ArrowLeft")
    _shown(pg, 1)
    box.press("Alt+ArrowRight")
    _shown(pg, 2)
    shot(pg, "concepts-saliency-navigated")
    blank, frames = pg.evaluate("[window.__blank, window.__frames]")
    assert frames > 10 and blank == 0, f"{blank} of {frames} frames without a saliency image"
    # the img shows the current seed's image, not a placeholder
    shown = pg.get_by_test_id("saliency-image").get_attribute("data-image-id")
    seeds = api(url, f"/runs/{run.id}/concepts/seeds?per_class=20")
    assert shown == seeds[1]["image_id"]
    # each image asked of the server at most once (prefetched and cached in the page)
    assert len(requested) == len(set(requested)), requested
    assert not errors, errors


def test_alignment_chart_of_a_stored_repair(page, concepts_url):
    pg, errors, _ = page
    url, run, repaired = concepts_url
    pg.goto(f"{url}?run={run.id}&tab=concepts")
    section = pg.get_by_test_id("concept-alignment")
    expect(section.get_by_test_id("alignment-repair")).to_have_count(1)
    body = api(url, f"/runs/{run.id}/concepts/alignment")
    rep = body["repairs"][0]
    assert rep["run"] == repaired.id and rep["control"] == repaired.record["control_run"]
    assert rep["bound_k"] == 3 and rep["overall"]["bound"] is not None
    chart = pg.get_by_test_id(f"alignment-chart-{repaired.id}")
    expect(chart.locator("svg").first).to_be_visible()
    figures = [r for r in [*rep["classes"], rep["overall"]]]
    n_bars = sum(r[k] is not None for r in figures for k in ("before", "after", "control"))
    assert chart.locator("svg g[aria-label='bar'] rect").count() == n_bars
    table = section.get_by_test_id("alignment-table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(rep["classes"]) + 1)
    last = rows.last.locator("td").all_inner_texts()
    o = rep["overall"]
    assert last[0] == "all classes"
    assert last[1:4] == [f"{o[k]:.4f}" for k in ("before", "after", "control")]
    assert last[5].startswith(f"{o['bound']:.4f}")
    assert o["lower"] is not None and o["lower"] <= o["bound"] + 1e-12
    assert last[6].startswith(f"{o['lower']:.4f}")
    expect(table.get_by_test_id("alignment-bound-head")).to_contain_text("k = 3")
    expect(table.get_by_test_id("alignment-lower-head")).to_contain_text("no choice below")
    expect(section.get_by_test_id("alignment-bound-note")).to_contain_text("greedily")
    section.scroll_into_view_if_needed()
    section.screenshot(path=ARTIFACTS / "concepts-alignment-repair.png")
    assert not errors, errors
