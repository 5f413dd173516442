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

from pathlib import Path

from slicelens.attributes.base import AttributeSpec


def spec_path(run_dir) -> Path:
    """``<run_dir>/attributes/spec.json``."""
    return Path(run_dir) / "attributes" / "spec.json"


def load_spec(run_dir) -> AttributeSpec | None:
    """The run's stored attribute spec, or None."""
    path = spec_path(run_dir)
    return AttributeSpec.load(path) if path.exists() else None


def save_spec(run, spec: AttributeSpec) -> Path:
    """Store ``spec`` with the run (``attributes/spec.json``)."""
    return spec.save(spec_path(run.path))
