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


def near_chance(samples: pd.DataFrame, num_classes: int, *, min_n: int = 10,
                margin: float = 0.1) -> tuple[float, float] | None:
    """``(accuracy, chance)`` when the labelled accuracy is near chance, else None.

    ``chance = max(1 / C, share of the most frequent label)``; "near" means
    ``accuracy < chance + margin * (1 - chance)``. A model fed wrongly normalised inputs,
    or whose class order differs from ``classes``, lands there.

    Parameters
    ----------
    samples : DataFrame with ``label`` (int, -1 = unlabeled) and ``correct`` (bool)
    num_classes : int
    min_n : int
        Fewer labelled samples than this never warn.

    Examples
    --------
    >>> s = pd.DataFrame({"label": [0, 1] * 10, "correct": [True, False] * 10})
    >>> near_chance(s, 2)
    (0.5, 0.5)
    """
    lab = samples[samples["label"] >= 0]
    if len(lab) < min_n:
        return None
    acc = float(lab["correct"].astype(bool).mean())
    chance = max(1.0 / num_classes, float(lab["label"].value_counts(normalize=True).max()))
    return (acc, chance) if acc < chance + margin * (1 - chance) else None
