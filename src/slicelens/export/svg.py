"""Small inline SVG charts for the HTML report (no plotting library, no files).

Examples
--------
>>> svg = interval_chart([("s-00", 0.4, 0.3, 0.5)], lo=0, hi=1, title="accuracy")
>>> svg.startswith("<svg") and "s-00" in svg
True
"""

from __future__ import annotations

import math
from html import escape

ROW, LEFT, WIDTH, RIGHT = 22, 230, 360, 70


def _x(v: float, lo: float, hi: float) -> float:
    v = min(max(v, lo), hi)
    return LEFT + (v - lo) / (hi - lo or 1.0) * WIDTH


def interval_chart(rows, *, lo: float, hi: float, title: str, zero: float | None = None,
                   testid: str = "chart", fmt: str = "{:.2f}") -> str:
    """One row per ``(name, value, low, high)``: a dot and its interval (a forest plot).

    ``zero`` draws a reference line (0 for effects, the overall accuracy for slices).
    NaN intervals draw the dot alone (an estimate without an interval).
    """
    h = ROW * len(rows) + 46
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" data-testid="{testid}" '
           f'width="{LEFT + WIDTH + RIGHT}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>']
    axis_y = h - 22
    out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{LEFT + WIDTH}" y2="{axis_y}" stroke="#888"/>')
    for t in range(5):
        v = lo + (hi - lo) * t / 4
        x = _x(v, lo, hi)
        out.append(f'<text x="{x:.1f}" y="{axis_y + 15}" text-anchor="middle" fill="#555">'
                   f'{escape(fmt.format(v))}</text>')
    if zero is not None and lo <= zero <= hi:
        x = _x(zero, lo, hi)
        out.append(f'<line x1="{x:.1f}" y1="22" x2="{x:.1f}" y2="{axis_y}" stroke="#999" '
                   'stroke-dasharray="4 3"/>')
    for i, (name, v, a, b) in enumerate(rows):
        y = 30 + i * ROW
        out.append(f'<text x="{LEFT - 8}" y="{y + 4}" text-anchor="end">{escape(str(name))[:34]}</text>')
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b):
            out.append(f'<line x1="{_x(a, lo, hi):.1f}" y1="{y}" x2="{_x(b, lo, hi):.1f}" '
                       f'y2="{y}" stroke="#1f5fa8" stroke-width="2"/>')
        if v is not None and math.isfinite(v):
            out.append(f'<circle cx="{_x(v, lo, hi):.1f}" cy="{y}" r="4" fill="#1f5fa8"/>')
            out.append(f'<text x="{LEFT + WIDTH + 6}" y="{y + 4}" fill="#333">'
                       f'{escape(fmt.format(v))}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(groups, series: list[str], *, title: str, testid: str = "bars") -> str:
    """Grouped bars in [0, 1]: ``groups`` is ``[(group name, [value per series]), ...]``
    (e.g. before / control / after accuracy per metric)."""
    colours = ["#9aa5b1", "#e0a84f", "#2f8f5b", "#1f5fa8"]
    bw, gap, height = 26, 30, 160
    width = 60 + len(groups) * (len(series) * bw + gap) + 150
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" data-testid="{testid}" '
           f'width="{width}" height="{height + 60}" font-family="sans-serif" font-size="12">',
           f'<text x="10" y="14" font-weight="bold">{escape(title)}</text>',
           f'<line x1="50" y1="{height + 20}" x2="{width - 150}" y2="{height + 20}" stroke="#888"/>']
    for t in (0, 0.5, 1):
        y = height + 20 - t * height
        out.append(f'<text x="44" y="{y + 4:.1f}" text-anchor="end" fill="#555">{t:.1f}</text>')
    for g, (name, values) in enumerate(groups):
        x0 = 60 + g * (len(series) * bw + gap)
        for k, v in enumerate(values):
            if v is None or not math.isfinite(v):
                continue
            hgt = max(0.0, min(1.0, v)) * height
            out.append(f'<rect x="{x0 + k * bw}" y="{height + 20 - hgt:.1f}" width="{bw - 4}" '
                       f'height="{hgt:.1f}" fill="{colours[k % len(colours)]}">'
                       f'<title>{escape(series[k])}: {v:.3f}</title></rect>')
            out.append(f'<text x="{x0 + k * bw + (bw - 4) / 2:.1f}" y="{height + 16 - hgt:.1f}" '
                       f'text-anchor="middle" font-size="10">{v:.2f}</text>')
        out.append(f'<text x="{x0 + len(series) * bw / 2:.1f}" y="{height + 36}" '
                   f'text-anchor="middle">{escape(name)}</text>')
    for k, s in enumerate(series):
        y = 30 + k * 18
        out.append(f'<rect x="{width - 140}" y="{y - 10}" width="12" height="12" '
                   f'fill="{colours[k % len(colours)]}"/><text x="{width - 122}" y="{y}">'
                   f'{escape(s)}</text>')
    out.append("</svg>")
    return "".join(out)
