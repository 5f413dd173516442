"""The demo's core masks: the digit's ink, from the geometry the renderer recorded.

:func:`slicelens.demo.data.build_demo` writes them beside the manifest as the dataset's
evaluation reference (``core_masks.npz``, :mod:`slicelens.evaluate.reference`), so that
core / spurious accuracy and RCS (AttributionScanner Sec. V-A) read them like any
dataset's segmentation masks: digit ink = core, background = spurious.
"""

from __future__ import annotations

import numpy as np

#: The demo darkens every background to pixel values in [20, 166] (slicelens.demo.data:
#: ``0.08 + 0.57 * img``) and draws digits in light ink, so inside a digit's placement box
#: a pixel brighter than this in every channel is ink.
DEMO_BACKGROUND_MAX = 166
#: what "core" means in the demo's masks (shown in every evaluation report)
DESCRIPTION = "digit ink = core, background = spurious"


def demo_digit_masks(images: np.ndarray, digit_scale, digit_x, digit_y,
                     background_max: int = DEMO_BACKGROUND_MAX) -> np.ndarray:
    """Core masks of demo images from the ground truth's geometry: the digit's ink.

    The digit of a demo image sits in a square box of side ``max(4, round(scale * size))``
    centred at ``(digit_x, digit_y) * size`` (``slicelens.demo.data._render``); inside the
    box, ink is every pixel brighter than ``background_max`` in all channels.

    Parameters
    ----------
    images : uint8 array (n, H, W, 3)
    digit_scale, digit_x, digit_y : arrays (n,)
        Ground-truth columns of the same name.

    Returns
    -------
    bool array (n, H, W)

    Examples
    --------
    >>> img = np.full((1, 8, 8, 3), 50, np.uint8); img[0, 3, 3] = img[0, 0, 0] = 250
    >>> m = demo_digit_masks(img, [0.5], [0.5], [0.5])
    >>> bool(m[0, 3, 3]), bool(m[0, 0, 0]), int(m.sum())
    (True, False, 1)
    """
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    masks = np.zeros((n, h, w), dtype=bool)
    bright = images.min(axis=-1) > background_max
    for i, (sc, cx, cy) in enumerate(zip(digit_scale, digit_x, digit_y, strict=True)):
        side = max(4, int(round(float(sc) * w)))
        left = int(np.clip(round(float(cx) * w - side / 2), 0, max(w - side, 0)))
        top = int(np.clip(round(float(cy) * h - side / 2), 0, max(h - side, 0)))
        masks[i, top:top + side, left:left + side] = bright[i, top:top + side, left:left + side]
    return masks
