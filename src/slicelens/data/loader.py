"""The data pipeline every stage shares: images decoded and resized in worker processes,
batches prefetched while the model runs on the previous one.

:class:`BatchLoader` wraps a PyTorch ``DataLoader`` over an :class:`ImageDataset`: each
item of the loader is one whole batch (a list of row indices), so a worker decodes and
resizes a batch with PIL and hands back one ``uint8`` array (4x less to pass between
processes than float). The main process turns it into a float tensor in ``[0, 1]`` on the
model's device (from pinned memory, ``non_blocking``, on CUDA). With ``workers=0`` the
same code runs in the calling process (in-memory datasets need no decoding workers).

Why a ``DataLoader`` and not a thread pool: PIL's decoders hold the GIL for part of the
work, and resizing in Python threads does not scale past one core; worker processes do,
and the ``DataLoader`` gives prefetching (``prefetch_factor`` batches per worker), pinned
memory and ordered delivery without our own queueing code.

Decoding errors still name the file: a worker catches the :class:`DataError` and sends
its fields back; the main process raises it again (a ``DataError`` does not pickle with
its keyword fields). ``--skip-bad`` works as before: the dataset dropped bad images when
it was loaded (``slicelens.data.images.check_image`` decodes each one).

Example
-------
>>> import numpy as np
>>> from slicelens.data import from_arrays
>>> ds = from_arrays(np.zeros((10, 8, 8, 3), np.uint8), np.zeros(10, int), ["a"])
>>> [x.shape[0] for x, idx in BatchLoader(ds, batches(10, 4), size=8, workers=0)]
[4, 4, 2]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from slicelens.errors import DataError

if TYPE_CHECKING:
    import torch


def default_workers() -> int:
    """The CPU count minus one (the main process runs the model), at least 0."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, (n or 1) - 1)


def resolve_workers(dataset, workers: int | None) -> int:
    """``workers``, or when None: 0 for in-memory arrays, else :func:`default_workers`."""
    if workers is not None:
        if workers < 0:
            raise DataError(f"workers must be >= 0, got {workers}", field="workers")
        return workers
    return 0 if dataset.arrays is not None else default_workers()


def batches(n: int, batch_size: int, start: int = 0) -> list[np.ndarray]:
    """Row indices ``start..n`` in consecutive batches of ``batch_size``."""
    return [np.arange(b, min(b + batch_size, n)) for b in range(start, n, batch_size)]


class _Batches:
    """Map-style dataset whose item ``i`` is the decoded batch ``index[i]``."""

    def __init__(self, dataset, index: Sequence[np.ndarray], size: int | None):
        self.dataset, self.index, self.size = dataset, list(index), size

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        rows = np.asarray(self.index[i], dtype=np.int64)
        try:
            return self.dataset.load_uint8(rows, self.size), i, None
        except DataError as e:  # sent back as fields: DataError's kwargs do not pickle
            return None, i, (e.message, e.file, e.row, e.field)


def _worker_init(_):
    import torch

    torch.set_num_threads(1)  # decoding needs no intra-op threads; leave cores to the model


class BatchLoader:
    """Iterate ``(images, rows)``: ``images`` a float tensor ``(b, 3, size, size)`` in
    ``[0, 1]`` on ``device``, ``rows`` the batch's row indices, in the order given.

    Parameters
    ----------
    dataset : ImageDataset
    index : sequence of ndarray of int
        The batches, as row indices (e.g. :func:`batches`).
    size : int, optional
        Resize to ``size x size``; None keeps the native size (must then be equal).
    workers : int, optional
        Decoding processes; None: :func:`resolve_workers`.
    device : str or torch.device, default "cpu"
    prefetch : int, default 2
        Batches decoded ahead per worker.
    raw : bool, default False
        Yield the decoded ``uint8`` batches ``(b, size, size, 3)`` (CPU) instead.
    """

    def __init__(self, dataset, index: Sequence[np.ndarray], *, size: int | None = None,
                 workers: int | None = None, device=None, prefetch: int = 2, raw: bool = False):
        import torch

        self.raw = raw
        self.dataset, self.index, self.size = dataset, list(index), size
        self.workers = resolve_workers(dataset, workers)
        self.device = torch.device(device or "cpu")
        self.prefetch = prefetch

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray]]:
        from torch.utils.data import DataLoader

        cuda = self.device.type == "cuda"
        workers = min(self.workers, len(self.index))
        batches: Any = _Batches(self.dataset, self.index, self.size)  # map-style, no torch base
        loader: Iterable[tuple[torch.Tensor, np.ndarray, tuple | None]] = DataLoader(
            batches, batch_size=None, shuffle=False, num_workers=workers, pin_memory=cuda,
            prefetch_factor=self.prefetch if workers else None,
            worker_init_fn=_worker_init if workers else None, collate_fn=_as_tensor)
        for images, i, error in loader:
            if error is not None:
                message, file, row, field = error
                raise DataError(message, file=file, row=row, field=field)
            if self.raw:
                yield images, np.asarray(self.index[i])
                continue
            x = images.to(self.device, non_blocking=cuda).permute(0, 3, 1, 2).float()
            yield x.div_(255.0), np.asarray(self.index[i])


def _as_tensor(item):
    """In the worker: the uint8 batch as a tensor (shared memory, pinned by the loader)."""
    import torch

    images, i, error = item
    return (torch.from_numpy(images) if images is not None else None), i, error


def load_images(dataset, index: np.ndarray, size: int | None = None, *,
                workers: int | None = None, batch_size: int = 256, uint8: bool = False):
    """All of ``index`` as one float tensor ``(n, 3, size, size)`` in ``[0, 1]`` (CPU), or
    with ``uint8=True`` as an array ``(n, size, size, 3)`` like ``dataset.load_uint8``,
    decoded by :class:`BatchLoader` workers: how training and evaluation preload images."""
    import torch

    index = np.asarray(index, dtype=np.int64)
    if len(index) <= batch_size or dataset.arrays is not None and workers is None:
        return dataset.load_uint8(index, size) if uint8 else dataset.load(index, size)
    parts = [index[s:s + batch_size] for s in range(0, len(index), batch_size)]
    loader = BatchLoader(dataset, parts, size=size, workers=workers, raw=uint8)
    out = torch.cat([x for x, _ in loader])
    return out.numpy() if uint8 else out
