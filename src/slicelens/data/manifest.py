"""Manifest adapter: a CSV or Parquet table of ``path, label[, split][, id][, ...]``.

Every row is checked before anything is returned; all problems are reported at once
(see ``docs/data.md``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slicelens.data import images as _images
from slicelens.data.dataset import SPLITS, BadInputReport, ImageDataset
from slicelens.errors import DataError

CORE_COLUMNS = ("path", "label", "split", "id")
DEFAULT_SPLIT = "test"  # a manifest without a split column is data to evaluate on
MAX_LISTED = 5


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input; ``bad_image`` problems may be skipped."""

    reason: str
    row: int | None = None
    file: str | None = None
    field: str | None = None
    bad_image: bool = False

    def __str__(self) -> str:
        where = [f"row {self.row}" if self.row is not None else None,
                 f"field '{self.field}'" if self.field else None, self.file]
        return ", ".join(w for w in where if w) + f": {self.reason}"


def resolve_problems(problems: list[Problem], source: str, skip_bad: bool) -> BadInputReport:
    """Raise one :class:`DataError` listing the problems, unless all are skippable.

    Returns
    -------
    BadInputReport
        The bad images to drop (only when ``skip_bad`` and nothing else is wrong).
    """
    fatal = [p for p in problems if not (skip_bad and p.bad_image)]
    if fatal:
        listed = "; ".join(str(p) for p in fatal[:MAX_LISTED])
        more = f"; and {len(fatal) - MAX_LISTED} more" if len(fatal) > MAX_LISTED else ""
        hint = (" (--skip-bad / skip_bad=True drops unreadable images)"
                if any(p.bad_image for p in fatal) and not skip_bad else "")
        n = len(fatal)
        err = DataError(f"{n} problem{'s' if n > 1 else ''} in the input, nothing loaded: "
                        f"{listed}{more}{hint}", file=source)
        err.row, err.field, err.problems = fatal[0].row, fatal[0].field, fatal
        raise err
    return BadInputReport([(p.row, p.file, p.reason) for p in problems if p.bad_image])


def read_classes(classes: Sequence[str] | str | Path | None) -> tuple[list[str] | None, str | None]:
    """Class names from a list or a text file (one per line); returns ``(names, file)``."""
    if classes is None:
        return None, None
    file = None
    if isinstance(classes, str | Path):
        file = str(classes)
        try:
            classes = [ln.strip() for ln in Path(file).read_text().splitlines() if ln.strip()]
        except OSError as e:
            raise DataError(f"cannot read classes file: {e.strerror}", file=file) from None
    names = [str(c) for c in classes]
    dup = pd.Series(names)[pd.Series(names).duplicated()]
    if len(dup):
        raise DataError(f"class {dup.iloc[0]!r} is listed twice", file=file, field="classes")
    if not names:
        raise DataError("no classes given", file=file, field="classes")
    return names, file


def empty_class_problems(classes: list[str], labels: np.ndarray, file: str | None) -> list[Problem]:
    """A problem per class with no sample among ``labels`` (indices into ``classes``)."""
    counts = np.bincount(labels[labels >= 0], minlength=len(classes))
    return [Problem(f"class {c!r} has no samples", file=file, field="label")
            for c, k in zip(classes, counts, strict=True) if k == 0]


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataError("unsupported manifest type (expected .csv or .parquet)", file=str(path))
    if not path.is_file():
        raise DataError("manifest not found", file=str(path))
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, dtype={c: str for c in CORE_COLUMNS})
        else:
            df = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - pandas / pyarrow raise many types
        raise DataError(f"cannot read manifest: {e}", file=str(path)) from None
    df.columns = [str(c).strip() for c in df.columns]
    for col in CORE_COLUMNS:
        if col in df:
            df[col] = _as_text(df[col])
    return df


def _as_text(col: pd.Series) -> pd.Series:
    """Column as stripped strings, missing values as ``""`` (1.0 -> "1" for float labels)."""
    if pd.api.types.is_float_dtype(col) and (col.dropna() % 1 == 0).all():
        col = col.astype("Int64")
    return col.astype(object).where(col.notna(), "").astype(str).str.strip()


def load_manifest(path: str | Path, *, classes: Sequence[str] | str | Path | None = None,
                  skip_bad: bool = False, check_images: bool = True) -> ImageDataset:
    """Load a CSV / Parquet manifest as an :class:`ImageDataset`.

    Parameters
    ----------
    path : path
        ``.csv`` or ``.parquet`` with columns ``path`` and ``label`` (required),
        ``split`` (train / val / test / pool; if the column is absent every row is
        ``"test"``) and ``id`` (default: ``path`` as written). Other columns become
        ``metadata``. Image paths are relative to the manifest's folder. An empty label
        means unlabeled (``-1``).
    classes : list of str or path, optional
        Class names in the model's output order, or a text file with one per line.
        Default: the sorted distinct labels.
    skip_bad : bool
        Drop rows whose image is missing or corrupt and list them in
        ``dataset.bad_inputs``, instead of raising. Other problems always raise.
    check_images : bool
        Open every image (PIL ``verify``) to find missing and corrupt files up front.

    Raises
    ------
    DataError
        Names the manifest, the first bad row (header = row 1) and field, and lists up
        to five problems: missing ``path`` / ``label`` column, unknown split, label not
        in ``classes``, duplicate id, class without samples, missing or corrupt image.

    Examples
    --------
    >>> ds = load_manifest("data/manifest.csv", skip_bad=True)  # doctest: +SKIP
    >>> ds.bad_inputs.to_csv("bad_inputs.csv")  # doctest: +SKIP
    """
    path = Path(path)
    source = str(path)
    df = _read_table(path)
    for col in ("path", "label"):
        if col not in df:
            raise DataError(f"manifest has no '{col}' column (columns: {', '.join(df.columns)})",
                            file=source, field=col)
    names, classes_file = read_classes(classes)
    if names is None:
        names = sorted(set(df["label"]) - {""})
    index = {c: i for i, c in enumerate(names)}
    rel = df["path"].to_numpy(dtype=str)
    splits = df["split"].to_numpy(dtype=str) if "split" in df else np.full(len(df), DEFAULT_SPLIT)
    ids = df["id"].to_numpy(dtype=str) if "id" in df else rel
    labels = np.full(len(df), -1, dtype=np.int64)
    abs_paths = np.array([os.path.abspath(os.path.join(path.parent, p)) for p in rel], dtype=str)

    problems: list[Problem] = []
    bad = np.zeros(len(df), dtype=bool)
    seen: dict[str, int] = {}
    for i, (p, lab, split, sid) in enumerate(zip(rel.tolist(), df["label"].tolist(),
                                                 splits.tolist(), ids.tolist(), strict=True)):
        row = i + 2
        if not p:
            problems.append(Problem("empty image path", row, field="path", bad_image=True))
            bad[i] = True
        if split not in SPLITS:
            problems.append(Problem(f"unknown split {split!r} (expected one of "
                                    f"{', '.join(SPLITS)})", row, field="split"))
        if lab:
            if lab in index:
                labels[i] = index[lab]
            else:
                problems.append(Problem(f"label {lab!r} is not one of the classes "
                                        f"{names[:10]}", row, field="label"))
        if not sid:
            problems.append(Problem("empty id", row, field="id"))
        elif sid in seen:
            problems.append(Problem(f"id {sid!r} already used in row {seen[sid]}", row,
                                    field="id" if "id" in df else "path"))
        else:
            seen[sid] = row
    outside_pool = splits != "pool"
    if outside_pool.any() and not (labels[outside_pool] >= 0).any() and \
            not any(p.field == "label" for p in problems):
        # a manifest cut short after "path," or a column of blanks: every row would load
        # unlabelled and the run would report nothing about accuracy, silently
        problems.append(Problem("the label column is empty in every row outside the pool "
                                "split (was the file cut short?); give labels, or put "
                                "unlabelled images in split 'pool'", file=source, field="label"))
    if check_images:
        todo = np.flatnonzero(~bad)
        for j, reason in zip(todo, _images.check_images(abs_paths[todo].tolist()), strict=True):
            if reason:
                problems.append(Problem(reason, int(j) + 2, str(rel[j]), "path", bad_image=True))
                bad[j] = True
    problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    if classes is not None:
        problems += empty_class_problems(names, labels[~bad] if skip_bad else labels,
                                         classes_file or source)
    report = resolve_problems(problems, source, skip_bad)
    keep = ~bad
    meta = df.drop(columns=[c for c in CORE_COLUMNS if c in df]).reset_index(drop=True)
    return ImageDataset(ids=ids[keep], labels=labels[keep], classes=names, splits=splits[keep],
                        metadata=meta[keep].reset_index(drop=True), paths=abs_paths[keep],
                        source=source, bad_inputs=report)

