"""`slicelens extract` on data and a model made outside slicelens (issue 2's acceptance)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from slicelens.cli import main
from slicelens.store import Workspace


class ForeignNet(nn.Module):
    """Someone else's classifier: conv trunk, a pooled-linear head, written its own way."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(8, 12, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.classifier = nn.Linear(12, 3)

    def forward(self, x):
        return self.classifier(self.flat(self.pool(self.trunk(x))))


@pytest.fixture()
def foreign(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    (tmp_path / "imgs").mkdir()
    for i in range(30):
        label = ["cat", "dog", "eel"][i % 3]
        arr = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
        arr[..., i % 3] = 200  # a colour cue the model can learn
        Image.fromarray(arr).save(tmp_path / "imgs" / f"{i}.jpg")
        rows.append({"path": f"imgs/{i}.jpg", "label": label,
                     "split": ["train", "val", "test"][i % 3 == 0 and 2 or i % 2],
                     "camera": f"cam{i % 2}"})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    # trained elsewhere: a few steps of plain torch, then TorchScript
    net = ForeignNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.rand(16, 3, 20, 20)
    y = torch.arange(16) % 3
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net.eval()).save(str(tmp_path / "model.ts"))
    return tmp_path, net


def test_extract_on_foreign_manifest_and_torchscript(foreign, capsys):
    root, net = foreign
    ws = root / "ws"
    code = main(["-q", "extract", "--workspace", str(ws), "--data", str(root / "manifest.csv"),
                 "--model", str(root / "model.ts"), "--input-size", "20", "--batch-size", "7"])
    assert code == 0, capsys.readouterr().err
    run = Workspace(ws, create=False).latest_run()
    s = run.samples
    assert len(s) == 30 and run.classes == ["cat", "dog", "eel"]
    assert run.record["method"] == "cam"  # the pooled-linear head was verified
    # predictions are the foreign model's own, on the manifest's images
    ds = run.dataset()
    with torch.no_grad():
        ref = net(ds.load(np.arange(30), 20)).argmax(1).numpy()
    np.testing.assert_array_equal(s["pred"].to_numpy(), ref)
    assert run.array("maps").dtype == np.float16
    np.testing.assert_allclose(np.asarray(run.array("maps"), np.float32).sum(axis=(1, 2)), 1, atol=1e-2)
    assert "camera" in ds.metadata.columns


def test_class_mismatch_is_a_clear_error(foreign, capsys):
    root, _ = foreign
    (root / "classes.txt").write_text("cat\ndog\n")
    code = main(["extract", "--workspace", str(root / "ws"), "--data", str(root / "manifest.csv"),
                 "--model", str(root / "model.ts"), "--input-size", "20",
                 "--classes", str(root / "classes.txt")])
    err = capsys.readouterr().err
    assert code == 2 and ("eel" in err or "3 outputs" in err)
