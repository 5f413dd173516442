"""Stored results of a run as flat tables: slices, members, marks, bugs and TDA rows.

Every table names classes, not integers. ``export_run`` writes them; ``read_export``
reads a written table back (the round trip is tested).

Example
-------
>>> files = export_run(run, "out", formats=("csv", "parquet"))   # doctest: +SKIP
>>> read_export("out/slices.csv").equals(tables(run)["slices"])   # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run

FORMATS = ("csv", "parquet", "json")
TABLES = ("slices", "members", "marks", "bugs", "tda")
BUG_SLICER = "attributes"  # HiBug's attribute bug slices (slicelens bugs)


def stored_slice_sets(run: Run) -> list:
    """Every slice set stored in ``run`` (``<run>/slices/*.json``), by slicer name."""
    from slicelens.slicing.base import SliceSet

    out = []
    for name in run.artifact_names("slices"):
        try:
            out.append(SliceSet.load(run.path, name))
        except (SliceLensError, OSError, ValueError, KeyError):
            continue  # not a slice set (or one being written): nothing to export
    return out


def tda_results(run: Run) -> list:
    """The stored training-data attribution results of ``run`` (``<run>/tda/*.json``)."""
    from slicelens.tda.result import TDAResult

    out = []
    for name in run.artifact_names("tda"):
        try:
            out.append(TDAResult.load(run.artifact_path("tda", name)))
        except SliceLensError:
            continue
    return out


def tables(run: Run) -> dict[str, pd.DataFrame]:
    """The five tables of a run.

    Returns
    -------
    dict with
      ``slices`` : one row per slice of every stored slicer (interval, confusion, mark),
      ``members`` : slicer, slice, sample id, split, label, pred, confidence, loss, correct,
      ``marks`` : every mark with its author, status and times,
      ``bugs`` : the attribute bug slices in words with their bug type and evidence,
      ``tda`` : every stored TDA row with its error group, effect, interval and p-value.
    """
    from slicelens.api.frames import sample_frame, slice_frame
    from slicelens.feedback import list_marks, resolve_marks
    from slicelens.store.paths import workspace_of
    from slicelens.store.workspace import Workspace

    ws = Workspace(workspace_of(run.path), create=False)
    samples = sample_frame(run).set_index("id", drop=False)
    slices, members, bugs = [], [], []
    for ss in stored_slice_sets(run):
        marks = {r.slice_id: r.annotation.label for r in resolve_marks(ws, run, ss.slicer)
                 if r.slice_id is not None}
        frame = slice_frame(ss, marks)
        frame.insert(0, "slicer", ss.slicer)
        frame.insert(3, "split", ss.split)
        slices.append(frame)
        for s in ss.slices:
            m = samples.reindex(s.members)[["id", "path", "split", "label", "pred",
                                            "confidence", "loss", "correct"]]
            members.append(m.assign(slicer=ss.slicer, slice=s.id))
        if ss.slicer == BUG_SLICER:
            bugs.append(frame.assign(evidence=[json.dumps(s.evidence, default=str)
                                               for s in ss.slices]))
    mark_rows = [{"id": a.id, "run": a.run_id, "slicer": a.scope, "slice": a.target_id,
                  "label": a.label, "description": a.description, "author": a.author,
                  "status": a.status, "created": a.created_at, "updated": a.updated_at}
                 for a in list_marks(ws, run, include_undone=True)]
    tda = []
    for res in tda_results(run):
        t = res.table()
        t.insert(0, "error_group", res.error_group.name)
        t.insert(1, "metric", res.metric)
        tda.append(t)
    member_cols = ["slicer", "slice", "id", "path", "split", "label", "pred", "confidence",
                   "loss", "correct"]
    return {
        "slices": _concat(slices, ["slicer", "rank", "slice", "split"]),
        "members": (pd.concat(members)[member_cols].reset_index(drop=True) if members
                    else pd.DataFrame(columns=member_cols)),
        "marks": pd.DataFrame(mark_rows, columns=["id", "run", "slicer", "slice", "label",
                                                  "description", "author", "status",
                                                  "created", "updated"]),
        "bugs": _concat(bugs, ["slicer", "rank", "slice", "split", "evidence"]),
        "tda": _concat(tda, ["error_group", "metric", "rank", "group", "action", "effect"]),
    }


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return (pd.concat(frames).reset_index(drop=True) if frames
            else pd.DataFrame(columns=columns))


def write_table(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    """One table in ``fmt`` (csv, parquet or json: a list of records)."""
    from slicelens.store.atomic import atomic_open

    df = df.copy()
    for col in df.columns:  # mixed object columns (None beside str) store as text
        if df[col].dtype == np.float32:  # float32's short repr would not read back exactly
            df[col] = df[col].astype(np.float64)
        elif df[col].dtype == object:
            df[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float)
                                                                  and np.isnan(v)) else str(v))
    with atomic_open(path) as f:
        if fmt == "csv":
            f.write(df.to_csv(index=False).encode())
        elif fmt == "parquet":
            df.to_parquet(f, engine="pyarrow", index=False)
        elif fmt == "json":
            f.write(df.to_json(orient="records", indent=1, force_ascii=False).encode())
        else:
            raise SliceLensError(f"unknown export format {fmt!r}; use {', '.join(FORMATS)}")
    return path


def read_export(path) -> pd.DataFrame:
    """A table written by :func:`export_run`, read back by its suffix."""
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".json":
        return pd.DataFrame(json.loads(path.read_text()))
    raise SliceLensError(f"{path}: not an export table (.csv, .parquet or .json)")


def export_run(run: Run, folder, formats=("csv",), fiftyone: bool = False,
               only: tuple[str, ...] = TABLES) -> list[Path]:
    """Write the run's tables (``only`` of slices, members, marks, bugs, tda) in each
    format, and with ``fiftyone`` a FiftyOne-importable folder; returns the files."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise SliceLensError(f"unknown export format {bad[0]!r}; use {', '.join(FORMATS)}")
    unknown = [t for t in only if t not in TABLES]
    if unknown:
        raise SliceLensError(f"unknown table {unknown[0]!r}; use {', '.join(TABLES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = tables(run)
    written = [write_table(data[name], folder / f"{name}.{fmt}", fmt)
               for name in only for fmt in formats]
    if fiftyone:
        from slicelens.export.fiftyone import write_fiftyone

        written += write_fiftyone(run, folder / "fiftyone", data)
    return written
