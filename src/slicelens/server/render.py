"""Images and attribution heatmaps of samples as PNG bytes (looked up by sample id).

The heatmap is the run's stored attribution map (``maps``, float16 (m, k), summing to 1:
the predicted class's GradCAM / CAM, AttributionScanner Sec. III-D) upsampled
bilinearly to the image, scaled to its maximum, colour-mapped and blended over the
image, as in the paper's Slice Detail View (Fig. 2 D).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

HEATMAP_ALPHA = 0.5
COLORMAP = "jet"


def png(rgb: np.ndarray) -> bytes:
    """Encode an RGB uint8 array (H, W, 3) as PNG."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def resize(rgb: np.ndarray, size: int | None) -> np.ndarray:
    """Upscale/downscale (H, W, 3) uint8 to ``size x size`` (nearest keeps pixels sharp)."""
    if size is None or rgb.shape[:2] == (size, size):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST))


def heatmap_overlay(rgb: np.ndarray, amap: np.ndarray, alpha: float = HEATMAP_ALPHA) -> np.ndarray:
    """Blend a colour-mapped attribution map over an image.

    Parameters
    ----------
    rgb : uint8 array (H, W, 3)
    amap : float array (m, k), non-negative
    alpha : float in [0, 1]
        Weight of the heatmap.

    Returns
    -------
    uint8 array (H, W, 3)

    Examples
    --------
    >>> out = heatmap_overlay(np.zeros((8, 8, 3), np.uint8), np.eye(2))
    >>> out.shape, bool(out[0, 0, 0] > out[0, 7, 0])   # hot corner red, cold corner blue
    ((8, 8, 3), True)
    """
    from matplotlib import colormaps

    h, w = rgb.shape[:2]
    m = np.asarray(amap, dtype=np.float32)
    up = np.asarray(Image.fromarray(m).resize((w, h), Image.Resampling.BILINEAR))
    top = float(up.max())
    up = up / top if top > 0 else np.zeros_like(up)
    colour = colormaps[COLORMAP](np.clip(up, 0, 1))[..., :3] * 255.0
    return (alpha * colour + (1 - alpha) * rgb.astype(np.float32)).round().astype(np.uint8)
