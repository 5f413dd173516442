"""Helpers for the HiBug tests: tiny synthetic runs written straight to disk (no model) by
the shared builder ``conftest.write_synthetic_run``.

Importable as ``test_attributes_fixtures`` (tests/ is on sys.path under pytest); it
holds no tests itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import write_synthetic_run

from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.store.run import Run


def make_run(root: Path, label, pred, split, *, confidence=None, classes=("a", "b"),
             maps=None, features=None, run_id: str = "run-0001-synthetic") -> Run:
    """A complete run directory from per-sample arrays (ids are ``s0000``, ``s0001``...)."""
    label = np.asarray(label)
    (Path(root) / "runs").mkdir(parents=True, exist_ok=True)
    (Path(root) / "workspace.json").write_text(json.dumps({"format": 1}))
    return write_synthetic_run(Path(root) / "runs" / run_id, label, pred, split, classes=classes,
                               confidence=np.full(len(label), 0.9) if confidence is None else confidence,
                               loss=np.full(len(label), 0.5), features=features, maps=maps,
                               record={"model": {"spec": "small-cnn", "input_size": 16}})


def save_matrix(run: Run, codes: np.ndarray, values: dict[str, list[str]], scores=None) -> AttributeMatrix:
    """Store an attribute matrix from int codes (n, m) aligned with ``run.samples``."""
    ids = run.samples["id"].to_numpy(str)
    parts = []
    for j, (name, vals) in enumerate(values.items()):
        s = np.ones(len(ids)) if scores is None else scores[:, j]
        parts.append(from_codes(ids, name, vals, codes[:, j], s))
    m = AttributeMatrix.concat(parts)
    m.save(run.path)
    return m
