"""Before / after tables: the same samples, two models, accuracy per slice and overall.

Pure pandas functions on per-sample tables (``run.samples``: ``id, label, correct``).
Slices are those of the *base* run's slicer, assigned on the evaluated split, so both
models are scored on identical sample sets; each accuracy carries its Wilson 95%
interval (:func:`slicelens.slicing.metrics.wilson_interval`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slicelens.errors import SliceLensError
from slicelens.slicing.metrics import wilson_interval

OVERALL = "(all)"
COLUMNS = ["slice_id", "n", "acc_before", "low_before", "high_before", "acc_after",
           "low_after", "high_after", "delta"]


def slice_comparison(before: pd.DataFrame, after: pd.DataFrame, slice_of: pd.Series,
                     z: float = 1.96, order: list[str] | None = None) -> pd.DataFrame:
    """Accuracy per slice before and after, with Wilson intervals and the change.

    Parameters
    ----------
    before, after : DataFrame
        Per-sample tables of the two runs (columns ``id``, ``label``, ``correct``); they
        must hold every id of ``slice_of``.
    slice_of : Series, index = sample id (n,), values = slice id ("" or None = in no slice)
        The samples to compare (e.g. the test split) and their slice.
    z : float
        Normal quantile of the intervals.
    order : list of str, optional
        Slice ids in display order (e.g. the slice set's ranking); default: order of first
        appearance in ``slice_of``.

    Returns
    -------
    DataFrame with :data:`COLUMNS`: one row per slice that has samples, over its labelled
    samples, then the row ``"(all)"`` over every labelled
    sample of ``slice_of``. ``delta = acc_after - acc_before``.

    Examples
    --------
    >>> b = pd.DataFrame({"id": ["a", "b", "c"], "label": [0, 1, 0], "correct": [True, False, False]})
    >>> a = b.assign(correct=[True, True, False])
    >>> t = slice_comparison(b, a, pd.Series(["s1", "s1", ""], index=["a", "b", "c"]))
    >>> t[["slice_id", "n", "acc_before", "acc_after", "delta"]].values.tolist()
    [['s1', 2, 0.5, 1.0, 0.5], ['(all)', 3, 0.3333333333333333, 0.6666666666666666, 0.3333333333333333]]
    """
    ids = pd.Index(np.asarray(slice_of.index, dtype=str))
    cb, lab = _correct(before, ids, "before")
    ca, _ = _correct(after, ids, "after")
    names = pd.Series(slice_of.to_numpy(), index=ids).fillna("").astype(str)
    rows = []
    present = pd.unique(names[names != ""])
    if order is not None:
        present = [sid for sid in order if sid in set(present)]
    for sid in present:
        sel = ((names == sid).to_numpy()) & lab
        rows.append(_row(sid, cb[sel], ca[sel], z))
    rows.append(_row(OVERALL, cb[lab], ca[lab], z))
    return pd.DataFrame(rows, columns=COLUMNS)


def _correct(samples: pd.DataFrame, ids: pd.Index, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``correct`` (bool) and ``labelled`` (bool) of ``ids`` in ``samples``, shape (n,) each."""
    table = samples.set_index(np.asarray(samples["id"], dtype=str))
    pos = table.index.get_indexer(ids)
    if (pos < 0).any():
        raise SliceLensError(f"the {name} run has no sample {ids[pos < 0][0]!r} (field 'id')")
    rows = table.iloc[pos]
    return (rows["correct"].to_numpy(dtype=bool, na_value=False),
            rows["label"].to_numpy(np.int64) >= 0)


def _row(sid: str, before: np.ndarray, after: np.ndarray, z: float) -> dict:
    n = len(before)
    kb, ka = int(before.sum()), int(after.sum())
    lb, hb = wilson_interval(kb, n, z)
    la, ha = wilson_interval(ka, n, z)
    acc_b = kb / n if n else float("nan")
    acc_a = ka / n if n else float("nan")
    return {"slice_id": sid, "n": n, "acc_before": acc_b, "low_before": lb, "high_before": hb,
            "acc_after": acc_a, "low_after": la, "high_after": ha, "delta": acc_a - acc_b}


def group_comparison(before: pd.DataFrame, after: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """:func:`slice_comparison` with ground-truth groups (``class|background``) as slices.

    ``groups``: Series, index = sample id, values = group name. The last row is ``"(all)"``.
    """
    table = slice_comparison(before, after, groups.sort_values(kind="stable"))
    return table.rename(columns={"slice_id": "group"})
