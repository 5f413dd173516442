"""Accuracy summaries of a run: per split, per class, and per ground-truth group.

Pure functions over the run's per-sample table; shapes are (n,) unless noted.
"""

from __future__ import annotations

import pandas as pd


def accuracy_by(samples: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Accuracy and count of labelled samples grouped by the columns ``by``.

    Parameters
    ----------
    samples : DataFrame with columns ``correct`` (bool), ``label`` (int, -1 = unlabeled)
        and the ``by`` columns.

    Returns
    -------
    DataFrame with columns ``by + ["n", "accuracy"]``.

    Examples
    --------
    >>> s = pd.DataFrame({"split": ["a", "a", "b"], "label": [0, 1, 0],
    ...                   "correct": [True, False, True]})
    >>> accuracy_by(s, ["split"])["accuracy"].tolist()
    [0.5, 1.0]
    """
    lab = samples[samples["label"] >= 0]
    g = lab.groupby(by, sort=True)["correct"]
    return pd.DataFrame({"n": g.size(), "accuracy": g.mean().astype(float)}).reset_index()


def split_class_summary(samples: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Accuracy per split overall and per class, class names in words."""
    overall = accuracy_by(samples, ["split"]).assign(**{"class": "(all)"})
    per = accuracy_by(samples, ["split", "label"])
    per["class"] = [classes[i] for i in per["label"]]
    out = pd.concat([overall, per.drop(columns="label")], ignore_index=True)
    order = {s: i for i, s in enumerate(("train", "val", "test", "pool"))}
    out["_o"] = out["split"].map(order)
    return out.sort_values(["_o", "class"]).drop(columns="_o").reset_index(drop=True)
