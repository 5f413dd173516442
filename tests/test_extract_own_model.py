"""A newcomer's own model: input size from the data, its own normalisation, warnings (issue 10)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from slicelens.cli import main
from slicelens.models import ModelSpec
from slicelens.params import validate
from slicelens.store import Workspace

CLASSES = ["cat", "dog", "eel"]


class ColourNet(nn.Module):
    """Predicts the brightest channel; ResNet's forward shape (pool -> flatten -> fc)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3, 3)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.conv.bias.fill_(2.0)  # keeps normalised pixels (>= -2) positive through the ReLU
            self.fc.weight.copy_(torch.eye(3) * 4)
            self.fc.bias.zero_()

    def forward(self, x):
        x = self.avgpool(self.relu(self.conv(x)))
        return self.fc(torch.flatten(x, 1))


@pytest.fixture()
def own(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    rows = []
    for i in range(30):
        arr = rng.integers(0, 120, (48, 48, 3), dtype=np.uint8)
        arr[..., i % 3] = 230
        Image.fromarray(arr).save(tmp_path / "imgs" / f"{i}.png")
        rows.append({"path": f"imgs/{i}.png", "label": CLASSES[i % 3], "split": ["train", "val"][i % 2]})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    (tmp_path / "model").mkdir()
    net = ColourNet().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(tmp_path / "model" / "model.pt"))
    return tmp_path, net


def _extract(root, *extra):
    return main(["-q", "extract", "--workspace", str(root / "ws"), "--data", str(root / "manifest.csv"),
                 "--model", str(root / "model" / "model.pt"), *extra])


def test_input_size_from_data_and_own_normalisation(own, capsys):
    root, net = own
    assert _extract(root, "--normalize", "0.5,0.25") == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    run = Workspace(root / "ws", create=False).latest_run()
    assert run.record["model"]["input_size"] == 48 and run.record["model"]["normalize"] == "0.5,0.25"
    x = run.dataset().load(np.arange(30), 48)
    with torch.no_grad():
        ref = net((x - 0.5) / 0.25)
    np.testing.assert_allclose(run.array("logits"), ref.numpy(), atol=1e-4)
    assert run.record["method"] == "cam" and "near chance" not in out
    assert run.adapter().normalization == "0.5,0.25"  # the run reloads the same model


def test_preprocessor_config_next_to_the_model(own, capsys):
    root, net = own
    (root / "model" / "preprocessor_config.json").write_text(json.dumps(
        {"do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25],
         "size": {"height": 40, "width": 40}}))
    assert _extract(root) == 0, capsys.readouterr().err
    model = Workspace(root / "ws", create=False).latest_run().record["model"]
    assert (model["input_size"], model["normalize"]) == (40, "0.5,0.25")


def test_near_chance_accuracy_warns(own, capsys):
    root, _ = own
    (root / "classes.txt").write_text("dog\neel\ncat\n")  # the model's order is cat, dog, eel
    assert _extract(root, "--classes", str(root / "classes.txt")) == 0
    assert "near chance" in capsys.readouterr().out
    assert _extract(root, "--name", "ok") == 0
    assert "near chance" not in capsys.readouterr().out


def test_normalize_option_is_validated():
    assert validate(ModelSpec, {"spec": "m.pt", "normalize": "0.485,0.456,0.406,0.229,0.224,0.225"}
                    ).normalize == "imagenet"
    for bad in ("0.5", "a,b", "0.5,0"):
        with pytest.raises(Exception, match="normalize"):
            validate(ModelSpec, {"spec": "m.pt", "normalize": bad})


def test_plain_class_folder_extracts_and_slices(tmp_path, capsys):
    """`slicelens slices` on a root/<class>/ folder used to fail: no samples in split 'val'."""
    rng = np.random.default_rng(0)
    for c in CLASSES:
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
                tmp_path / "data" / c / f"{i}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(ColourNet().eval()).save(str(tmp_path / "m.ts"))
    ws = str(tmp_path / "ws")
    assert main(["-q", "extract", "-w", ws, "--data", str(tmp_path / "data"),
                 "--model", str(tmp_path / "m.ts")]) == 0
    assert "12 images (50% of each class" in capsys.readouterr().out
    assert main(["-q", "slices", "-w", ws]) == 0, capsys.readouterr().err
    assert "learned on 'val'" in capsys.readouterr().out
