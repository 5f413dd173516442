"""How much each planted bug of the demo hurts a model, from the hidden ground truth."""

from __future__ import annotations

import pandas as pd

from slicelens.evaluate.planted import group_figures, join_ground_truth


def planted_bug_table(samples: pd.DataFrame, ground_truth: pd.DataFrame, *,
                      rare_digit: int | None, flip_digit: int | None, split: str = "test") -> pd.DataFrame:
    """One row per planted bug: accuracy on the affected samples vs the rest.

    Parameters
    ----------
    samples : DataFrame
        A run's samples (id, split, label, correct, ...).
    ground_truth : DataFrame
        The demo's ground truth (id, digit, background, group, ...).
    rare_digit, flip_digit : int or None
        The digits the demo made rare and mislabelled.

    Returns
    -------
    DataFrame with columns ``bug, affected, n_affected, acc_affected, acc_rest``.
    """
    df = join_ground_truth(samples, ground_truth)
    df = df[(df["split"] == split) & (df["label"] >= 0)]
    figures = group_figures(samples, ground_truth, split)
    worst = figures["worst_group"]
    rows = []
    rows.append(_row("spurious correlation (worst class|background group)", f"group {worst}",
                     df["group"] == worst, df))
    if rare_digit is not None:  # None: the demo planted no rare case
        rows.append(_row("rare case", f"digit {rare_digit}", df["digit"] == rare_digit, df))
    if flip_digit is not None:  # None: no flipped labels
        rows.append(_row("wrong labels in training", f"digit {flip_digit}", df["digit"] == flip_digit, df))
    out = pd.DataFrame(rows)
    out.attrs.update(figures)
    return out


def planted_members(samples: pd.DataFrame, ground_truth: pd.DataFrame, *,
                    rare_digit: int | None, flip_digit: int | None,
                    split: str = "val") -> dict[str, tuple[str, set[str]]]:
    """The sample ids of ``split`` that each planted bug affects.

    Returns
    -------
    dict from bug ("spurious", "rare case", "wrong labels") to (what is affected, ids):
    the worst class|background group of ``split``, every sample of the rare digit,
    every sample of the digit whose training labels were flipped (its labels in
    ``split`` are clean; the bug shows as errors on it).

    Examples
    --------
    >>> s = pd.DataFrame({"id": list("abcd"), "split": "val", "label": [0, 0, 1, 1],
    ...                   "correct": [True, False, True, True]})
    >>> gt = pd.DataFrame({"id": list("abcd"), "group": ["0|x", "0|y", "1|x", "1|y"],
    ...                    "digit": [1, 2, 7, 7]})
    >>> out = planted_members(s, gt, rare_digit=1, flip_digit=7)
    >>> out["spurious"], sorted(out["wrong labels"][1])
    (('group 0|y', {'b'}), ['c', 'd'])
    """
    df = join_ground_truth(samples, ground_truth)
    df = df[(df["split"] == split) & (df["label"] >= 0)]
    worst = group_figures(samples, ground_truth, split)["worst_group"]
    ids = df["id"].astype(str)
    out = {"spurious": (f"group {worst}", set(ids[df["group"] == worst]))}
    if rare_digit is not None:
        out["rare case"] = (f"digit {rare_digit}", set(ids[df["digit"] == rare_digit]))
    if flip_digit is not None:
        out["wrong labels"] = (f"digit {flip_digit}", set(ids[df["digit"] == flip_digit]))
    return out


def planted_manifests(samples: pd.DataFrame, ground_truth: pd.DataFrame, *,
                      rare_digit: int | None, flip_digit: int | None,
                      split: str = "val") -> dict[str, dict]:
    """Whether each planted bug of :func:`planted_members` makes the model fail on
    ``split`` (:func:`slicelens.evaluate.planted.manifests`), against the samples of the
    same label outside the worst group (spurious) or of the other, unplanted digits of
    the same label (rare case, wrong labels).

    Examples
    --------
    >>> s = pd.DataFrame({"id": list("abcdefgh"), "split": "val", "label": [0] * 8,
    ...                   "correct": [False, False, False, False, True, True, True, True]})
    >>> gt = pd.DataFrame({"id": list("abcdefgh"), "group": ["0|y"] * 4 + ["0|x"] * 4,
    ...                    "digit": [1, 1, 1, 1, 2, 2, 3, 3]})
    >>> m = planted_manifests(s, gt, rare_digit=1, flip_digit=None)
    >>> m["rare case"]["accuracy"], m["rare case"]["reference_accuracy"]
    (0.0, 1.0)
    """
    import numpy as np

    from slicelens.evaluate.planted import manifests

    df = join_ground_truth(samples, ground_truth)
    df = df[(df["split"] == split) & (df["label"] >= 0)]
    worst = group_figures(samples, ground_truth, split)["worst_group"]
    c = df["correct"].to_numpy(dtype=bool, na_value=False)
    lab, dig, grp = df["label"].to_numpy(), df["digit"].to_numpy(), df["group"].to_numpy()
    g = grp == worst
    out = {"spurious": manifests(c, g, (lab == lab[g][0]) & ~g) if g.any() else
           manifests(c, g, ~g)}
    planted = [d for d in (rare_digit, flip_digit) if d is not None]
    for bug, d in (("rare case", rare_digit), ("wrong labels", flip_digit)):
        if d is not None:
            m = dig == d
            same = np.isin(lab, np.unique(lab[m])) if m.any() else np.zeros(len(lab), bool)
            out[bug] = manifests(c, m, same & ~np.isin(dig, planted))
    return out


def _row(bug: str, affected: str, mask: pd.Series, df: pd.DataFrame) -> dict:
    return {"bug": bug, "affected": affected, "n_affected": int(mask.sum()),
            "acc_affected": float(df.loc[mask, "correct"].mean()) if mask.any() else float("nan"),
            "acc_rest": float(df.loc[~mask, "correct"].mean()) if (~mask).any() else float("nan")}
