"""Extraction: attribution methods vs captum, Eq. 1, the stored run, kill and resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slicelens.data.dataset import ImageDataset
from slicelens.errors import ModelError, WorkspaceError
from slicelens.extract import METHODS, ExtractConfig, attribute_images, extract
from slicelens.extract.extractor import KILL_ENV, extract_batch, weighted_features
from slicelens.extract.methods import get_method, normalize_sum1, upsample
from slicelens.models.adapter import LinearHead, ModelAdapter
from slicelens.store import Run

CLASSES = ["a", "b", "c"]


class PooledNet(nn.Module):
    """conv -> conv -> global average pool -> linear (a pooled-linear head)."""

    def __init__(self, mlp_head: bool = False):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 6, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)) if mlp_head
                     else nn.Linear(6, 3))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.head(self.pool(self.features(x)).flatten(1))


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SLICELENS_QUIET", "1")


def build(n: int = 10, mlp_head: bool = False, seed: int = 0):
    """A deterministic tiny model and dataset (also used by the kill subprocess)."""
    torch.manual_seed(seed)
    model = PooledNet(mlp_head)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    labels[1] = -1  # one unlabeled sample
    ds = ImageDataset(ids=[f"s{i}" for i in range(n)], labels=labels, classes=CLASSES,
                      splits=np.where(np.arange(n) < n - 2, "train", "test"),
                      arrays=rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8))
    return ds, ModelAdapter(model, CLASSES, input_size=16)


def run_extract(ds, ad, run_dir, **cfg) -> Run:
    return extract(ds, ad, run_dir, ExtractConfig(**cfg), data_spec={"source": "<arrays>"},
                   model_spec={"spec": "test:PooledNet"})


def _captum_gradcam(ad, x, t):
    from captum.attr import LayerGradCam

    layer = dict(ad.module.named_modules())[ad.layer_name]
    return LayerGradCam(ad.module, layer).attribute(x, target=t, relu_attributions=True)[:, 0]


@pytest.mark.parametrize("mlp_head,method", [(False, "cam"), (True, "gradcam")])
def test_methods_equal_captum_layer_gradcam(mlp_head, method):
    ds, ad = build(mlp_head=mlp_head)
    assert get_method("auto", ad).name == method
    x, t = ds.load(np.arange(len(ds))), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    ours = attribute_images(ad, x, t, method=method)
    ref = _captum_gradcam(ad, x, t)
    assert ours.shape == ref.shape == (10, 8, 8)
    assert ref.abs().max() > 0
    torch.testing.assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-5 * ref.abs().max().item())


def test_cam_refuses_a_head_that_is_not_pooled_linear():
    _, ad = build(mlp_head=True)
    assert ad.head is None
    with pytest.raises(ModelError, match="gradcam"):
        get_method("cam", ad)


def test_fw_eq1_on_a_hand_computed_2x2_example():
    A = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])  # (1, 2, 2, 2)
    W = torch.tensor([[[0.1, 0.2], [0.3, 0.4]]])
    # F_W = (1*.1 + 2*.2 + 3*.3 + 4*.4, 1*.2 + 1*.4)
    torch.testing.assert_close(weighted_features(A, W), torch.tensor([[3.0, 0.6]]))

    # the same through extract_batch: head row 0 = [1, 0] makes the CAM map of class 0
    # proportional to channel 0, i.e. exactly W above; logits = mean(A) @ W.T -> pred 0
    head = LinearHead(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.zeros(2))
    stub = SimpleNamespace(head=head, forward_parts=lambda x: (A, A.mean((2, 3)) @ head.weight.T))
    out = extract_batch(stub, get_method("cam", stub), torch.zeros(1, 3, 2, 2), torch.tensor([0]))
    np.testing.assert_allclose(out["features"], [[2.5, 0.5]])
    np.testing.assert_allclose(out["fw"], [[3.0, 0.6]], rtol=1e-6)
    np.testing.assert_allclose(out["maps"], W.numpy().astype(np.float16))
    assert out["pred"].tolist() == [0] and out["loss"][0] == pytest.approx(
        F.cross_entropy(torch.tensor([[2.5, 0.5]]), torch.tensor([0])).item(), rel=1e-6)


def test_normalize_sum1_and_zero_map_uniform():
    maps = torch.rand(4, 3, 5)
    maps[2] = 0
    out = normalize_sum1(maps)
    torch.testing.assert_close(out.sum(dim=(1, 2)), torch.ones(4))
    torch.testing.assert_close(out[2], torch.full((3, 5), 1 / 15))
    torch.testing.assert_close(out[0], maps[0] / maps[0].sum())
    # uniform weights turn F_W into the pooled feature F
    A = torch.rand(1, 6, 3, 5)
    torch.testing.assert_close(weighted_features(A, out[2:3]), A.mean((2, 3)))
    assert upsample(out, 10).shape == (4, 10, 10)


def test_stored_run_shapes_dtypes_loss_correct(tmp_path):
    ds, ad = build()
    run = run_extract(ds, ad, tmp_path / "run", batch_size=4, chunk_size=6)
    assert run.is_complete and not (run.path / "chunks").exists()
    rec = run.record
    assert rec["status"] == "complete" and rec["method"] == "cam" and rec["grid"] == [8, 8]
    assert rec["model"]["classes"] == CLASSES and rec["extract"]["chunk_size"] == 6
    maps, fw, feats = run.array("maps"), run.array("fw"), run.array("features")
    assert maps.dtype == np.float16 and maps.shape == (10, 8, 8)
    assert fw.shape == feats.shape == (10, 6) and fw.dtype == np.float32
    np.testing.assert_allclose(maps.astype(np.float32).sum((1, 2)), 1, atol=2e-3)
    assert run.array("logits").shape == run.array("probs").shape == (10, 3)

    with torch.no_grad():
        logits = ad.logits(ds.load(np.arange(10)))
    np.testing.assert_allclose(run.array("logits"), logits.numpy(), rtol=1e-5, atol=1e-6)
    s = run.samples
    assert list(s.columns) == ["id", "label", "split", "pred", "confidence", "loss", "correct"]
    assert s["id"].tolist() == ds.ids.tolist() and s["split"].tolist() == ds.splits.tolist()
    pred = logits.argmax(1).numpy()
    lab = ds.labels
    manual = F.cross_entropy(logits, torch.from_numpy(lab).clamp(min=0), reduction="none").numpy()
    ok = lab >= 0
    np.testing.assert_allclose(s["loss"][ok], manual[ok], rtol=1e-5)
    assert np.isnan(s["loss"][1]) and pd.isna(s["correct"][1])
    assert (s["correct"][ok].astype(bool) == (pred == lab)[ok]).all()
    assert (s["pred"] == pred).all()
    np.testing.assert_allclose(s["confidence"], logits.softmax(1).max(1).values.numpy(), rtol=1e-5)


def test_splits_restrict_and_resume_mismatch(tmp_path):
    ds, ad = build()
    run = run_extract(ds, ad, tmp_path / "r", splits=["test"])
    assert run.samples["split"].tolist() == ["test", "test"]
    assert run_extract(ds, ad, tmp_path / "r", splits=["test"]).is_complete  # same: a no-op
    with pytest.raises(WorkspaceError, match="extract.splits"):
        run_extract(ds, ad, tmp_path / "r", splits=["train"])
    with torch.no_grad():
        ad.module.head.bias += 1  # same everything, other weights
    with pytest.raises(WorkspaceError, match="fingerprint.weights_sha1"):
        run_extract(ds, ad, tmp_path / "r", splits=["test"])


def _killed_child(run_dir: str) -> None:
    """Entry point of the subprocess in the kill test."""
    ds, ad = build()
    run_extract(ds, ad, run_dir, batch_size=2, chunk_size=4)


def test_kill_and_resume_equals_uninterrupted_run(tmp_path):
    run_dir = tmp_path / "killed"
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import test_extract as t; t._killed_child({str(run_dir)!r})")
    env = dict(os.environ, **{KILL_ENV: "1", "SLICELENS_QUIET": "1"})
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 9, proc.stderr.decode()
    chunks = sorted(p.name for p in (run_dir / "chunks").iterdir())
    assert chunks == ["chunk-00000.npz"]
    assert not list(run_dir.glob("*.npy")) and not (run_dir / "samples.parquet").exists()
    with pytest.raises(WorkspaceError, match="resume"):
        _ = Run(run_dir).samples

    ds, ad = build()
    ad.module.calls = 0
    real_load = ds.load_uint8
    loaded = []
    ds.load_uint8 = lambda idx, size=None: loaded.append(list(idx)) or real_load(idx, size)
    resumed = run_extract(ds, ad, run_dir, batch_size=2, chunk_size=4)
    assert ad.module.calls == 3  # chunks 1 and 2: samples 4..9 in batches of 2
    assert loaded[0] == [4, 5]
    assert not (run_dir / "chunks").exists()

    ds2, ad2 = build()
    fresh = run_extract(ds2, ad2, tmp_path / "fresh", batch_size=2, chunk_size=4)
    for name in ("logits", "probs", "features", "fw", "maps"):
        np.testing.assert_array_equal(resumed.array(name), fresh.array(name))
    pd.testing.assert_frame_equal(resumed.samples, fresh.samples)


def test_extraction_is_deterministic_with_gradcam(tmp_path):
    runs = []
    for i in range(2):
        ds, ad = build(mlp_head=True)
        runs.append(run_extract(ds, ad, tmp_path / f"r{i}", batch_size=3, method="auto"))
    assert runs[0].record["method"] == "gradcam"
    for name in ("logits", "fw", "maps"):
        np.testing.assert_array_equal(runs[0].array(name), runs[1].array(name))
    # the one-pass gradcam maps equal the standalone method
    ds, ad = build(mlp_head=True)
    x = ds.load(np.arange(len(ds)))
    t = torch.tensor(runs[0].samples["pred"].to_numpy())
    ref = attribute_images(ad, x, t, method="gradcam", normalize=True)
    np.testing.assert_allclose(runs[0].array("maps"), ref.numpy(), atol=1e-3)


def test_registry_and_config_validation():
    assert {"cam", "gradcam"} <= set(METHODS)
    from slicelens.errors import SliceLensError
    from slicelens.params import validate

    with pytest.raises(SliceLensError, match="method"):
        validate(ExtractConfig, {"method": "nope"})
    with pytest.raises(SliceLensError, match="splits"):
        validate(ExtractConfig, {"splits": ["holdout"]})


class NaNNet(PooledNet):
    """Finite features, NaN logits (as a broken entry-point model can return)."""

    def forward(self, x):
        return super().forward(x) * float("nan")


def test_nan_logits_are_an_error_naming_the_model_and_no_run_is_written(tmp_path):
    from slicelens.store import Workspace

    ds, _ = build()
    torch.manual_seed(0)
    ad = ModelAdapter(NaNNet(), CLASSES, input_size=16)
    ws = Workspace(tmp_path / "ws")
    _, run_dir = ws.new_run_dir("nan")
    with pytest.raises(ModelError, match=r"model 'test:NaNNet'.*non-finite.*no run was written"):
        extract(ds, ad, run_dir, ExtractConfig(), data_spec={"source": "<arrays>"},
                model_spec={"spec": "test:NaNNet"})
    assert not run_dir.exists() and ws.runs(include_incomplete=True) == []


def test_weights_hash_is_stored_and_checked_when_the_model_is_reloaded(tmp_path):
    import hashlib

    import fixtures_models

    from slicelens.models import load_model

    torch.manual_seed(0)
    w = tmp_path / "w.pt"
    torch.save(fixtures_models.tiny_net(3).state_dict(), w)
    spec = {"spec": "fixtures_models:tiny_net", "weights": str(w), "input_size": 16}
    ds, _ = build()
    run = extract(ds, load_model(**spec, classes=CLASSES), tmp_path / "run", ExtractConfig(),
                  data_spec={"source": "<arrays>"}, model_spec=spec)
    assert run.record["weights_sha256"] == hashlib.sha256(w.read_bytes()).hexdigest()
    logits = run.adapter().logits(ds.load(np.arange(3)))
    np.testing.assert_allclose(logits.detach().numpy(), run.array("logits")[:3], atol=1e-5)
    torch.save(fixtures_models.tiny_net(3).state_dict(), w)  # same path, other weights
    with pytest.raises(ModelError, match=r"w\.pt has sha256 .* run run was extracted with"):
        run.adapter()
    w.unlink()
    with pytest.raises(ModelError, match="not a file"):
        run.adapter()


def test_no_run_folder_is_left_when_extraction_never_starts(tmp_path):
    from PIL import Image

    from slicelens.errors import DataError
    from slicelens.pipeline import extract_run
    from slicelens.store import Workspace

    for i in range(4):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    pd.DataFrame({"path": [f"{i}.png" for i in range(4)], "label": list("abab"),
                  "split": ["train", "val"] * 2}).to_csv(tmp_path / "m.csv", index=False)
    ws = Workspace(tmp_path / "ws")
    spec = {"spec": "fixtures_models:tiny_net", "input_size": 16}
    with pytest.raises(DataError, match="nothing to extract"):
        extract_run(ws, tmp_path / "m.csv", spec, ExtractConfig(splits=["pool"]))
    assert list((ws.root / "runs").iterdir()) == []


def test_disk_full_is_a_clean_error(monkeypatch, capsys):
    import errno

    from slicelens.cli import main

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/ws/runs/run-0001-x/maps.npy")

    monkeypatch.setattr("slicelens.cli.runs.run", full)
    assert main(["runs", "--workspace", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "no space left on the device writing /ws/runs/run-0001-x/maps.npy" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("code, text", [("EACCES", "permission denied"),
                                        ("EROFS", "read-only file system")])
def test_permission_errors_are_one_line(monkeypatch, capsys, code, text):
    import errno

    from slicelens.cli import main

    def denied(args):
        raise OSError(getattr(errno, code), "x", "/ws/slicelens.db")

    monkeypatch.setattr("slicelens.cli.runs.run", denied)
    assert main(["runs", "--workspace", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert f"error: {text}: /ws/slicelens.db; check the owner" in err
    assert "Traceback" not in err


class ScriptableNaNNet(nn.Module):
    """conv -> pool -> flatten -> linear, times NaN (scriptable)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        a = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.head(torch.flatten(a, 1)) * float("nan")


def test_a_torchscript_model_with_nan_logits_reaches_the_clear_error(tmp_path):
    """The layer cut is checked with NaN == NaN, so a NaN model is not misreported as a
    bad cut; extraction then names the first sample."""
    from slicelens.models import load_model
    from slicelens.store import Workspace

    ds, _ = build()
    torch.manual_seed(0)
    path = tmp_path / "nan.ts"
    torch.jit.script(ScriptableNaNNet()).save(str(path))
    ad = load_model(str(path), classes=CLASSES, input_size=16)
    _, run_dir = Workspace(tmp_path / "ws").new_run_dir("nan")
    with pytest.raises(ModelError, match=r"non-finite.*first '[^']+'; no run was written"):
        extract(ds, ad, run_dir, ExtractConfig(), data_spec={"source": "<arrays>"},
                model_spec={"spec": str(path)})
