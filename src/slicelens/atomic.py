"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Each writer fills a temporary file in the target's directory (same file system, so the
rename is atomic), ``fsync``\\ s it, ``os.replace``\\ s it over the target and ``fsync``\\ s
the directory so the rename itself survives a power cut. If the writer fails or is killed
before the rename, the target is untouched; a failure also removes the temporary file
(a SIGKILL can leave a ``.<name>.*.tmp`` behind, which :func:`remove_stale_tmp` clears).

This module sits in the bottom layer (standard library and NumPy only) so that ``data``
and ``models`` write atomically without importing ``store``;
:mod:`slicelens.store.atomic` re-exports it.

Example
-------
>>> import tempfile, numpy as np
>>> d = tempfile.mkdtemp()
>>> save_npy(f"{d}/x.npy", np.arange(3)); np.load(f"{d}/x.npy").tolist()
[0, 1, 2]
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["atomic_open", "fsync_dir", "remove_stale_tmp", "save_npy", "save_npy_stream",
           "save_npz", "write_bytes", "write_json", "write_parquet"]


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; artifacts are ordinary files
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a directory entry (renames, creations) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path) as f:
        f.write(data)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented UTF-8 JSON atomically."""
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """``np.save`` atomically (no pickles)."""
    with atomic_open(path) as f:
        np.save(f, np.asarray(array), allow_pickle=False)


def save_npy_stream(path: str | os.PathLike, shape: tuple[int, ...], dtype,
                    parts) -> None:
    """Write an ``.npy`` file of ``shape`` and ``dtype`` from ``parts`` (arrays along the
    first axis, in order), atomically, holding one part in memory at a time: how a run of
    10^6 samples consolidates its chunks. The file is the one ``np.save`` of the
    concatenation would write.

    >>> import tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> save_npy_stream(f"{d}/x.npy", (3, 2), np.float32, [np.ones((1, 2)), np.zeros((2, 2))])
    >>> np.load(f"{d}/x.npy").sum()
    np.float32(2.0)
    """
    dtype = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": tuple(int(s) for s in shape)}
    rows = 0
    with atomic_open(path) as f:
        np.lib.format.write_array_header_1_0(f, header) if _fits_v1(header) else \
            np.lib.format.write_array_header_2_0(f, header)
        for part in parts:
            part = np.ascontiguousarray(part, dtype=dtype)
            if part.shape[1:] != tuple(shape[1:]):
                raise ValueError(f"part of shape {part.shape} in an array of shape {shape}")
            f.write(part.tobytes())
            rows += len(part)
        if rows != shape[0]:
            raise ValueError(f"parts hold {rows} rows, the array {shape[0]}")


def _fits_v1(header: dict) -> bool:
    return len(repr(header)) < 65000


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """``np.savez`` (uncompressed) atomically."""
    named: dict[str, Any] = arrays  # numpy's stub reads a key as its allow_pickle flag
    with atomic_open(path) as f:
        np.savez(f, **named)


def write_parquet(path: str | os.PathLike, df) -> None:
    """``DataFrame.to_parquet`` (pyarrow) atomically; the index is not stored."""
    with atomic_open(path) as f:
        df.to_parquet(f, engine="pyarrow", index=False)


def remove_stale_tmp(directory: str | os.PathLike) -> int:
    """Delete temporary files left by killed writers in ``directory``; return how many."""
    n = 0
    for p in Path(directory).glob(".*.tmp"):
        with suppress(FileNotFoundError):
            p.unlink()
            n += 1
    return n
