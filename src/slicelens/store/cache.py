"""Computed bytes kept beside a run: compute once per key, read back afterwards.

A run never changes once complete, so anything computed deterministically from it (a
saliency image of one sample with given parameters) can be stored in the run folder and
served again without recomputing. :func:`cached_bytes` names the file by a hash of the
key (the path comes from the artifact table, :mod:`slicelens.store.artifacts`), writes it
atomically, and returns that hash too, to serve as an HTTP ETag.

Example
-------
>>> cache_name({"image": "val/1.png", "passes": 6}) == cache_name({"passes": 6, "image": "val/1.png"})
True
>>> len(cache_name({"image": "val/1.png"}))
32
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from slicelens.store import atomic


def cache_name(key: dict[str, Any]) -> str:
    """A plain file name for ``key`` (32 hex digits of the SHA-256 of its sorted JSON), the
    same for equal keys whatever their order."""
    blob = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cached_bytes(run: Any, kind: str, key: dict[str, Any],
                 compute: Callable[[], bytes]) -> tuple[bytes, str, bool]:
    """``(bytes, etag, hit)``: the stored artifact ``kind`` of ``run`` for ``key``, or
    ``compute()`` stored there first (``hit`` False). ``key`` must hold everything the
    bytes depend on besides the run (image, method, parameters, a format version)."""
    name = cache_name(key)
    path = run.artifact_path(kind, name)
    if path.is_file():
        return path.read_bytes(), name, True
    data = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, data)
    return data, name, False
