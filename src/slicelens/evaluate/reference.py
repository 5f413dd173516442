"""A dataset's evaluation reference: true groups and core masks, beside its manifest.

Evaluation only (no slicer, tagger or repair reads them). A dataset may ship, in the
folder of its manifest:

- ``ground_truth.csv``: one row per sample, column ``id`` (the manifest's ids) and
  ``group`` (the true group, e.g. Waterbirds' ``class|background``), more columns
  allowed (:func:`slicelens.evaluate.groups.load_ground_truth`); worst-group accuracy
  and the per-group tables read ``group``;
- ``core_masks.npz``: ``ids`` (str, (n,)), ``masks`` (bool, (n, H, W); True = the core
  object, the rest is the spurious region of AttributionScanner Sec. V-A) and
  ``description`` (one line saying what "core" is), written by :func:`save_core_masks`.

``slicelens.pipeline.evaluate.evaluate_run`` finds both by these names (``"auto"``); the
demo writes them (:mod:`slicelens.demo.masks`), and so can any dataset with
segmentation masks.

Examples
--------
>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> m = np.zeros((2, 4, 4), bool); m[0, 1:3, 1:3] = True
>>> p = save_core_masks(f"{d}/core_masks.npz", ["a", "b"], m, "the object")
>>> masks, text = load_core_masks(p, np.array(["b", "a"]), size=8)
>>> masks.shape, int(masks[1].sum()), text
((2, 8, 8), 16, 'the object')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slicelens.errors import DataError

#: file names looked for beside the manifest
GROUND_TRUTH = "ground_truth.csv"
CORE_MASKS = "core_masks.npz"


def save_core_masks(path: str | Path, ids, masks: np.ndarray, description: str) -> Path:
    """Write core masks (bool ``(n, H, W)``) of sample ``ids`` with a one-line ``description``."""
    masks = np.asarray(masks, dtype=bool)
    ids = np.asarray(ids, dtype=str)
    if masks.ndim != 3 or len(masks) != len(ids):
        raise ValueError(f"masks {masks.shape} must be (n, H, W) for {len(ids)} ids")
    path = Path(path)
    with path.open("wb") as f:
        np.savez_compressed(f, ids=ids, masks=masks, description=np.array(description))
    return path


def load_core_masks(path: str | Path, ids: np.ndarray, size: int) -> tuple[np.ndarray, str]:
    """Core masks of sample ``ids`` (in that order) at ``size x size`` pixels, and the
    file's description. Masks of another size are resized (nearest neighbour).

    Raises
    ------
    DataError
        The file cannot be read, lacks a field, or lacks one of ``ids`` (named).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            known, masks, text = z["ids"].astype(str), z["masks"].astype(bool), str(z["description"])
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot read core masks: {e}", file=str(path)) from None
    pos = {k: i for i, k in enumerate(known)}
    missing = [str(i) for i in ids if i not in pos]
    if missing:
        raise DataError(f"no core mask for sample {missing[0]!r} ({len(missing)} missing)",
                        file=str(path), field="ids")
    out = masks[[pos[i] for i in ids]]
    if out.shape[1:] != (size, size):
        rows = (np.arange(size) * out.shape[1] // size)
        cols = (np.arange(size) * out.shape[2] // size)
        out = out[:, rows][:, :, cols]
    return out, text


def beside(path: str | Path | None, name: str) -> Path | None:
    """``name`` in the folder of ``path`` if that file exists, else None."""
    if not path:
        return None
    p = Path(path).parent / name
    return p if p.exists() else None
