"""A copied or moved workspace reloads its data and models from any folder (issue 10)."""

from __future__ import annotations

import json
import shutil

import fixtures_models  # tests/ is on sys.path under pytest
import numpy as np
import pandas as pd
import torch
from PIL import Image

from slicelens.cli import main
from slicelens.models import save_model
from slicelens.store import Workspace


def _images(folder, n=12):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        (folder / "imgs").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / "imgs" / f"{i}.png")
        rows.append({"path": f"imgs/{i}.png", "label": "ab"[i % 2], "split": "val"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def _extract(ws, manifest, weights, name):
    return main(["-q", "extract", "--workspace", str(ws), "--data", str(manifest), "--name", name,
                 "--model", "fixtures_models:tiny_net", "--weights", str(weights)])


def test_copied_workspace_reloads_data_and_models_from_any_folder(tmp_path, monkeypatch, capsys):
    proj = tmp_path / "proj"
    ws = proj / "ws"
    Workspace(ws)
    _images(ws / "data")  # data kept inside the workspace
    outside = _images(tmp_path / "shared-data")  # data elsewhere, by absolute path
    torch.manual_seed(0)
    (ws / "models").mkdir()
    save_model(fixtures_models.tiny_net(), ws / "models" / "w.pt")
    monkeypatch.chdir(proj)  # relative paths on the command line, as a user types them
    assert _extract("ws", "ws/data/manifest.csv", "ws/models/w.pt", "inside") == 0
    assert _extract("ws", outside, "ws/models/w.pt", "outside") == 0
    raw = json.loads((ws / "runs" / Workspace(ws).runs()[0].id / "record.json").read_text())
    assert raw["paths"]["relative"] == {"data.source": "data/manifest.csv", "model.weights": "models/w.pt"}

    copy = tmp_path / "elsewhere" / "ws-copy"
    shutil.copytree(ws, copy)
    shutil.rmtree(ws)  # nothing may still point into the old workspace
    monkeypatch.chdir(tmp_path / "elsewhere")
    runs = Workspace(copy, create=False).runs()
    assert [r.id.split("-", 2)[-1] for r in runs] == ["inside", "outside"]
    for run in runs:
        ds, ad = run.dataset(), run.adapter()
        assert run.record["model"]["weights"] == str((copy / "models" / "w.pt").resolve())
        logits = ad.logits(ds.load(np.arange(len(ds)), 16)).detach().numpy()
        np.testing.assert_allclose(logits, run.array("logits"), atol=1e-5)
    assert runs[0].record["data"]["source"] == str((copy / "data" / "manifest.csv").resolve())
    assert runs[1].record["data"]["source"] == str(outside.resolve())

    shutil.rmtree(tmp_path / "shared-data")
    assert main(["runs", "--workspace", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "MISSING" in out and f"data root {tmp_path / 'shared-data'} is missing" in out
