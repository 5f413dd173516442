"""Figures from a dataset's true groups (``ground_truth.csv``, column ``group``).

Only evaluation reads the ground truth; no slicer, tagger or repair does. The demo's
table of its planted bugs is :func:`slicelens.demo.planted.planted_bug_table`.
"""

from __future__ import annotations

import pandas as pd

from slicelens.evaluate.groups import average_accuracy, worst_group_accuracy


def join_ground_truth(samples: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The run's per-sample table with the ground-truth columns joined on ``id``."""
    gt = ground_truth if ground_truth.index.name == "id" else ground_truth.set_index("id")
    gt = gt.drop(columns=[c for c in ("split", "label") if c in gt.columns])
    return samples.join(gt, on="id", how="left")


def group_figures(samples: pd.DataFrame, ground_truth: pd.DataFrame,
                  split: str = "test") -> dict:
    """Average and worst-group accuracy of one split (groups = the ground truth's ``group``).

    Returns
    -------
    dict with ``average_accuracy``, ``worst_group_accuracy`` and ``worst_group``.

    Examples
    --------
    >>> s = pd.DataFrame({"id": list("abcd"), "split": "test", "label": 0,
    ...                   "correct": [True, True, True, False]})
    >>> gt = pd.DataFrame({"id": list("abcd"), "group": ["g", "g", "h", "h"]})
    >>> group_figures(s, gt)
    {'average_accuracy': 0.75, 'worst_group_accuracy': 0.5, 'worst_group': 'h'}
    """
    return _figures(_labelled_split(samples, ground_truth, split))


def _labelled_split(samples: pd.DataFrame, ground_truth: pd.DataFrame, split: str) -> pd.DataFrame:
    df = join_ground_truth(samples, ground_truth)
    return df[(df["split"] == split) & (df["label"] >= 0)]


def _figures(df: pd.DataFrame) -> dict:
    correct = df["correct"].to_numpy(dtype=bool)
    group, worst = worst_group_accuracy(correct, df["group"].to_numpy())
    return {"average_accuracy": average_accuracy(correct), "worst_group_accuracy": worst,
            "worst_group": group}
