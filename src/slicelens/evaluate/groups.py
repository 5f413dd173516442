"""Group accuracies (Waterbirds-style ``class|background`` groups) and a dataset's ground truth.

Pure NumPy / pandas functions; ``n`` is the number of samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slicelens.errors import DataError


def group_accuracy(correct: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Accuracy per group.

    Parameters
    ----------
    correct : bool array, shape (n,)
    groups : str array, shape (n,)

    Returns
    -------
    DataFrame with columns ``group, n, accuracy``, one row per group (sorted by name).

    Examples
    --------
    >>> group_accuracy(np.array([1, 0, 1], bool), np.array(["a", "a", "b"])).accuracy.tolist()
    [0.5, 1.0]
    """
    correct, groups = _check(correct, groups)
    names, inv = np.unique(groups, return_inverse=True)
    n = np.bincount(inv, minlength=len(names))
    hits = np.bincount(inv, weights=correct, minlength=len(names))
    return pd.DataFrame({"group": names.astype(str), "n": n, "accuracy": hits / n})


def worst_group_accuracy(correct: np.ndarray, groups: np.ndarray) -> tuple[str, float]:
    """The group with the lowest accuracy and that accuracy (ties: first by name).

    Parameters
    ----------
    correct : bool array, shape (n,)
    groups : str array, shape (n,)

    Examples
    --------
    >>> worst_group_accuracy(np.array([1, 0, 1], bool), np.array(["a", "a", "b"]))
    ('a', 0.5)
    """
    table = group_accuracy(correct, groups)
    i = int(np.argmin(table["accuracy"].to_numpy()))
    return str(table["group"].iloc[i]), float(table["accuracy"].iloc[i])


def average_accuracy(correct: np.ndarray) -> float:
    """Share of correct predictions; ``correct`` is a bool array of shape (n,), n >= 1."""
    correct = np.asarray(correct, dtype=bool)
    if correct.size == 0:
        raise ValueError("no samples")
    return float(correct.mean())


def load_ground_truth(path: str | Path) -> pd.DataFrame:
    """A ``ground_truth.csv`` (evaluation reference, :mod:`slicelens.evaluate.reference`)
    as a DataFrame indexed by ``id``; it needs an ``id`` and a ``group`` column (the true
    group of each sample, which worst-group accuracy is taken over)."""
    try:
        gt = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"cannot read ground truth: {e}", file=str(path)) from None
    for column in ("id", "group"):
        if column not in gt:
            raise DataError(f"ground truth has no {column!r} column (columns: "
                            f"{', '.join(map(str, gt.columns))})", file=str(path), field=column)
    return gt.set_index("id")


def _check(correct, groups) -> tuple[np.ndarray, np.ndarray]:
    correct, groups = np.asarray(correct, dtype=bool), np.asarray(groups)
    if correct.ndim != 1 or correct.shape != groups.shape:
        raise ValueError(f"correct {correct.shape} and groups {groups.shape} must be (n,) alike")
    if correct.size == 0:
        raise ValueError("no samples")
    return correct, groups
