"""In-memory adapter: NumPy image arrays to an :class:`ImageDataset`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from slicelens.data.dataset import ImageDataset
from slicelens.errors import DataError


def _to_uint8_rgb(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 3:  # grayscale (n, H, W)
        x = np.repeat(x[..., None], 3, axis=-1)
    if x.ndim != 4 or x.shape[-1] != 3:
        hint = " (channels first? transpose to (n, H, W, 3))" if x.ndim == 4 and x.shape[1] == 3 else ""
        raise DataError(f"images must have shape (n, H, W, 3) or (n, H, W), got {x.shape}{hint}",
                        file="<arrays>", field="images")
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.floating):
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
            raise DataError("float images must be finite and in [0, 1]", file="<arrays>",
                            field="images")
        return np.round(x * 255).astype(np.uint8)
    if np.issubdtype(x.dtype, np.integer) and (x.size == 0 or (x.min() >= 0 and x.max() <= 255)):
        return x.astype(np.uint8)
    raise DataError(f"images must be uint8 or float in [0, 1], got {x.dtype}", file="<arrays>",
                    field="images")


def from_arrays(images, labels, classes: Sequence[str], splits=None, ids=None,
                metadata: pd.DataFrame | None = None) -> ImageDataset:
    """Wrap in-memory images as an :class:`ImageDataset`.

    Parameters
    ----------
    images : array, shape (n, H, W, 3) or (n, H, W)
        uint8, or float in [0, 1] (converted to uint8); grayscale is repeated to RGB.
    labels : array of int, shape (n,)
        Index into ``classes``; ``-1`` = unlabeled.
    classes : list of str
        Class names in the model's output order.
    splits : str or array of str, shape (n,), optional
        One split for all rows or one per row (default ``"test"``).
    ids : array of str, shape (n,), optional
        Default ``"i0", "i1", ...``.
    metadata : DataFrame, optional
        Row-aligned extra columns.

    Examples
    --------
    >>> import numpy as np
    >>> ds = from_arrays(np.zeros((2, 8, 8)), [0, 1], ["a", "b"])
    >>> ds.arrays.shape, ds.ids.tolist()
    ((2, 8, 8, 3), ['i0', 'i1'])
    """
    x = _to_uint8_rgb(images)
    n = len(x)
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"labels must be {n} integers, got shape {labels.shape} of {labels.dtype}",
                        file="<arrays>", field="labels")
    if splits is None or isinstance(splits, str):
        splits = np.full(n, splits or "test")
    ids = np.array([f"i{i}" for i in range(n)]) if ids is None else np.asarray(ids, dtype=str)
    if len(ids) != n:
        raise DataError(f"ids has {len(ids)} entries, images has {n}", file="<arrays>", field="ids")
    return ImageDataset(ids=ids, labels=labels, classes=[str(c) for c in classes], splits=splits,
                        metadata=pd.DataFrame() if metadata is None else metadata, arrays=x,
                        source="<arrays>")


def save_arrays(dataset: ImageDataset, path) -> str:
    """Write an in-memory dataset to one ``.npz`` file that :func:`load_arrays` (and so
    ``load_dataset``) reads back: how a run extracted from arrays reloads its images.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> ds = from_arrays(np.zeros((2, 8, 8)), [0, 1], ["a", "b"], splits="val")
    >>> path = save_arrays(ds, os.path.join(tempfile.mkdtemp(), "data.npz"))
    >>> back = load_arrays(path)
    >>> back.classes, back.ids.tolist(), back.splits.tolist(), back.arrays.shape
    (['a', 'b'], ['i0', 'i1'], ['val', 'val'], (2, 8, 8, 3))
    """
    from pathlib import Path

    from slicelens.atomic import save_npz

    if dataset.arrays is None:
        raise DataError("only an in-memory dataset (arrays) is saved this way", field="images")
    meta = dataset.metadata.reset_index(drop=True)
    save_npz(Path(path), images=dataset.arrays, labels=dataset.labels, ids=dataset.ids,
             splits=dataset.splits, classes=np.asarray(dataset.classes, dtype=str),
             metadata_json=np.asarray(meta.to_json(orient="columns")))
    return str(path)


def load_arrays(path) -> ImageDataset:
    """The dataset :func:`save_arrays` wrote (its ``source`` is the file)."""
    import io

    with np.load(path, allow_pickle=False) as z:
        meta = pd.read_json(io.StringIO(str(z["metadata_json"])), orient="columns")
        ds = from_arrays(z["images"], z["labels"].astype(np.int64), z["classes"].tolist(),
                         splits=z["splits"], ids=z["ids"], metadata=meta if len(meta) else None)
    ds.source = str(path)
    return ds
