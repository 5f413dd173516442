"""Data adapters: every format becomes one :class:`ImageDataset`, once, at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slicelens.data.arrays import from_arrays
from slicelens.data.dataset import SPLITS, BadInputReport, ImageDataset
from slicelens.data.folder import load_folder
from slicelens.data.manifest import load_manifest
from slicelens.errors import DataError

__all__ = ["SPLITS", "BadInputReport", "ImageDataset", "from_arrays", "load_dataset",
           "load_folder", "load_manifest"]


def load_dataset(source: str | Path, *, classes: Sequence[str] | str | Path | None = None,
                 skip_bad: bool = False) -> ImageDataset:
    """Load a manifest (``.csv`` / ``.parquet``) or an image folder.

    Parameters
    ----------
    source : path
        A directory (see :func:`load_folder`) or a manifest (see :func:`load_manifest`).
    classes : list of str or path, optional
        Class names in the model's output order, or a text file with one per line.
    skip_bad : bool
        Drop missing / corrupt images (listed in ``dataset.bad_inputs``) instead of raising.

    Examples
    --------
    >>> ds = load_dataset("demo/manifest.csv")  # doctest: +SKIP
    """
    path = Path(source)
    if path.is_dir():
        return load_folder(path, classes=classes, skip_bad=skip_bad)
    if path.suffix.lower() == ".npz" and path.exists():
        from slicelens.data.arrays import load_arrays

        return load_arrays(path)  # an in-memory dataset saved with its run
    if path.suffix.lower() in (".csv", ".parquet", ".pq"):
        return load_manifest(path, classes=classes, skip_bad=skip_bad)
    if not path.exists():
        raise DataError("data source not found (expected a folder or a .csv / .parquet "
                        "manifest)", file=str(source))
    raise DataError("unsupported data source (expected a folder or a .csv / .parquet manifest)",
                    file=str(source))
