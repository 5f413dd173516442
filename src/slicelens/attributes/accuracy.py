"""Accuracy per attribute value (HiBug Sec. 3.3, Fig. 4; Zeno's main view): for each value
of one attribute, how many labelled samples carry it, how many the model gets right, and
the Wilson 95% interval of that accuracy, to set against the overall accuracy.

Examples
--------
>>> import numpy as np
>>> t = value_accuracy(np.array(["red", "red", "blue", None], object),
...                    np.array([1.0, 0.0, 1.0, 1.0]), ["red", "blue", "green"])
>>> t[["value", "n_labeled", "accuracy"]].to_dict("list")
{'value': ['red', 'blue', 'green'], 'n_labeled': [2, 1, 0], 'accuracy': [0.5, 1.0, nan]}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slicelens.slicing.metrics import wilson_interval


def value_accuracy(values: np.ndarray, correct: np.ndarray, order: list[str]) -> pd.DataFrame:
    """Accuracy of the samples with each value.

    Parameters
    ----------
    values : object array (n,)
        Each sample's value of the attribute (None: not assigned).
    correct : float array (n,)
        1.0 right, 0.0 wrong, NaN unlabelled (not counted).
    order : list of str
        The attribute's values, in the order of the rows returned.

    Returns
    -------
    DataFrame, one row per value of ``order``: ``value``, ``n_labeled``, ``n_correct``,
    ``accuracy`` (NaN without labelled samples), ``acc_low``, ``acc_high`` (Wilson 95%).
    """
    values = np.asarray(values, dtype=object)
    correct = np.asarray(correct, dtype=float)
    labelled = np.isfinite(correct)
    rows = []
    for v in order:
        sel = labelled & (values == v)
        n, k = int(sel.sum()), int(correct[sel].sum())
        lo, hi = wilson_interval(k, n)
        rows.append((v, n, k, k / n if n else float("nan"), lo if n else float("nan"),
                     hi if n else float("nan")))
    return pd.DataFrame(rows, columns=["value", "n_labeled", "n_correct", "accuracy",
                                       "acc_low", "acc_high"])
