"""Compose the Attribution Mosaic: every slice's tile inside its hull, at its 2-D place.

K-Means cells are disjoint, so the convex hulls of the slices do not overlap
(AttributionScanner Sec. III-E) and the tiles form a mosaic. Each hull's boundary is
coloured by a metric (accuracy, confidence or spuriousness) on a red-yellow-green scale;
the legend under the mosaic gives the scale. Tiny hulls are drawn at least
``MIN_TILE`` px wide so rare slices stay visible (the paper enlarges a tile on hover,
App. A-III; a static image cannot).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MIN_TILE = 10
MARGIN = 24
LEGEND = 40
#: red (bad) -> yellow -> green (good), ColorBrewer RdYlGn end and middle colours
ANCHORS = np.array([[215, 48, 39], [254, 224, 139], [26, 152, 80]], np.float64)
NAN_COLOUR = (150, 150, 150)


def colour(value: float, higher_is_better: bool = True) -> tuple[int, int, int]:
    """RGB of ``value`` in [0, 1] on the red-yellow-green scale (NaN: grey).

    Examples
    --------
    >>> colour(0.0), colour(1.0), colour(float("nan"))
    ((215, 48, 39), (26, 152, 80), (150, 150, 150))
    """
    if value is None or not np.isfinite(value):
        return NAN_COLOUR
    t = float(np.clip(value, 0, 1)) if higher_is_better else 1.0 - float(np.clip(value, 0, 1))
    seg = min(int(t * 2), 1)
    u = t * 2 - seg
    rgb = ANCHORS[seg] * (1 - u) + ANCHORS[seg + 1] * u
    r, g, b = (int(round(c)) for c in rgb)
    return r, g, b


def draw_mosaic(images: np.ndarray, polygons: list, values: np.ndarray, path,
                label: str = "accuracy", names: list[str] | None = None,
                canvas: int = 1024) -> Path:
    """Write the composed mosaic PNG.

    Parameters
    ----------
    images : ndarray, shape (B, S, S, 3), float in [0, 1]
        One tile per slice (the hull stretched to the square, see ``hull_mask``).
    polygons : list of B polygons ``[[x, y], ...]`` in the layout's coordinates
    values : ndarray, shape (B,)
        Metric per slice in [0, 1] colouring the boundaries (NaN: grey).
    path : path of the PNG
    label : str
        Metric name for the legend; ``"spuriousness"`` reverses the scale (high = red).
    names : list of str, optional
        Short text drawn at each tile's centre (e.g. the slice rank).
    canvas : int
        Side of the drawing area in pixels.

    Returns
    -------
    Path
    """
    from slicelens.store.atomic import atomic_open

    good_high = label != "spuriousness"
    pts = np.concatenate([np.asarray(p, np.float64) for p in polygons])
    lo, span = pts.min(0), np.maximum(np.ptp(pts, 0), 1e-12)
    scale = (canvas - 1) / span.max()
    offset = (canvas - span * scale) / 2

    def to_px(p):
        xy = (np.asarray(p, np.float64) - lo) * scale + offset
        xy[:, 1] = canvas - xy[:, 1]  # y grows upwards in the layout, downwards in images
        return xy + MARGIN

    img = Image.new("RGB", (canvas + 2 * MARGIN, canvas + 2 * MARGIN + LEGEND), "white")
    draw = ImageDraw.Draw(img)
    outlines = []
    for i, (tile, poly) in enumerate(zip(images, polygons, strict=True)):
        xy = to_px(poly)
        x0, y0 = np.floor(xy.min(0)).astype(int)
        w, h = np.maximum(np.ceil(xy.max(0)).astype(int) - (x0, y0), MIN_TILE)
        if np.ptp(xy, 0).min() < MIN_TILE:  # a sliver: draw the tile as a small box
            xy = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]], float)
        mask = Image.new("L", (int(w), int(h)), 0)
        ImageDraw.Draw(mask).polygon([tuple(p) for p in xy - (x0, y0)], fill=255)
        tile_img = Image.fromarray(np.round(255 * np.clip(tile, 0, 1)).astype(np.uint8))
        img.paste(tile_img.resize((int(w), int(h)), Image.Resampling.BICUBIC), (int(x0), int(y0)), mask)
        outlines.append((xy, colour(values[i], good_high)))
    for i, (xy, rgb) in enumerate(outlines):  # boundaries on top of every tile
        draw.line([tuple(p) for p in np.vstack([xy, xy[:1]])], fill=rgb, width=3)
        if names is not None:
            cx, cy = xy.mean(0)
            draw.text((cx - 6, cy - 5), names[i], fill="black")
    _legend(draw, canvas, label, good_high)
    path = Path(path)
    with atomic_open(path) as f:
        img.save(f, "PNG")
    return path


def _legend(draw: ImageDraw.ImageDraw, canvas: int, label: str, good_high: bool) -> None:
    top = canvas + 2 * MARGIN + 4
    left, width = MARGIN, min(300, canvas // 2)
    for x in range(width):
        draw.line([(left + x, top), (left + x, top + 12)], fill=colour(x / (width - 1), good_high))
    draw.text((left, top + 16), "0", fill="black")
    draw.text((left + width - 8, top + 16), "1", fill="black")
    draw.text((left + width + 12, top), f"boundary colour: {label} (grey: unknown)", fill="black")
