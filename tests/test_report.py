"""The HTML report: one self-contained file with every section; opened in Debian's
headless Chromium, every section and image renders (the browser part skips without
chromium / playwright, and fails in CI, like tests/test_web_e2e.py)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile

import pytest
from fixtures_report import full_workspace

SECTIONS = ["summary", "slices", "worst-images", "mosaic", "bugs", "marks", "tda", "repairs"]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    ws, run = full_workspace(root / "ws")
    return run, run.report(root / "report.html", top=3, per_slice=4)


def test_report_is_self_contained_with_every_section_filled(report):
    run, path = report
    html = path.read_text()
    found = re.findall(r'<section id="([^"]+)" data-has-data="(\w+)"', html)
    assert found == [(s, "true") for s in SECTIONS]
    # nothing is fetched: every image is a data URI, no scripts, links or stylesheets
    srcs = re.findall(r'<img[^>]* src="([^"]+)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'<(script|link)\b|src="http|url\(', html)
    # 3 slices x 4 images, each with its heatmap, plus the mosaic
    assert len(srcs) == 3 * 4 * 2 + 1
    assert html.count('data-testid="forest-plot"') == 1 and 'data-testid="repair-chart"' in html
    assert "attribution-00" in html and "brick background" in html   # the mark
    assert "background: brick; digit: 7" in html                       # the bug in words


def test_sections_without_data_say_so(tmp_path):
    from test_api_support import write_synthetic_run

    import slicelens as sl

    write_synthetic_run(tmp_path / "ws", 20)
    run = sl.Workspace(tmp_path / "ws", create=False).run()
    html = run.report(tmp_path / "r.html").read_text()
    found = dict(re.findall(r'<section id="([^"]+)" data-has-data="(\w+)"', html))
    assert found == {s: ("true" if s == "summary" else "false") for s in SECTIONS}
    assert html.count('class="empty"') == len(SECTIONS) - 1


def test_report_cli_names_the_run_it_read(report, tmp_path, capsys):
    from slicelens.cli import main

    run, _ = report
    out = tmp_path / "r.html"
    assert main(["report", "-w", str(run.workspace.root), "-o", str(out), "--top-slices", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"run {run.id} ") and "analysed base run" in lines[0]
    assert out.exists()


def _require(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI") or os.environ.get("SLICELENS_REQUIRE_BROWSER"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.mark.slow
def test_report_renders_in_chromium_offline(report):
    _require(shutil.which("chromium") is not None,
             "Debian's chromium is not installed: run scripts/install_browser.sh")
    _require(importlib.util.find_spec("playwright") is not None,
             "the Python package playwright is not installed")
    from playwright import sync_api

    _, path = report
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=shutil.which("chromium"), headless=True, args=FLAGS,
            offline=True, viewport={"width": 1300, "height": 900})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.resolve().as_uri())
        for sid in SECTIONS:
            section = page.locator(f"section#{sid}")
            assert section.count() == 1
            assert section.locator("h2").is_visible()
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        sizes = page.evaluate("() => [...document.images].map(i => [i.naturalWidth, "
                              "i.getBoundingClientRect().width])")
        assert len(sizes) == 25 and all(w > 0 and shown > 0 for w, shown in sizes)
        charts = page.evaluate("() => [...document.querySelectorAll('svg')].map(s => "
                               "s.getBoundingClientRect().height)")
        assert len(charts) >= 4 and all(h > 0 for h in charts)
        assert page.locator("[data-testid=tda-table] tbody tr").count() == 2
        ctx.close()
    assert not errors
    assert all(u.startswith(("file:", "data:")) for u in requests)
