"""``slicelens report`` / ``run.report()``: one self-contained HTML file.

Everything is inside the file (styles, inline SVG charts, images as PNG ``data:`` URIs):
it opens offline and can be mailed to a colleague. Sections, in order: run summary,
slices with their intervals, the worst images of the top slices with heatmaps, the
Attribution Mosaic, attribute bug slices in words, marks, training-data attribution
(table and forest plot), and repairs beside their matched controls. A section without
data says what would fill it.

Example
-------
>>> path = write_report(run, "report.html")          # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slicelens.store.run import Run

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #1f5fa8;padding-bottom:.2rem;margin-top:2.5rem}
nav a{margin-right:1rem} table{border-collapse:collapse;font-size:13px;margin:.6rem 0;display:block;max-width:100%;overflow-x:auto}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top} th{background:#f0f3f7}
.empty{color:#777;font-style:italic} dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}
dt{font-weight:bold} .grid{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;text-align:center;font-size:11px} figure img{width:96px;height:96px;image-rendering:pixelated;margin:1px}
img.mosaic{max-width:100%;border:1px solid #ccc}
"""


def build_sections(run: Run, top: int = 6, per_slice: int = 8) -> list[tuple]:
    """The report's sections as ``(id, title, html, has_data)``."""
    from slicelens.export import sections as S
    from slicelens.export.tables import stored_slice_sets, tda_results

    sets = stored_slice_sets(run)
    return [S.summary(run), S.slice_table(run, sets, top=20),
            S.worst_images(run, sets, top, per_slice), S.mosaic(run, sets), S.bugs(run, sets),
            S.marks(run), S.tda(run, tda_results(run)), S.repairs(run)]


def render(run: Run, top: int = 6, per_slice: int = 8) -> str:
    """The report as one HTML string."""
    from slicelens import __version__

    sections = build_sections(run, top, per_slice)
    nav = "".join(f'<a href="#{sid}">{escape(title)}</a>' for sid, title, _, _ in sections)
    body = "".join(f'<section id="{sid}" data-has-data="{str(has).lower()}"><h2>{escape(title)}'
                   f"</h2>{html}</section>" for sid, title, html, has in sections)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>slicelens report: {escape(run.id)}</title><style>{STYLE}</style></head>"
            f"<body><h1>slicelens report: {escape(run.id)}</h1>"
            f"<p>Made {now} by slicelens {__version__} from the run's stored results.</p>"
            f"<nav>{nav}</nav>{body}</body></html>")


def write_report(run: Run, path="report.html", *, top: int = 6, per_slice: int = 8) -> Path:
    """Write the report of ``run`` to ``path`` (atomically); returns the path.

    Parameters
    ----------
    run : Run
    path : path
    top : int
        Slices whose worst images are shown.
    per_slice : int
        Images per slice (highest loss first).
    """
    from slicelens.store.atomic import write_bytes

    path = Path(path)
    write_bytes(path, render(run, top, per_slice).encode("utf-8"))
    return path
