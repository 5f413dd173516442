"""Shared test beds: one synthetic-run builder, used by every test that needs a run on disk
without a model (the slicing, feedback, attribute and contract tests).

:func:`write_synthetic_run` writes a complete run in the exact format extraction writes
(``samples.parquet`` with extraction's dtypes, the five arrays, ``record.json``);
tests/test_slicing_support.py checks that format against a real extraction. The helpers
that shape their own data (``test_slicing_support.write_run``,
``test_attributes_fixtures.make_run``, ``test_feedback.make_run``) call it, and tests
use the ``synthetic_run_factory`` fixture or import it (``from conftest import ...``;
tests/ is on ``sys.path`` under pytest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slicelens.store.atomic import save_npy, write_json, write_parquet
from slicelens.store.run import ARRAYS, Run


def write_synthetic_run(run_dir: Path, label, pred, split, *, classes=("a", "b"), ids=None,
                        probs=None, logits=None, confidence=None, loss=None, features=None,
                        fw=None, maps=None, record: dict | None = None, seed: int = 0) -> Run:
    """Write a complete run at ``run_dir`` from per-sample arrays; return it.

    Parameters
    ----------
    label, pred : int arrays (n,)
        ``label`` -1 = unlabeled (its ``loss`` is NaN and ``correct`` is NA).
    split : str array (n,)
    ids : str array (n,), optional
        Default ``s0000``, ``s0001``, ...
    probs : float array (n, C), optional
        Default: ``confidence`` on ``pred``, the rest spread evenly over the other classes.
    logits : (n, C), optional
        Default ``log(probs)``.
    confidence : (n,), optional
        Default ``probs.max(1)`` (0.9 when ``probs`` is not given either).
    loss : (n,), optional
        Default the cross-entropy ``-log probs[label]`` (NaN when unlabeled).
    features, fw : (n, d), optional
        Default: standard normal ``(n, 8)`` (seed ``seed``); ``fw`` defaults to ``features``.
    maps : (n, m, k), optional
        Default uniform ``4 x 4`` maps.
    record : dict, optional
        Keys merged into ``record.json`` (e.g. ``{"model": {"spec": "small-cnn"}}``).
    """
    run_dir = Path(run_dir)
    label, pred = np.asarray(label, np.int64), np.asarray(pred, np.int64)
    n, C = len(label), len(classes)
    if probs is None:
        conf = np.full(n, 0.9) if confidence is None else np.asarray(confidence, float)
        probs = np.zeros((n, C))
        probs[np.arange(n), pred] = conf
        probs += ((1 - conf) / max(C - 1, 1))[:, None] * (probs == 0)
    probs = np.asarray(probs, np.float32)
    confidence = probs.max(1) if confidence is None else np.asarray(confidence)
    if logits is None:
        logits = np.log(np.maximum(probs, 1e-6))
    if loss is None:
        loss = -np.log(np.maximum(probs[np.arange(n), np.maximum(label, 0)], 1e-12))
    loss = np.where(label >= 0, np.asarray(loss, float), np.nan)
    correct = pd.array(pred == label, dtype="boolean")
    correct[label < 0] = pd.NA
    if features is None:
        features = np.random.default_rng(seed).normal(size=(n, 8))
    fw = features if fw is None else fw
    if maps is None:
        maps = np.full((n, 4, 4), 1 / 16)
    samples = pd.DataFrame({
        "id": [f"s{i:04d}" for i in range(n)] if ids is None else [str(i) for i in ids],
        "label": label, "split": np.asarray(split, str), "pred": pred,
        "confidence": np.asarray(confidence, np.float32), "loss": loss.astype(np.float32),
        "correct": correct})
    arrays = {"logits": np.asarray(logits, np.float32), "probs": probs,
              "features": np.asarray(features, np.float32), "fw": np.asarray(fw, np.float32),
              "maps": np.asarray(maps, np.float16)}
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in ARRAYS:
        save_npy(run_dir / f"{name}.npy", arrays[name])
    write_parquet(run_dir / "samples.parquet", samples)
    write_json(run_dir / "record.json", {
        "format": 1, "run_id": run_dir.name, "status": "complete", "classes": list(classes),
        "data": {"source": "<arrays>"}, "model": {"spec": "synthetic"}, "n": n,
        "grid": list(arrays["maps"].shape[1:]), "feature_dim": int(arrays["features"].shape[1]),
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
        **(record or {})})
    return Run(run_dir)


def write_attribute_matrix(run: Run) -> None:
    """Two attributes next to a run of ``test_slicing_support.write_run``: ``group`` (the
    planted F_W group, so one value is the failure) and ``tone`` (random noise), written
    where `slicelens attributes assign` writes them."""
    from slicelens.attributes.matrix import AttributeMatrix, from_codes

    ids = run.samples["id"].to_numpy()
    group = run.array("fw")[:, :3].argmax(1)
    tone = np.random.default_rng(1).integers(0, 2, len(ids))
    scores = np.ones(len(ids))
    AttributeMatrix.concat([from_codes(ids, "group", ["g0", "g1", "g2"], group, scores),
                            from_codes(ids, "tone", ["light", "dark"], tone, scores)]
                           ).save(run.path)


@pytest.fixture
def synthetic_run_factory(tmp_path):
    """``make(label, pred, split, **kw) -> Run``: :func:`write_synthetic_run` under a fresh
    workspace in ``tmp_path`` (runs named ``run-0001-synthetic``, ``run-0002-...``)."""
    from slicelens.store import Workspace

    ws = Workspace(tmp_path / "ws")

    def make(label, pred, split, **kw):
        _, path = ws.new_run_dir("synthetic")
        return write_synthetic_run(path, label, pred, split, **kw)
    return make
