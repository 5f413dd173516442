"""The canonical dataset type every adapter converts to.

Formats are converted once, at the edge (image folders, manifests, arrays); the core
takes an :class:`ImageDataset` and the tensors it yields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from slicelens.errors import DataError

SPLITS = ("train", "val", "test", "pool")


@dataclass
class BadInputReport:
    """Inputs dropped by ``skip_bad=True``: one ``(row, path, reason)`` per bad image.

    ``row`` is the 1-based manifest row (header = row 1) or None for image folders.
    """

    rows: list[tuple[int | None, str | None, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The report as CSV text (``row,path,reason``); also written to ``path`` if given."""
        text = pd.DataFrame(self.rows, columns=["row", "path", "reason"]).to_csv(index=False)
        if path is not None:
            Path(path).write_text(text)
        return text


@dataclass
class ImageDataset:
    """Images with labels, splits and stable sample ids.

    Attributes
    ----------
    ids : ndarray of str, shape (n,)
        Stable, unique sample ids (a manifest's ``id`` column, else the image path
        relative to the manifest or folder, else ``"i<index>"`` for arrays).
    labels : ndarray of int64, shape (n,)
        Index into ``classes``; ``-1`` for unlabeled samples (e.g. an unlabeled pool
        whose labels are hidden).
    classes : list of str
        Class names; their order is the model's output order.
    splits : ndarray of str, shape (n,)
        One of ``SPLITS`` per sample.
    metadata : DataFrame, shape (n, k)
        Extra manifest columns (row-aligned, default RangeIndex). Slicers never read
        columns listed in ``hidden_columns``.
    paths : ndarray of str, shape (n,), optional
        Absolute image paths; exactly one of ``paths`` / ``arrays`` is set.
    arrays : ndarray of uint8, shape (n, H, W, 3), optional
        In-memory RGB images.
    source : str
        Where the data came from (manifest path, folder, ``"<arrays>"``); for messages.
    bad_inputs : BadInputReport
        Images dropped while loading with ``skip_bad=True`` (empty otherwise).
    notes : tuple of str
        What the loader decided for the user (e.g. a validation split it made), to print.
    """

    ids: np.ndarray
    labels: np.ndarray
    classes: list[str]
    splits: np.ndarray
    metadata: pd.DataFrame = field(default_factory=pd.DataFrame)
    paths: np.ndarray | None = None
    arrays: np.ndarray | None = None
    source: str = "<arrays>"
    hidden_columns: tuple[str, ...] = ()
    bad_inputs: BadInputReport = field(default_factory=BadInputReport)
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        self.ids = np.asarray(self.ids, dtype=str)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.splits = np.asarray(self.splits, dtype=str)
        n = len(self.ids)
        if (self.paths is None) == (self.arrays is None):
            raise DataError("an ImageDataset needs exactly one of paths / arrays")
        if self.paths is not None:
            self.paths = np.asarray(self.paths, dtype=str)
        for name in ("labels", "splits"):
            if len(getattr(self, name)) != n:
                raise DataError(f"{name} has {len(getattr(self, name))} entries, ids has {n}",
                                field=name, file=self.source)
        images = self.paths if self.paths is not None else self.arrays
        assert images is not None  # exactly one of them, checked above
        if images.shape[0] != n:
            raise DataError("images and ids differ in length", file=self.source)
        if len(self.metadata) not in (0, n):
            raise DataError("metadata rows differ from ids", file=self.source)
        if len(self.metadata) == 0:
            self.metadata = pd.DataFrame(index=pd.RangeIndex(n))
        self.metadata = self.metadata.reset_index(drop=True)
        dup = pd.Series(self.ids).duplicated()
        if dup.any():
            raise DataError(f"sample id {self.ids[dup.values][0]!r} appears twice",
                            file=self.source, field="id")
        bad = ~np.isin(self.splits, SPLITS)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"unknown split {self.splits[i]!r} (expected one of {SPLITS})",
                            file=self.source, field="split")
        if self.labels.size and (self.labels.max() >= len(self.classes) or self.labels.min() < -1):
            raise DataError("label index out of range of classes", file=self.source, field="label")

    def __len__(self) -> int:
        return len(self.ids)

    # -- selection -----------------------------------------------------------------
    def split_indices(self, split: str) -> np.ndarray:
        """Row indices of one split (in dataset order)."""
        return np.flatnonzero(self.splits == split)

    def subset(self, index: Sequence[int] | np.ndarray) -> ImageDataset:
        """A new dataset with rows ``index`` (int indices or a boolean mask)."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return ImageDataset(
            ids=self.ids[index], labels=self.labels[index], classes=list(self.classes),
            splits=self.splits[index], metadata=self.metadata.iloc[index].reset_index(drop=True),
            paths=None if self.paths is None else self.paths[index],
            arrays=None if self.arrays is None else self.arrays[index],
            source=self.source, hidden_columns=self.hidden_columns, bad_inputs=self.bad_inputs,
            notes=self.notes,
        )

    def split(self, split: str) -> ImageDataset:
        """The rows of one split as a dataset."""
        return self.subset(self.split_indices(split))

    def index_of(self, ids: Sequence[str]) -> np.ndarray:
        """Row indices of the given sample ids; unknown ids are a :class:`DataError`."""
        pos = pd.Index(self.ids).get_indexer(list(ids))
        if (pos < 0).any():
            missing = np.asarray(ids)[pos < 0][0]
            raise DataError(f"unknown sample id {missing!r}", file=self.source, field="id")
        return pos

    def visible_metadata(self) -> pd.DataFrame:
        """Metadata without the hidden (ground-truth) columns."""
        return self.metadata.drop(columns=[c for c in self.hidden_columns if c in self.metadata])

    # -- pixels --------------------------------------------------------------------
    def common_size(self) -> int | None:
        """The side of every image when all are square of one size (headers only), else None."""
        from slicelens.data.images import image_size

        if self.arrays is not None:
            h, w = self.arrays.shape[1:3]
            return int(h) if h == w and len(self) else None
        first = None
        assert self.paths is not None  # exactly one of paths / arrays
        for p in self.paths:
            hw = image_size(p)
            if hw is None or hw[0] != hw[1] or (first is not None and hw != first):
                return None
            first = hw
        return None if first is None else int(first[0])

    def load_uint8(self, index: Sequence[int] | np.ndarray, size: int | None = None) -> np.ndarray:
        """Decode images as RGB uint8.

        Parameters
        ----------
        index : sequence of int
            Rows to load.
        size : int, optional
            Resize to ``size x size`` (bilinear); None keeps the native size, which
            then must be equal for all rows.

        Returns
        -------
        ndarray of uint8, shape (len(index), H, W, 3)
        """
        from slicelens.data.images import decode_rgb, resize_rgb

        index = np.asarray(index, dtype=np.int64)
        out = []
        for i in index:
            if self.arrays is not None:
                img = self.arrays[i]
            else:
                assert self.paths is not None  # exactly one of paths / arrays
                img = decode_rgb(self.paths[i])
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            if size is not None and img.shape[:2] != (size, size):
                img = resize_rgb(img, size)
            out.append(img)
        if not out:
            s = size or 1
            return np.zeros((0, s, s, 3), np.uint8)
        try:
            return np.stack(out)
        except ValueError as e:
            raise DataError("images differ in size; pass an image size to resize them",
                            file=self.source) from e

    def load(self, index: Sequence[int] | np.ndarray, size: int | None = None):
        """Images as a float tensor in [0, 1], shape (len(index), 3, H, W)."""
        import torch

        arr = self.load_uint8(index, size)
        return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)
