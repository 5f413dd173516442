"""What training-data attribution reads from a run, as arrays, and the head fitted on it.

A :class:`HeadProblem` holds one row per sample of the run (ids, split, label, the
model's prediction and probabilities, pooled features ``F``); a :class:`Baseline` is the
convex head (``slicelens.tda.head``) refit on the labelled train split, with its
agreement with the model it stands for.

Example
-------
>>> rng = np.random.default_rng(0)
>>> f = rng.normal(size=(30, 2)); y = (f[:, 0] > 0).astype(int)
>>> pb = HeadProblem(ids=[f"s{i}" for i in range(30)], splits=["train"] * 20 + ["val"] * 10,
...                  labels=y, preds=y, probs=np.eye(2)[y], features=f, classes=["a", "b"])
>>> fit_baseline(pb, lam=0.1).agreement_val > 0.5
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.errors import DataError, SliceLensError
from slicelens.tda.head import add_bias, fit_head, probs

if TYPE_CHECKING:
    from slicelens.store.run import Run

LAM_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


@dataclass
class HeadProblem:
    """Per-sample arrays of a run (all splits, run order).

    Attributes
    ----------
    ids, splits : str arrays (n,)
    labels : int array (n,)
        -1 for unlabeled samples (pool).
    preds : int array (n,)
        The model's predictions.
    probs : float array (n, C)
        The model's probabilities.
    features : float array (n, d)
        Pooled features ``F`` the head reads.
    classes : list of str
    fw : float array (n, d), optional
        Attribution-weighted features (used to place training samples in slices).
    """

    ids: np.ndarray
    splits: np.ndarray
    labels: np.ndarray
    preds: np.ndarray
    probs: np.ndarray
    features: np.ndarray
    classes: list[str]
    fw: np.ndarray | None = None
    _pos: pd.Index = field(init=False, repr=False)

    def __post_init__(self):
        self.ids = np.asarray(self.ids, str)
        self.splits = np.asarray(self.splits, str)
        self.labels = np.asarray(self.labels, np.int64)
        self.preds = np.asarray(self.preds, np.int64)
        self.probs = np.asarray(self.probs, np.float64)
        self.features = np.asarray(self.features, np.float32)
        n = len(self.ids)
        for name in ("splits", "labels", "preds", "probs", "features"):
            if len(getattr(self, name)) != n:
                raise DataError(f"{name} has {len(getattr(self, name))} rows, ids has {n}", field=name)
        self._pos = pd.Index(self.ids)

    @classmethod
    def from_run(cls, run: Run) -> HeadProblem:
        """Read a complete run (samples table, probs, features, fw)."""
        s = run.samples
        return cls(ids=s["id"].to_numpy(str), splits=s["split"].to_numpy(str),
                   labels=s["label"].to_numpy(np.int64), preds=s["pred"].to_numpy(np.int64),
                   probs=np.asarray(run.array("probs")), features=np.asarray(run.array("features")),
                   classes=run.classes,
                   fw=np.asarray(run.array("fw")) if getattr(run, "has_model", True) else None)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def split_index(self, split: str, labelled: bool = True) -> np.ndarray:
        """Row positions of one split (only labelled rows unless ``labelled=False``)."""
        m = self.splits == split
        return np.flatnonzero(m & (self.labels >= 0) if labelled else m)

    def positions(self, ids) -> np.ndarray:
        """Row positions of sample ids; an unknown id is a DataError naming it."""
        ids = np.asarray(ids, str)
        pos = self._pos.get_indexer(ids)
        if (pos < 0).any():
            raise DataError(f"unknown sample id {str(ids[pos < 0][0])!r} (not in this run)", field="id")
        return pos

    def X(self, pos: np.ndarray) -> np.ndarray:
        """Head inputs (features + bias column), float64 (len(pos), d + 1)."""
        return add_bias(self.features[pos])


@dataclass
class Baseline:
    """The head refit on the labelled train split.

    Attributes
    ----------
    train : int array (n_train,)
        Row positions of the training samples, in the order of ``X`` / ``y``.
    X : float array (n_train, p); y : int array (n_train,)
    theta : float array (C, p)
    lam : float
    agreement_val : float
        Share of validation samples where the refit head predicts what the model predicts.
    agreement_train : float
    """

    train: np.ndarray
    X: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    lam: float
    agreement_val: float
    agreement_train: float

    @property
    def n0(self) -> int:
        return len(self.y)

    @cached_property
    def _rows(self) -> pd.Index:
        return pd.Index(self.train)

    def rows(self, pos: np.ndarray) -> np.ndarray:
        """Positions in ``X`` / ``y`` of problem rows ``pos`` (all must be training rows)."""
        r = self._rows.get_indexer(np.asarray(pos))
        if (r < 0).any():
            raise SliceLensError(f"{int((r < 0).sum())} group members are not labelled "
                                 "training samples")
        return r.astype(np.int64)


def fit_baseline(problem: HeadProblem, lam: float | None = None,
                 grid: tuple[float, ...] = LAM_GRID) -> Baseline:
    """Refit the head on the train split; ``lam=None`` picks from ``grid`` the L2 strength
    whose head agrees best with the model's predictions on validation (train if no val).
    """
    train = problem.split_index("train")
    if len(train) == 0:
        raise SliceLensError("the run has no labelled training samples (split 'train')")
    if len(np.unique(problem.labels[train])) < 2:
        raise SliceLensError("the train split has a single class; a head cannot be fitted")
    X, y = problem.X(train), problem.labels[train]
    val = problem.split_index("val", labelled=False)
    check = val if len(val) else train
    Xc = problem.X(check)
    best = None
    theta = None
    for lam_i in ([lam] if lam is not None else sorted(grid, reverse=True)):
        theta = fit_head(X, y, n_classes=problem.n_classes, lam=lam_i, init=theta)
        agree = float((probs(theta, Xc).argmax(1) == problem.preds[check]).mean())
        if best is None or agree > best[0]:
            best = (agree, lam_i, theta)
    assert best is not None  # the grid is never empty
    agree, lam_b, theta_b = best
    agree_tr = float((probs(theta_b, X).argmax(1) == problem.preds[train]).mean())
    return Baseline(train, X, y, theta_b, float(lam_b), agree, agree_tr)
