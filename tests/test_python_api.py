"""The public Python API: curated names, a fast import, the docs/python.md notebook
script, runs from predictions, base-run default and in-memory runs that reload."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import slicelens as sl

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_resolves_and_is_documented():
    for name in sl.__all__:
        obj = getattr(sl, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"sl.{name} has no docstring"
    with pytest.raises(AttributeError):
        sl.no_such_name  # noqa: B018


def test_import_is_fast_and_does_not_import_torch():
    code = ("import sys, slicelens as sl; sl.Workspace; "
            "print('torch' in sys.modules, 'slicelens.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT / "src")}).stdout.split()
    assert out == ["False", "True"]


def test_show_stays_callable_after_its_module_is_imported():
    import slicelens.show  # noqa: F401  binds the module to sl.show

    assert callable(sl.show)


def test_docs_python_script_runs(tmp_path, monkeypatch):
    """The notebook-style script of docs/python.md, exactly as written."""
    text = (ROOT / "docs" / "python.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    assert "sl.from_predictions" in code and "find_slices" in code
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/python.md", "exec"), {"__name__": "__docs__"})


def _predictions(tmp_path, n=40):
    from PIL import Image

    (tmp_path / "img").mkdir()
    for i in range(n):
        Image.fromarray(np.full((8, 8, 3), i * 5 % 256, np.uint8)).save(tmp_path / "img" / f"{i}.png")
    df = pd.DataFrame({"file": [f"img/{i}.png" for i in range(n)],
                       "y": [["ant", "bee", "cow"][i % 3] for i in range(n)],
                       "split": np.where(np.arange(n) % 2 == 0, "train", "val")})
    probs = np.full((n, 3), 0.1)
    probs[np.arange(n), (np.arange(n) + (np.arange(n) % 5 == 0)) % 3] = 0.8
    return df, probs


def test_from_predictions_names_classes_and_says_attribution_needs_a_model(tmp_path):
    df, probs = _predictions(tmp_path)
    run = sl.from_predictions(df, image_col="file", label_col="y", pred_probs=probs,
                              root=tmp_path, workspace=tmp_path / "ws")
    frame = run.to_dataframe()
    assert list(frame.columns[:8]) == ["id", "path", "split", "label", "pred", "confidence",
                                       "loss", "correct"]
    assert set(frame["label"]) == {"ant", "bee", "cow"}
    assert frame["correct"].sum() == (~(np.arange(40) % 5 == 0)).sum()
    assert Path(frame.loc[0, "path"]).is_file()
    ds = run.dataset()  # the images reload through the run's manifest
    assert list(ds.ids) == list(frame["id"]) and ds.classes == ["ant", "bee", "cow"]
    with pytest.raises(sl.SliceLensError, match="needs a model"):
        run.find_slices("attribution")
    with pytest.raises(sl.SliceLensError, match="without a model"):
        run.adapter()


def test_label_check_on_a_run_from_predictions_says_why_not(tmp_path, capsys):
    """A run made from predictions has no F_W: `slicelens slices` says the training labels
    were not checked and why; asked for explicitly (--label-check, the Python call) it is
    an error naming the missing array."""
    from slicelens.cli import main

    df, probs = _predictions(tmp_path, n=120)
    run = sl.from_predictions(df, image_col="file", label_col="y", pred_probs=probs,
                              root=tmp_path, workspace=tmp_path / "ws")
    ws = str(tmp_path / "ws")
    assert main(["slices", "-w", ws, "--slicer", "error-clustering", "--n-slices", "3"]) == 0
    out = capsys.readouterr().out
    assert "(training labels not checked: the run has no" in out and "fw array" in out
    assert "wrong-labels" not in run.stored_slicers()
    assert main(["slices", "-w", ws, "--slicer", "error-clustering", "--n-slices", "3",
                 "--label-check"]) != 0
    assert "error: --label-check: the run has no fw array" in capsys.readouterr().err
    with pytest.raises(sl.SliceLensError, match="cannot check the training labels"):
        run.check_training_labels()


@pytest.mark.parametrize("bad, match", [
    ({"pred_probs": np.ones((40, 3))}, "not a probability vector"),
    ({"pred_probs": np.full((40, 2), 0.5)}, "3 classes"),
    ({"label_col": "nope"}, "no column 'nope'"),
])
def test_from_predictions_rejects_bad_input_naming_it(tmp_path, bad, match):
    df, probs = _predictions(tmp_path)
    kw = {"image_col": "file", "label_col": "y", "pred_probs": probs, "root": tmp_path,
          "workspace": tmp_path / "ws", **bad}
    with pytest.raises(sl.SliceLensError, match=match):
        sl.from_predictions(df, **kw)


def test_ws_run_is_the_analysed_base_run_not_a_repair(tmp_path):
    import json

    from test_api_support import write_synthetic_run

    _, base = write_synthetic_run(tmp_path / "ws", 20)
    _, repair = write_synthetic_run(tmp_path / "ws", 20, seed=1)
    rec = json.loads((repair.path / "record.json").read_text())
    (repair.path / "record.json").write_text(json.dumps({**rec, "base_run": base.id}))
    ws = sl.Workspace(tmp_path / "ws", create=False)
    assert ws.run().id == base.id and ws.latest_run().id == repair.id
    assert isinstance(ws.run(), sl.Run) and isinstance(ws.runs()[0], sl.Run)


def test_slices_index_by_id_address_and_rank(tmp_path):
    from test_api_support import write_synthetic_run

    write_synthetic_run(tmp_path / "ws", 60)
    run = sl.Workspace(tmp_path / "ws", create=False).run()
    slices = run.find_slices("error-clustering", n_slices=4)
    first = slices.ids[0]
    assert slices[0].id == slices[first].id == slices[f"error-clustering:{first}"].id
    df = slices.to_dataframe()
    assert len(df) == len(slices) and (df["acc_low"] <= df["accuracy"]).all()
    members = slices[0].samples()
    assert len(members) == slices[0].metrics["size"]
    assert members["loss"].is_monotonic_decreasing
    other = slices[0].samples(split="test")  # assigned on another split
    assert set(other["split"]) <= {"test"}
    with pytest.raises(sl.SliceLensError, match="no slice"):
        slices["error-clustering-99"]
    run.annotate(f"error-clustering:{first}", "core", "fine", author="bo")
    assert run.marks().loc[0, "author"] == "bo"
    assert run.slices("error-clustering").to_dataframe().loc[0, "mark"] == "core"


def test_in_memory_run_reloads_its_images(tmp_path):
    from test_extract import build, run_extract

    ds, ad = build(n=6)
    run = run_extract(ds, ad, tmp_path / "ws" / "runs" / "run-0001-arrays", batch_size=3)
    back = run.dataset()
    assert np.array_equal(back.arrays, ds.arrays) and list(back.ids) == list(ds.ids)
    assert list(back.labels) == list(ds.labels) and back.classes == ds.classes


def test_show_takes_a_workspace_object_and_serves_it(tmp_path):
    import json
    import urllib.request

    from test_api_support import write_synthetic_run

    _, run = write_synthetic_run(tmp_path / "ws", 10)
    url = sl.show(sl.Workspace(tmp_path / "ws", create=False))
    with urllib.request.urlopen(url + "api/runs") as r:
        assert [x["id"] for x in json.load(r)] == [run.id]
