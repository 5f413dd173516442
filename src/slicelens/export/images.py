"""Sample images (and their attribution heatmaps) as PNG data URIs for the HTML report.

The heatmap is the run's stored attribution map (``maps``: the predicted class's map,
AttributionScanner Sec. III-D) upsampled bilinearly, scaled to its maximum and blended
over the image on a blue-to-red ramp, as in the app's Slice Detail View.

Example
-------
>>> uri = data_uri(np.zeros((4, 4, 3), np.uint8))
>>> uri.startswith("data:image/png;base64,")
True
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from slicelens.store.run import Run

THUMB = 96


def data_uri(rgb: np.ndarray, size: int | None = THUMB) -> str:
    """An RGB uint8 image (H, W, 3) as a PNG ``data:`` URI (resized to ``size``)."""
    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    if size and img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.NEAREST if max(img.size) < size else Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def file_uri(path, size: int | None = None) -> str:
    """A PNG file as a ``data:`` URI (the mosaic)."""
    img = np.asarray(Image.open(path).convert("RGB"))
    return data_uri(img, size)


def heatmap(rgb: np.ndarray, amap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a non-negative map (m, k) over an image on a blue-cyan-yellow-red ramp."""
    h, w = rgb.shape[:2]
    up = np.asarray(Image.fromarray(np.asarray(amap, np.float32)).resize((w, h), Image.Resampling.BILINEAR))
    top = float(up.max())
    t = np.clip(up / top, 0, 1) if top > 0 else np.zeros_like(up)
    r = np.clip(1.5 - np.abs(4 * t - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * t - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * t - 1), 0, 1)
    colour = np.stack([r, g, b], -1) * 255.0
    return (alpha * colour + (1 - alpha) * rgb.astype(np.float32)).round().astype(np.uint8)


def sample_images(run: Run, ids, with_heatmaps: bool) -> list[dict]:
    """``[{"id", "image", "heatmap"}]`` data URIs for sample ids of ``run`` (``heatmap``
    is None when the run has no maps); raises when the images cannot be read."""
    dataset = run.dataset()
    rows = dataset.index_of(list(ids))
    images = dataset.load_uint8(rows)
    run_rows = run.samples.reset_index(drop=True).index[
        run.samples["id"].astype(str).isin(list(ids))]
    pos = {sid: r for sid, r in zip(run.samples["id"].astype(str).to_numpy()[run_rows],
                                    run_rows, strict=True)}
    maps = run.array("maps") if with_heatmaps else None
    out = []
    for sid, img in zip(ids, images, strict=True):
        img = np.asarray(img)
        heat = (data_uri(heatmap(img, np.asarray(maps[pos[sid]], np.float32)))
                if maps is not None else None)
        out.append({"id": sid, "image": data_uri(img), "heatmap": heat})
    return out
