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


#: a known bug MANIFESTS when its group's accuracy is at least this much below its
#: reference group's ...
MANIFEST_GAP = 0.10
#: ... and a one-sided Fisher exact test of the error counts gives p below this
MANIFEST_P = 0.01


def manifests(correct, affected, reference, gap: float = MANIFEST_GAP,
              alpha: float = MANIFEST_P) -> dict:
    """Does a known (planted) bug make the model fail? Its group's accuracy against a
    reference group's (e.g. the other digits of its class), and a one-sided Fisher exact
    test that the group errs more often.

    A planted rare digit the model generalises to, or a flip rate the model did not
    learn, is not a failure: no slicer that looks for failures can find it, and a table
    of planted bugs says so instead of counting it as missed.

    Parameters
    ----------
    correct, affected, reference : bool arrays, aligned

    Returns
    -------
    dict with ``accuracy``, ``reference_accuracy``, ``manifest_p`` and ``manifest``
    (accuracy at least ``gap`` lower and ``p < alpha``).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([False] * 8 + [True] * 2 + [True] * 18 + [False] * 2)
    >>> g = np.arange(30) < 10
    >>> r = manifests(c, g, ~g)
    >>> r["accuracy"], r["reference_accuracy"], r["manifest"]
    (0.2, 0.9, True)
    >>> manifests(c, g, g)["manifest"]      # the same accuracy: no failure
    False
    """
    import numpy as np
    from scipy.stats import fisher_exact

    c = np.asarray(correct, bool)
    g, ref = np.asarray(affected, bool), np.asarray(reference, bool)
    acc = float(c[g].mean()) if g.any() else float("nan")
    ref_acc = float(c[ref].mean()) if ref.any() else float("nan")
    if not (g.any() and ref.any()):
        return {"accuracy": acc, "reference_accuracy": ref_acc, "manifest_p": 1.0,
                "manifest": False}
    counts = [[int((~c[g]).sum()), int(c[g].sum())], [int((~c[ref]).sum()), int(c[ref].sum())]]
    p = float(fisher_exact(counts, alternative="greater")[1])
    return {"accuracy": acc, "reference_accuracy": ref_acc, "manifest_p": p,
            "manifest": bool(ref_acc - acc >= gap and p < alpha)}
