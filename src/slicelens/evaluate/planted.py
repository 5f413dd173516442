"""How much each planted bug of the demo hurts a model, from the hidden ground truth.

Only evaluation reads the ground truth; no slicer, tagger or repair does.
"""

from __future__ import annotations

import pandas as pd

from slicelens.evaluate.groups import average_accuracy, worst_group_accuracy


def join_ground_truth(samples: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The run's per-sample table with the ground-truth columns joined on ``id``."""
    gt = ground_truth if ground_truth.index.name == "id" else ground_truth.set_index("id")
    gt = gt.drop(columns=[c for c in ("split", "label") if c in gt.columns])
    return samples.join(gt, on="id", how="left")


def planted_bug_table(samples: pd.DataFrame, ground_truth: pd.DataFrame, *,
                      rare_digit: int, flip_digit: int, split: str = "test") -> pd.DataFrame:
    """One row per planted bug: accuracy on the affected samples vs the rest.

    Parameters
    ----------
    samples : DataFrame
        A run's samples (id, split, label, correct, ...).
    ground_truth : DataFrame
        The demo's ground truth (id, digit, background, group, ...).
    rare_digit, flip_digit : int
        The digits the demo made rare and mislabelled.

    Returns
    -------
    DataFrame with columns ``bug, affected, n_affected, acc_affected, acc_rest``.
    """
    df = _labelled_split(samples, ground_truth, split)
    figures = _figures(df)
    worst = figures["worst_group"]
    rows = []
    rows.append(_row("spurious correlation (worst class|background group)", f"group {worst}",
                     df["group"] == worst, df))
    rows.append(_row("rare case", f"digit {rare_digit}", df["digit"] == rare_digit, df))
    rows.append(_row("wrong labels in training", f"digit {flip_digit}", df["digit"] == flip_digit, df))
    out = pd.DataFrame(rows)
    out.attrs.update(figures)
    return out


def _row(bug: str, affected: str, mask: pd.Series, df: pd.DataFrame) -> dict:
    return {"bug": bug, "affected": affected, "n_affected": int(mask.sum()),
            "acc_affected": float(df.loc[mask, "correct"].mean()) if mask.any() else float("nan"),
            "acc_rest": float(df.loc[~mask, "correct"].mean()) if (~mask).any() else float("nan")}


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
