"""Atomic file writes, re-exported from :mod:`slicelens.atomic` (the bottom layer, so that
``data`` and ``models`` can use them without importing ``store``).

>>> import slicelens.atomic
>>> write_json is slicelens.atomic.write_json
True
"""

import os  # noqa: F401 - callers reach ``atomic.os`` (a test patches os.fsync through it)

from slicelens.atomic import (
    atomic_open,
    fsync_dir,
    remove_stale_tmp,
    save_npy,
    save_npy_stream,
    save_npz,
    write_bytes,
    write_json,
    write_parquet,
)

__all__ = ["atomic_open", "fsync_dir", "remove_stale_tmp", "save_npy", "save_npy_stream",
           "save_npz", "write_bytes", "write_json", "write_parquet"]
