"""Exports: the tables round-trip through CSV / Parquet / JSON, and the FiftyOne folder
follows FiftyOne's documented FiftyOneImageClassificationDataset layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures_report import full_workspace

from slicelens.export.tables import FORMATS, TABLES, export_run, read_export, tables


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return full_workspace(tmp_path_factory.mktemp("export") / "ws")


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same rows and columns; values equal as text (CSV / JSON do not keep dtypes)."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)

    def text(df):
        def cell(v):
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                return ""
            if isinstance(v, float | np.floating):
                return f"{float(v):.6g}"
            if isinstance(v, bool | np.bool_):
                return str(bool(v))
            return str(v)
        return [[cell(v) for v in row] for row in df.itertuples(index=False)]
    assert text(a) == text(b)


@pytest.mark.parametrize("fmt", FORMATS)
def test_tables_round_trip(full, tmp_path, fmt):
    _, run = full
    want = tables(run)
    files = export_run(run, tmp_path, formats=(fmt,))
    assert sorted(f.name for f in files) == sorted(f"{t}.{fmt}" for t in TABLES)
    for name in TABLES:
        _same(read_export(tmp_path / f"{name}.{fmt}"), want[name])


def test_tables_hold_every_kind_of_result_in_class_names(full):
    _, run = full
    t = tables(run)
    assert {"attribution", "error-clustering", "attributes"} <= set(t["slices"]["slicer"])
    assert set(t["members"]["label"].dropna()) <= {"a", "b"}
    assert len(t["members"][t["members"]["slicer"] == "attribution"]) == \
        sum(len(s.members) for s in run.slices("attribution").slice_set.slices)
    assert t["marks"].loc[0, "label"] == "spurious" and t["marks"].loc[0, "author"] == "ana"
    assert t["bugs"].loc[0, "description"] == "background: brick; digit: 7"
    assert list(t["tda"]["rank"]) == [1, 2] and t["tda"].loc[0, "error_group"] == "label a -> pred b"
    marked = t["slices"][(t["slices"]["slicer"] == "attribution")
                         & (t["slices"]["slice"] == "attribution-00")]
    assert marked["mark"].item() == "spurious"


def test_fiftyone_folder_follows_the_documented_format(full, tmp_path):
    """FiftyOneImageClassificationDataset: ``data/<uuid>.<ext>`` and ``labels.json`` =
    ``{"classes": [...], "labels": {"<uuid>": <class index or null>}}``."""
    from PIL import Image

    _, run = full
    export_run(run, tmp_path, formats=("csv",), fiftyone=True)
    root = tmp_path / "fiftyone"
    labels = json.loads((root / "labels.json").read_text())
    assert set(labels) == {"classes", "labels"} and labels["classes"] == run.classes
    media = {p.stem: p for p in (root / "data").iterdir()}
    assert set(media) == set(labels["labels"])  # every uuid has exactly its image
    for target in labels["labels"].values():
        assert target is None or (isinstance(target, int) and 0 <= target < len(run.classes))
    ids = json.loads((root / "ids.json").read_text())
    s = run.samples.set_index("id")
    for uuid, sid in list(ids.items())[:10]:
        assert labels["labels"][uuid] == int(s.loc[sid, "label"])
        Image.open(media[uuid]).verify()
    tags = json.loads((root / "tags.json").read_text())
    members = set(run.slices("attribution")["attribution-00"].members)
    by_id = {ids[u]: t for u, t in tags.items()}
    for sid in members:
        assert "slice:attribution:attribution-00" in by_id[sid]
        assert "mark:spurious" in by_id[sid]
    wrong = set(s.index[s["correct"].astype("boolean").eq(False).fillna(False)])
    assert {sid for sid, t in by_id.items() if "error" in t} == wrong
    assert "FiftyOneImageClassificationDataset" in (root / "load_fiftyone.py").read_text()


def test_export_cli_writes_and_counts_rows(full, tmp_path, capsys):
    from slicelens.cli import main

    ws, run = full
    assert main(["export", "-w", str(ws.root), "-o", str(tmp_path), "--format", "parquet",
                 "--tables", "slices", "marks"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"run {run.id} ")
    assert len(pd.read_parquet(tmp_path / "marks.parquet")) == 1
    assert not Path(tmp_path / "members.parquet").exists()
