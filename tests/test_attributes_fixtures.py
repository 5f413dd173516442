"""Helpers for the HiBug tests: tiny synthetic runs written straight to disk (no model).

Importable as ``test_attributes_fixtures`` (tests/ is on sys.path under pytest); it
holds no tests itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.store.run import Run


def make_run(root: Path, label, pred, split, *, confidence=None, classes=("a", "b"),
             maps=None, features=None, run_id: str = "run-0001-synthetic") -> Run:
    """A complete run directory from per-sample arrays (ids are ``s0000``, ``s0001``...)."""
    label, pred = np.asarray(label), np.asarray(pred)
    n, c = len(label), len(classes)
    conf = np.full(n, 0.9) if confidence is None else np.asarray(confidence, float)
    d = Path(root) / "runs" / run_id
    d.mkdir(parents=True, exist_ok=True)
    (Path(root) / "workspace.json").write_text(json.dumps({"format": 1}))
    probs = np.full((n, c), 0.0, np.float32)
    probs[np.arange(n), pred] = conf
    probs += ((1 - conf) / max(c - 1, 1))[:, None] * (probs == 0)
    correct = pd.array(np.where(label >= 0, label == pred, False), "boolean")
    correct[label < 0] = pd.NA
    samples = pd.DataFrame({"id": [f"s{i:04d}" for i in range(n)], "label": label,
                            "split": np.asarray(split, str), "pred": pred, "confidence": conf,
                            "loss": np.where(label >= 0, 0.5, np.nan), "correct": correct})
    samples.to_parquet(d / "samples.parquet", index=False)
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(n, 8)).astype(np.float32) if features is None else features
    arrays = {"logits": np.log(np.maximum(probs, 1e-6)), "probs": probs, "features": feats, "fw": feats,
              "maps": np.full((n, 4, 4), 1 / 16, np.float16) if maps is None else maps}
    for k, v in arrays.items():
        np.save(d / f"{k}.npy", np.asarray(v))
    (d / "record.json").write_text(json.dumps({
        "status": "complete", "classes": list(classes),
        "model": {"spec": "small-cnn", "input_size": 16}, "data": {"source": "<arrays>"}}))
    return Run(d)


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
