"""DataFrames a person reads: class names instead of integers, image paths beside ids.

Example
-------
>>> import pandas as pd
>>> s = pd.DataFrame({"id": ["a", "b"], "label": [0, -1], "pred": [1, 0]})
>>> with_names(s, ["cat", "dog"])[["label", "pred"]].values.tolist()
[['cat', 'dog'], [None, 'cat']]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from slicelens.store.run import Run

#: the columns every sample frame starts with, in this order
SAMPLE_COLUMNS = ("id", "path", "split", "label", "pred", "confidence", "loss", "correct")


def with_names(samples: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """A copy of ``samples`` whose ``label`` / ``pred`` hold class names (None: unlabelled)
    and whose integer indices stay in ``label_index`` / ``pred_index``."""
    out = samples.copy()
    names = np.asarray(list(classes) + [None], dtype=object)  # index -1 -> None
    for col in ("label", "pred"):
        if col in out and pd.api.types.is_integer_dtype(out[col]):
            idx = out[col].to_numpy(np.int64)
            out[f"{col}_index"] = idx
            out[col] = pd.Series(names[np.where(idx >= 0, idx, len(classes))], index=out.index,
                                 dtype=object)
    return out


def image_paths(run: Run) -> pd.Series:
    """Absolute image path per sample id of ``run`` (None where the images live only in the
    run's saved arrays, or the data source cannot be read)."""
    ids = run.samples["id"].astype(str)
    source = run.record.data.source
    path = Path(source)
    paths = pd.Series([None] * len(ids), index=ids.to_numpy(), dtype=object)
    if not source or source.startswith("<") or path.suffix.lower() == ".npz":
        return paths
    if path.is_dir():  # an image folder: ids are paths relative to it
        return pd.Series([str(path / i) for i in ids], index=ids.to_numpy(), dtype=object)
    if path.suffix.lower() in (".csv", ".parquet", ".pq") and path.exists():
        table = (pd.read_csv(path, dtype=str, keep_default_na=False) if path.suffix.lower() == ".csv"
                 else pd.read_parquet(path))
        if "path" in table:
            key = table["id"].astype(str) if "id" in table else table["path"].astype(str)
            found = dict(zip(key, table["path"].astype(str), strict=True))
            return pd.Series([str((path.parent / found[i]).resolve()) if i in found else None
                              for i in ids], index=ids.to_numpy(), dtype=object)
    return paths


def sample_frame(run: Run, rows=None) -> pd.DataFrame:
    """The run's samples (all, or the positions ``rows``) as a readable DataFrame.

    Columns: ``id, path, split, label, pred, confidence, loss, correct`` (names, not
    integers), then ``label_index``, ``pred_index`` and any others the run stores.
    """
    s = run.samples if rows is None else run.samples.iloc[np.asarray(rows)]
    out = with_names(s.reset_index(drop=True), run.classes)
    out.insert(1, "path", image_paths(run).reindex(out["id"].astype(str)).to_numpy())
    first = [c for c in SAMPLE_COLUMNS if c in out]
    return out[first + [c for c in out.columns if c not in first]]


def slice_frame(slice_set, marks: dict | None = None) -> pd.DataFrame:
    """One row per slice: rank, id, size, accuracy with its Wilson interval, confidence,
    loss, the confusion in class names, bug type, description and the mark in force."""
    rows = []
    for rank, s in enumerate(slice_set.slices):
        m = s.metrics
        rows.append({"rank": rank, "slice": s.id, "size": int(m.get("size", s.size)),
                     "accuracy": m.get("accuracy", np.nan), "acc_low": m.get("acc_low", np.nan),
                     "acc_high": m.get("acc_high", np.nan), "errors": m.get("errors"),
                     "confidence": m.get("confidence", np.nan), "loss": m.get("loss", np.nan),
                     "confusion": m.get("confusion_text", ""), "bug_type": s.bug_type,
                     "description": s.description,
                     "mark": (marks or {}).get(s.id)})
    return pd.DataFrame(rows, columns=["rank", "slice", "size", "accuracy", "acc_low", "acc_high",
                                       "errors", "confidence", "loss", "confusion", "bug_type",
                                       "description", "mark"])
