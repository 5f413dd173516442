"""A synthetic run on disk for the slicing tests (three planted groups, written by the
shared builder ``conftest.write_synthetic_run``), and a check that the builder's format is
exactly what extraction writes (so every test on a synthetic run exercises the real
storage format)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_synthetic_run

from slicelens.store import Run
from slicelens.store.run import ARRAYS

CLASSES = ["a", "b"]
SPLITS = {"val": 150, "test": 90, "pool": 30}


def write_run(run_dir: Path, seed: int = 0, d: int = 16, grid: int = 4) -> Run:
    """Write a complete run with three planted groups in F_W space.

    Groups 0 and 1 are label a / b, predicted right; group 2 has label a and is
    predicted b (the failure slice). Their F_W point along orthogonal directions, so one
    cluster mixing two of them has attribution consistency ~0.7 < 0.8. Pool samples are
    unlabeled (label -1).
    """
    rng = np.random.default_rng(seed)
    n = sum(SPLITS.values())
    split = np.concatenate([[s] * k for s, k in SPLITS.items()])
    group = rng.integers(0, 3, n)
    fw = np.abs(rng.normal(0, 0.05, (n, d)))
    fw[np.arange(n), group] += 1.0 + rng.normal(0, 0.05, n)
    fw = fw.astype(np.float32)
    features = (0.8 * fw + np.abs(rng.normal(0, 0.1, (n, d)))).astype(np.float32)
    label = np.where(group == 1, 1, 0)
    pred = np.where(group == 0, 0, 1)
    label[split == "pool"] = -1
    logits = np.zeros((n, 2), np.float32)
    logits[np.arange(n), pred] = 2.0 + rng.random(n).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    maps = rng.random((n, grid, grid)) + 3 * np.eye(grid)[group % grid][:, :, None]
    maps = (maps / maps.sum((1, 2), keepdims=True)).astype(np.float16)
    return write_synthetic_run(run_dir, label, pred, split, classes=CLASSES, probs=probs,
                               logits=logits, features=features, fw=fw, maps=maps)


def groups_of(run: Run) -> np.ndarray:
    """The planted group of every sample (argmax of F_W)."""
    return np.asarray(run.array("fw")).argmax(1)


def test_synthetic_run_has_the_extracted_format(tmp_path):
    """Same columns, dtypes and array dtypes as a real (tiny) extraction."""
    import torch

    from slicelens.data.dataset import ImageDataset
    from slicelens.extract import ExtractConfig, extract
    from slicelens.models.adapter import ModelAdapter
    from slicelens.models.builtin import SmallCNN

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ds = ImageDataset(ids=["x0", "x1", "x2", "x3"], labels=np.array([0, 1, -1, 0]),
                      classes=CLASSES, splits=np.array(["val", "val", "pool", "test"]),
                      arrays=rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
    real = extract(ds, ModelAdapter(SmallCNN(2, width=4), CLASSES, input_size=16),
                   tmp_path / "real", ExtractConfig(), data_spec={"source": "<arrays>"},
                   model_spec={"spec": "small-cnn"})
    synth = write_run(tmp_path / "synth")
    assert synth.is_complete and real.is_complete
    assert synth.samples.dtypes.to_dict() == real.samples.dtypes.to_dict()
    for name in ARRAYS:
        assert synth.array(name).dtype == real.array(name).dtype, name
        assert synth.array(name).ndim == real.array(name).ndim, name
    assert set(json.loads((tmp_path / "synth" / "record.json").read_text())) <= set(real.record.to_json())
    np.testing.assert_allclose(np.asarray(synth.array("maps"), np.float64).sum((1, 2)), 1, atol=1e-2)


@pytest.fixture
def synthetic_run(tmp_path) -> Run:
    return write_run(tmp_path / "runs" / "run-0001-synth")
