"""Image decoding, resizing and fast validity checks (PIL)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from slicelens.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def decode_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file as RGB.

    Grayscale, palette and RGBA images are converted with PIL's ``convert("RGB")``
    (alpha is dropped). 16-bit and 32-bit integer images (PIL modes ``I;16*`` and
    ``I``, e.g. 16-bit grayscale PNGs) are scaled from [0, 65535] to [0, 255]
    (``round(v / 257)``); PIL's own conversion would clip them to white.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)

    Raises
    ------
    DataError
        The file is missing, unreadable or not a decodable image (names the file).
    """
    try:
        with Image.open(path) as im:
            if im.mode.startswith("I"):
                return _wide_to_rgb(np.asarray(im))
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError("image file not found", file=str(path)) from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        raise DataError(f"cannot decode image: {e}", file=str(path)) from None


def _wide_to_rgb(a: np.ndarray) -> np.ndarray:
    """A 16-bit (or 32-bit integer holding 16-bit) grey image (H, W) as uint8 RGB."""
    grey = np.rint(np.clip(a.astype(np.float64), 0, 65535) / 257.0).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def image_size(path: str | Path) -> tuple[int, int] | None:
    """``(height, width)`` from the image header (no decode), or None if unreadable."""
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except Exception:  # noqa: BLE001 - an unreadable image has no size to share
        return None


def resize_rgb(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of an RGB image ``(H, W, 3)`` uint8 to ``(size, size, 3)`` uint8."""
    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def check_image(path: str | Path) -> str | None:
    """Why ``path`` is not a readable image, or None when it is.

    Uses PIL's ``verify()`` (header and checksums), then decodes the image, at reduced
    scale where the format allows it (JPEG ``draft``): a file whose header and
    checksums are fine but whose data does not decode (e.g. a truncated stream) is
    caught here, before any model work, instead of stopping a run half-way.
    """
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:  # verify() leaves the image unusable: reopen
            im.draft("RGB", (64, 64))
            im.load()
    except FileNotFoundError:
        return "image file not found"
    except IsADirectoryError:
        return "image path is a directory"
    except Exception as e:  # noqa: BLE001 - PIL raises many types for corrupt files
        return f"corrupt or unreadable image ({type(e).__name__}: {e})"
    return None


def check_images(paths: Sequence[str], workers: int = 8) -> list[str | None]:
    """:func:`check_image` over many paths (threaded: the work is mostly I/O)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(check_image, [str(p) for p in paths]))
