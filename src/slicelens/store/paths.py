"""Relocatable paths in run records: a copied or moved workspace finds its data and models.

A run record stores every file path twice (:func:`relocatable`): absolute, and relative to
the workspace root that wrote it (``record["paths"]``). :func:`resolve` (applied by
``Run.record``) keeps the absolute path while the workspace has not moved; once it has, a
path relative to the new root is used when it exists (models saved inside the workspace,
data copied along with it), else the old absolute one (data that stayed where it was).
The data's root folder (the manifest's folder, or the image folder) is stored too, so
``slicelens runs`` can say when it is missing.

Example
-------
>>> rec = relocatable({"data": {"source": "/p/ws/data/m.csv"}, "model": {"spec": "small-cnn"}},
...                   "/p/ws")
>>> rec["paths"]["relative"]
{'data.source': 'data/m.csv'}
>>> resolve(rec, "/q/ws")["data"]["source"]  # doctest: +SKIP
'/q/ws/data/m.csv'
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slicelens.store.record import RunRecord

#: record fields holding file paths, as (section, key)
PATH_FIELDS = (("data", "source"), ("model", "spec"), ("model", "weights"))


def _is_path(section: str, value) -> bool:
    if not isinstance(value, str) or not value or value.startswith("<"):
        return False
    # a model spec may be a built-in name or an entry point: only files are paths
    return section != "model" or os.sep in value or "/" in value or Path(value).suffix != ""


def relocatable(record: dict, root) -> dict:
    """A copy of ``record`` with absolute paths and ``record["paths"]`` relative to ``root``.

    Parameters
    ----------
    record : dict
        A run record (``data``, ``model`` sections).
    root : path
        The workspace root the run lives in.
    """
    root = Path(root).resolve()
    out = copy.deepcopy(record)
    relative = {}
    for section, key in PATH_FIELDS:
        value = out.get(section, {}).get(key)
        if not _is_path(section, value) or (section == "model" and not Path(value).exists()):
            continue
        absolute = Path(value).resolve()
        out[section][key] = str(absolute)
        relative[f"{section}.{key}"] = Path(os.path.relpath(absolute, root)).as_posix()
    source = out.get("data", {}).get("source")
    if _is_path("data", source):
        src = Path(source)
        out["data"]["root"] = str(src if src.is_dir() else src.parent)
    out["paths"] = {"workspace": str(root), "relative": relative}
    return out


def resolve(record: dict, root) -> dict:
    """``record`` with its paths valid for a workspace now at ``root`` (see module doc)."""
    paths = record.get("paths")
    root = Path(root).resolve()
    if not paths or Path(paths.get("workspace", "")) == root:
        return record
    out = copy.deepcopy(record)
    for dotted, rel in paths.get("relative", {}).items():
        section, key = dotted.split(".", 1)
        candidate = (root / rel).resolve()
        if candidate.exists() or not Path(out[section][key]).exists():
            out[section][key] = str(candidate)
    source = out.get("data", {}).get("source")
    if "root" in out.get("data", {}) and _is_path("data", source):
        src = Path(source)
        out["data"]["root"] = str(src if src.is_dir() else src.parent)
    return out


def workspace_of(run_dir) -> Path:
    """The workspace root of a run directory (``<root>/runs/<run_id>``)."""
    return Path(run_dir).resolve().parent.parent


def missing_data_root(record: RunRecord) -> str | None:
    """The data root of a (resolved) record when it no longer exists, else None."""
    root = record.data.root
    return root if root and not Path(root).exists() else None
