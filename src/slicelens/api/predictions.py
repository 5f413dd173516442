"""Start without a model, as cleanlab does: a run from a table of predictions.

``from_predictions(df, image_col=..., label_col=..., pred_probs=..., features=...)``
writes a complete run (samples, probabilities, features, a manifest of the images) whose
error-clustering slices, marks, wrong-label ranking, exports and report work; the parts
that need the model's attribution maps (attribution slices, heatmaps, the mosaic, CoRM)
say so when asked.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.errors import DataError

if TYPE_CHECKING:
    from slicelens.store.workspace import WorkspaceLike


def _matrix(df: pd.DataFrame, value, name: str, n: int) -> np.ndarray:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        missing = [c for c in value if c not in df]
        if missing:
            raise DataError(f"no column {missing[0]!r} in the table (columns: "
                            f"{', '.join(map(str, df.columns))})", field=name)
        cols = [np.stack(df[c].to_numpy()) if df[c].dtype == object else df[c].to_numpy()[:, None]
                for c in value]
        value = np.concatenate([np.asarray(c, float).reshape(n, -1) for c in cols], axis=1)
    x = np.asarray(value, dtype=np.float64)
    if x.ndim != 2 or len(x) != n:
        raise DataError(f"{name} must have one row per table row ({n}), got shape {x.shape}",
                        field=name)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise DataError(f"{name} is not finite in row {int(np.flatnonzero(bad)[0]) + 2}", field=name)
    return x


def from_predictions(df: pd.DataFrame, *, image_col: str = "path", label_col: str = "label",
                     pred_probs, features=None, classes=None, split_col: str = "split",
                     id_col: str | None = None, root=None, workspace: WorkspaceLike = "slicelens-workspace",
                     name: str = "predictions"):
    """A run made from predictions alone (no model).

    Parameters
    ----------
    df : DataFrame, n rows
        One row per image.
    image_col : str
        Image paths (relative to ``root``, default the working directory).
    label_col : str
        Labels: class names, or indices into ``classes``; empty / NaN = unlabelled.
    pred_probs : array (n, C) or list of column names
        The model's class probabilities, in the order of ``classes``.
    features : array (n, d) or list of column names, optional
        Embeddings the slicers cluster (default: the log-probabilities).
    classes : list of str, optional
        Default: the sorted distinct labels (or ``0..C-1`` for integer labels).
    split_col : str
        Column with train / val / test / pool; absent = every row ``val`` (the split slices
        are learned on). The wrong-label ranking needs ``train`` rows.
    id_col : str, optional
        Sample ids (default: the image path as given).
    workspace : Workspace or path
    name : str
        Name part of the run id.

    Returns
    -------
    slicelens.api.Run

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, slicelens as sl
    >>> df = pd.DataFrame({"path": [f"img{i}.png" for i in range(6)],
    ...                    "label": ["cat", "dog"] * 3})
    >>> probs = np.tile([[0.8, 0.2]], (6, 1))
    >>> run = sl.from_predictions(df, pred_probs=probs, workspace=tempfile.mkdtemp() + "/ws")
    >>> run.to_dataframe()[["id", "label", "pred", "correct"]].head(2)
             id label pred  correct
    0  img0.png   cat  cat     True
    1  img1.png   dog  cat    False
    >>> run.has_model
    False
    """
    from slicelens.api.workspace import Workspace
    from slicelens.store.artifacts import artifact_path
    from slicelens.store.atomic import save_npy, write_json, write_parquet
    from slicelens.store.paths import relocatable

    if not isinstance(df, pd.DataFrame):
        raise DataError("from_predictions needs a pandas DataFrame")
    n = len(df)
    if n == 0:
        raise DataError("the table has no rows")
    for col in (image_col, label_col):
        if col not in df:
            raise DataError(f"no column {col!r} in the table (columns: "
                            f"{', '.join(map(str, df.columns))})", field=col)
    probs = _matrix(df, pred_probs, "pred_probs", n)
    if (probs < 0).any() or not np.allclose(probs.sum(1), 1, atol=1e-3):
        row = int(np.flatnonzero((probs < 0).any(1) | ~np.isclose(probs.sum(1), 1, atol=1e-3))[0])
        raise DataError(f"pred_probs row {row + 2} is not a probability vector (sums to "
                        f"{probs[row].sum():.3f})", field="pred_probs")
    raw = df[label_col]
    labelled = raw.notna() & (raw.astype(str) != "")
    if classes is None:
        if pd.api.types.is_integer_dtype(raw) or pd.api.types.is_float_dtype(raw):
            classes = [str(i) for i in range(probs.shape[1])]
        else:
            classes = sorted(set(raw[labelled].astype(str)))
    classes = [str(c) for c in classes]
    if len(classes) != probs.shape[1]:
        raise DataError(f"{len(classes)} classes {classes[:8]} but pred_probs has "
                        f"{probs.shape[1]} columns", field="pred_probs")
    if pd.api.types.is_numeric_dtype(raw):
        names = np.array([(classes[int(v)] if 0 <= int(v) < len(classes) else str(v)) if ok
                          else "" for v, ok in zip(raw.fillna(-1), labelled, strict=True)])
    else:
        names = np.where(labelled, raw.astype(str), "")
    index = {c: i for i, c in enumerate(classes)}
    unknown = [(i, v) for i, v in enumerate(names) if v and v not in index]
    if unknown:
        i, v = unknown[0]
        raise DataError(f"row {i + 2}: label {raw.iloc[i]!r} is not one of the classes "
                        f"{classes[:10]}", field=label_col)
    labels = np.array([index[v] if v else -1 for v in names], np.int64)
    splits = (df[split_col].astype(str).to_numpy() if split_col in df
              else np.full(n, "val"))
    ids = df[id_col].astype(str).to_numpy() if id_col else df[image_col].astype(str).to_numpy()
    root = Path(root or os.getcwd()).resolve()
    paths = [str((root / p).resolve()) for p in df[image_col].astype(str)]
    feats = (_matrix(df, features, "features", n) if features is not None
             else np.log(np.clip(probs, 1e-12, 1)))

    from slicelens.store.workspace import Workspace as StoreWorkspace

    if isinstance(workspace, Workspace):
        ws = workspace
    else:  # a directory, or a store Workspace reopened as the API's by its directory
        ws = Workspace(workspace.root if isinstance(workspace, StoreWorkspace) else workspace)
    run_id, run_dir = ws.new_run_dir(name)
    extra = df.drop(columns=[c for c in (image_col, label_col, split_col, id_col) if c and c in df])
    extra = extra[[c for c in extra.columns if extra[c].dtype != object
                   or extra[c].map(lambda v: isinstance(v, str | type(None))).all()]]
    manifest = pd.concat([pd.DataFrame({"id": ids, "path": paths, "label": names,
                                        "split": splits}), extra.reset_index(drop=True)], axis=1)
    (run_dir / "data").mkdir()
    manifest.to_csv(run_dir / "data" / "manifest.csv", index=False)
    pred = probs.argmax(1)
    safe = np.where(labels >= 0, labels, 0)
    loss = np.where(labels >= 0, -np.log(np.clip(probs[np.arange(n), safe], 1e-12, 1)), np.nan)
    correct = pd.array(pred == labels, dtype="boolean")
    correct[labels < 0] = pd.NA
    write_parquet(artifact_path(run_dir, "samples"), pd.DataFrame({
        "id": ids, "label": labels, "split": splits, "pred": pred, "confidence": probs.max(1),
        "loss": loss, "correct": correct}))
    arrays = {"logits": np.log(np.clip(probs, 1e-12, 1)).astype(np.float32),
              "probs": probs.astype(np.float32), "features": feats.astype(np.float32)}
    for key, arr in arrays.items():
        save_npy(run_dir / f"{key}.npy", arr)
    now = datetime.now(timezone.utc).isoformat()
    record = {"format": 1, "run_id": run_id, "status": "complete", "model_free": True,
              "created_at": now, "finished_at": now, "classes": classes, "n": n,
              "data": {"source": str(run_dir / "data" / "manifest.csv"), "skip_bad": False,
                       "classes": classes},
              "model": {"spec": "<predictions>"}, "feature_dim": int(feats.shape[1]),
              "features_from": "given" if features is not None else "log pred_probs",
              "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)}
                         for k, v in arrays.items()}}
    write_json(artifact_path(run_dir, "record"), relocatable(record, ws.root))
    return ws.run(run_id)
