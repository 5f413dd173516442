"""Where a run keeps what was computed from it: one table from artifact kind to file.

Every artifact a part stores beside a run (slice sets, assignments, the attribute spec and
matrix, TDA results, the repair plan, stored evaluations, mosaics) has one entry in
:data:`LAYOUT`; code asks :func:`artifact_path` (or ``Run.artifact_path``) instead of
joining ``run.path / "slices"`` by hand, so the layout is written down once.

The store knows the paths, not the formats: each part that owns an artifact registers
its reader with :func:`register_reader` in the module named by :data:`READER_MODULES`,
which :func:`read` imports by name on first use (the store sits below the parts, so it
never imports them with a statement; see ``docs/architecture.md``).

Typed reads: the owning part declares its kind as an :class:`ArtifactKind` parametrised by
what its reader returns (``SLICES: ArtifactKind[SliceSet]`` in ``slicelens.slicing.runio``)
and registers the reader with it (``@SLICES.reader``); ``run.artifact(SLICES, "attribution")``
is then a ``SliceSet`` for the type checker, while the store still imports nothing above it.

Example
-------
>>> artifact_path("runs/run-0001-demo", "slices", "attribution").as_posix()
'runs/run-0001-demo/slices/attribution.json'
>>> artifact_path("runs/run-0001-demo", "plan").name
'plan.json'
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from slicelens.errors import WorkspaceError

#: artifact kind -> path under the run directory (``{name}``: the artifact's name, e.g. the
#: slicer of a slice set or the baseline of an evaluation)
LAYOUT: dict[str, str] = {
    "record": "record.json",
    "samples": "samples.parquet",
    "data": "data.npz",
    "chunks": "chunks",
    "bad_inputs": "bad_inputs.csv",
    "plan": "plan.json",
    "slices": "slices/{name}.json",
    "slice_arrays": "slices/{name}.npz",
    "assignments": "slices/{name}.assign.npz",
    "attribute_spec": "attributes/spec.json",
    "attribute_matrix": "attributes/matrix.parquet",
    "attribute_values": "attributes/values.json",
    "attribute_meta": "attributes/meta.json",
    "attribute_cache": "attributes/{name}.npy",
    "attribute_clusters": "attributes/clusters.parquet",
    "cluster_names": "attributes/cluster_names.json",
    "concept_alignment": "concept_alignment.json",
    "saliency_image": "saliency/{name}.png",
    "tda": "tda/{name}.json",
    "evaluation": "evaluations/{name}.json",
    "mosaic": "mosaic/{name}",
}

#: artifact kind -> the module whose import registers its reader (:func:`register_reader`)
READER_MODULES: dict[str, str] = {
    "slices": "slicelens.slicing.runio",
    "assignments": "slicelens.slicing.runio",
    "attribute_spec": "slicelens.attributes.runio",
    "attribute_matrix": "slicelens.attributes.runio",
    "tda": "slicelens.tda.result",
    "plan": "slicelens.repair.plan",
    "evaluation": "slicelens.evaluate.report",
}

#: artifact kind -> reader(run, name) (filled by the parts that own the formats)
READERS: dict[str, Callable[..., Any]] = {}

T = TypeVar("T")


def _kind(kind: str) -> str:
    if kind not in LAYOUT:
        raise WorkspaceError(f"unknown run artifact {kind!r}; runs store {', '.join(LAYOUT)}")
    return kind


def artifact_path(run_dir: str | os.PathLike, kind: str, name: str | None = None) -> Path:
    """The path of artifact ``kind`` (named ``name`` when the kind has several) in a run."""
    pattern = LAYOUT[_kind(kind)]
    if "{name}" in pattern:
        if not name:
            raise WorkspaceError(f"run artifact {kind!r} needs a name ({pattern})")
        if "/" in name or "\\" in name or name in (".", ".."):
            raise WorkspaceError(f"{name!r} is not an artifact name (a plain name, no path)")
        return Path(run_dir) / pattern.format(name=name)
    return Path(run_dir) / pattern


def artifact_dir(run_dir: str | os.PathLike, kind: str) -> Path:
    """The folder holding the artifacts of ``kind`` (``<run>/slices`` for slice sets)."""
    return (Path(run_dir) / LAYOUT[_kind(kind)]).parent


def artifact_names(run_dir: str | os.PathLike, kind: str) -> list[str]:
    """Names of the stored artifacts of ``kind`` (sorted; [] when there are none).

    ``slices`` lists slice sets (``<slicer>.json``); ``mosaic`` lists folders and files alike.
    """
    pattern = LAYOUT[_kind(kind)]
    if "{name}" not in pattern:
        return []
    folder, _, leaf = pattern.rpartition("/")
    prefix, suffix = leaf.split("{name}")
    d = Path(run_dir) / folder
    if not d.is_dir():
        return []
    names = []
    for p in d.iterdir():
        if p.name.startswith(prefix) and p.name.endswith(suffix):
            name = p.name[len(prefix):len(p.name) - len(suffix)]
            # "attribution.assign.npz" holds assignments, not a slice set's arrays
            if name and not (kind == "slice_arrays" and name.endswith(".assign")):
                names.append(name)
    return sorted(names)


def register_reader(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``reader(run, name)`` as the reader of artifact ``kind``.

    >>> @register_reader("record")
    ... def _raw(run, name=None):
    ...     return run.artifact_path("record").read_text()
    >>> READERS.pop("record") is _raw
    True
    """
    _kind(kind)

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        READERS[kind] = fn
        return fn

    return deco


def read(run: Any, kind: str, name: str | None = None) -> Any:
    """Artifact ``kind`` (named ``name``) of ``run`` (a :class:`~slicelens.store.run.Run`,
    which imports this module), parsed by the reader its part registered."""
    if _kind(kind) not in READERS and kind in READER_MODULES:
        importlib.import_module(READER_MODULES[kind])
    if kind not in READERS:
        raise WorkspaceError(f"no reader for run artifact {kind!r}; its path is "
                             f"{LAYOUT[kind]} (use run.artifact_path)")
    return READERS[kind](run, name)


class ArtifactKind(Generic[T]):
    """A readable kind of run artifact whose reader returns ``T``, declared by the part that
    owns the format; ``run.artifact(KIND, name)`` (or ``KIND.read(run, name)``) is a ``T``.

    >>> from pathlib import Path
    >>> NOTE: ArtifactKind[str] = ArtifactKind("bad_inputs")
    >>> @NOTE.reader
    ... def _note(run, name=None) -> str:
    ...     return "read " + Path(run.path).name
    >>> NOTE.read(type("R", (), {"path": "runs/run-0001-x"})())
    'read run-0001-x'
    >>> _ = READERS.pop("bad_inputs"); NOTE
    ArtifactKind('bad_inputs')
    """

    __slots__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = _kind(kind)

    def __repr__(self) -> str:
        return f"ArtifactKind({self.kind!r})"

    def reader(self, fn: Callable[..., T]) -> Callable[..., T]:
        """Decorator: register ``fn(run, name)`` as this kind's reader (:func:`register_reader`)."""
        return register_reader(self.kind)(fn)

    def read(self, run: Any, name: str | None = None) -> T:
        """This kind's artifact ``name`` of ``run``, parsed by the registered reader."""
        return cast(T, read(run, self.kind, name))
