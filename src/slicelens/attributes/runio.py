"""The attribute spec stored with a run (``<run>/attributes/spec.json``).

The part that owns the artifact reads and writes it, so slicers and repair strategies
reach it without importing :mod:`slicelens.pipeline` (which re-exports these names).

>>> import tempfile
>>> from slicelens.attributes.base import Attribute, AttributeSpec
>>> d = tempfile.mkdtemp()
>>> load_spec(d) is None
True
>>> spec = AttributeSpec([Attribute("background", values=["grass", "sand"])])
>>> _ = spec.save(spec_path(d)); load_spec(d).attributes[0].values
['grass', 'sand']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from slicelens.attributes.base import AttributeSpec
from slicelens.attributes.matrix import AttributeMatrix
from slicelens.store.artifacts import ArtifactKind, artifact_path

if TYPE_CHECKING:
    from slicelens.store.run import Run

#: ``run.artifact(ATTRIBUTE_SPEC) -> AttributeSpec | None``
ATTRIBUTE_SPEC: ArtifactKind[AttributeSpec | None] = ArtifactKind("attribute_spec")
#: ``run.artifact(ATTRIBUTE_MATRIX) -> AttributeMatrix | None``
ATTRIBUTE_MATRIX: ArtifactKind[AttributeMatrix | None] = ArtifactKind("attribute_matrix")


def spec_path(run_dir: str | os.PathLike) -> Path:
    """``<run_dir>/attributes/spec.json``."""
    return artifact_path(run_dir, "attribute_spec")


def load_spec(run_dir: str | os.PathLike) -> AttributeSpec | None:
    """The run's stored attribute spec, or None."""
    path = spec_path(run_dir)
    return AttributeSpec.load(path) if path.exists() else None


def save_spec(run: Run, spec: AttributeSpec) -> Path:
    """Store ``spec`` with the run (``attributes/spec.json``)."""
    return spec.save(spec_path(run.path))


@ATTRIBUTE_SPEC.reader
def _read_spec(run: Run, name: None = None) -> AttributeSpec | None:
    return load_spec(run.path)


@ATTRIBUTE_MATRIX.reader
def _read_matrix(run: Run, name: None = None) -> AttributeMatrix | None:
    """The stored attribute matrix, or None (``AttributeMatrix.load`` raises instead)."""
    return AttributeMatrix.load(run.path) if run.has_artifact("attribute_matrix") else None
