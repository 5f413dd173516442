"""What the training split says around a sample: rarity and label noise, from neighbours.

Both numbers come from the k nearest neighbours in a feature space (the error-aware
slicer uses the attribution space F_W, PCA-reduced), so they need no attribute tagger:

* **rarity** - HiBug's rare case (Sec. 3.2: a slice "rare in training") as a local
  density ratio. Among the ``k`` nearest neighbours of a sample in the pooled set
  ``U = train + fit split``, ``t`` are training samples and ``v = k - t`` fit-split ones;
  the train / fit density ratio is

  ``r = ((t + 1/2) / N_train) / ((v + 1/2) / N_fit)``

  (the kNN density estimate of each split, with a half-count of smoothing), ``r ~ 1``
  where training covers the sample as well as the fit split does, ``r << 1`` where
  training has few look-alikes. ``rarity = clip(-log2 r, 0, 4) / 4`` in [0, 1]
  (1 = at most 1/16 of the fit split's density in training).
* **label noise** - how much the training labels around a sample disagree with each
  other: ``(1 - max_c share_c) / (1 - 1/C)`` over the labels of its ``k`` nearest
  training neighbours, in [0, 1]. Where some training labels were flipped, the
  neighbours of a sample carry both labels; a spurious minority group does not raise it
  much, since its neighbours are mostly the majority class they look like.

The slice-level versions are in :mod:`slicelens.slicing.bugtype` (``freq_ratio``, the
training label mix); these per-sample ones let a clustering gather such samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from slicelens.store.run import Run


class TrainContext:
    """kNN index over the training and fit splits in one feature space.

    Parameters
    ----------
    Z_train : ndarray (n_train, d)
        Labelled training samples.
    y_train : int ndarray (n_train,)
    Z_fit : ndarray (n_fit, d)
        The split slices are learned on.
    n_classes : int
    k : int, default 20

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Zt = rng.normal(0, 1, (200, 2)); Zf = np.vstack([rng.normal(0, 1, (90, 2)),
    ...                                                   rng.normal(8, 0.3, (10, 2))])
    >>> ctx = TrainContext(Zt, (Zt[:, 0] > 0).astype(int), Zf, 2, k=5)
    >>> rar, noise = ctx.features(Zf, fit_index=np.arange(100))
    >>> bool(rar[90:].mean() > 0.9 > rar[:90].mean())
    True
    """

    def __init__(self, Z_train, y_train, Z_fit, n_classes: int, k: int = 20):
        from sklearn.neighbors import NearestNeighbors

        self.n_train, self.n_fit = len(Z_train), len(Z_fit)
        self.k = int(max(1, min(k, self.n_train - 1, self.n_fit - 1)))
        self.y_train = np.asarray(y_train, np.int64)
        self.n_classes = n_classes
        U = np.vstack([Z_train, Z_fit]).astype(np.float64)
        self.is_train = np.r_[np.ones(self.n_train, bool), np.zeros(self.n_fit, bool)]
        self.nn_all = NearestNeighbors(n_neighbors=self.k + 1).fit(U)
        self.nn_train = NearestNeighbors(n_neighbors=self.k + 1).fit(np.asarray(Z_train, float))

    def neighbourhood(self, Z, fit_index=None, train_index=None) -> dict:
        """Raw neighbour counts of the rows of ``Z``.

        ``fit_index`` / ``train_index``: when the rows are fit-split (training) samples,
        their positions in ``Z_fit`` (``Z_train``; -1 for a row that is not there), so
        each is not its own neighbour.

        Returns
        -------
        dict with ``t`` and ``v`` (int (n,): training / fit-split samples among the ``k``
        nearest of the pooled set) and ``label_counts`` (int (n, C): labels of the ``k``
        nearest training samples).
        """
        Z = np.asarray(Z, np.float64)
        self_all = None
        if fit_index is not None:
            self_all = self.n_train + np.asarray(fit_index)
        elif train_index is not None:
            self_all = np.asarray(train_index)
        idx = _drop_self(self.nn_all.kneighbors(Z, self.k + 1, return_distance=False),
                         self_all, self.k)
        t = self.is_train[idx].sum(1)
        idx_t = _drop_self(self.nn_train.kneighbors(Z, self.k + 1, return_distance=False),
                           None if train_index is None else np.asarray(train_index), self.k)
        y = self.y_train[idx_t]
        counts = np.stack([(y == c).sum(1) for c in range(self.n_classes)], 1)
        return {"t": t, "v": self.k - t, "label_counts": counts}

    def features(self, Z, fit_index=None, train_index=None) -> tuple[np.ndarray, np.ndarray]:
        """Rarity and label noise of the rows of ``Z`` (both in [0, 1], shape (n,));
        arguments as :meth:`neighbourhood`."""
        nb = self.neighbourhood(Z, fit_index, train_index)
        ratio = ((nb["t"] + 0.5) / self.n_train) / ((nb["v"] + 0.5) / self.n_fit)
        rarity = np.clip(-np.log2(ratio), 0, 4) / 4
        noise = (1 - nb["label_counts"].max(1) / self.k) / (1 - 1 / self.n_classes)
        return rarity, noise

    def slice_stats(self, nb: dict, members: np.ndarray) -> dict:
        """A slice's neighbourhood evidence from :meth:`neighbourhood` of the fit split.

        ``density_ratio = (sum t / N_train) / (sum v / N_fit)`` over the members (the kNN
        train / fit density ratio of the slice's region, HiBug's rare case measured in
        this feature space) and ``train_label_mix``: the share of each class among the
        members' training neighbours.
        """
        m = np.asarray(members, bool)
        t, v = nb["t"][m].sum(), nb["v"][m].sum()
        ratio = (t / self.n_train) / (v / self.n_fit) if v > 0 else float("nan")
        lc = nb["label_counts"][m].sum(0)
        mix = lc / lc.sum() if lc.sum() else np.zeros(self.n_classes)
        return {"density_ratio": float(ratio), "train_label_mix_nbrs": mix.tolist()}


def density_ratio(in_train: np.ndarray, in_fit: np.ndarray) -> float:
    """A slice's share of training over its share of the fit split (HiBug's rare case).

    >>> density_ratio(np.array([1, 0, 0, 0], bool), np.array([1, 1, 0, 0], bool))
    0.5
    """
    ft, ff = float(np.mean(in_train)), float(np.mean(in_fit))
    return ft / ff if ff > 0 and len(in_train) else float("nan")


def _drop_self(idx: np.ndarray, self_pos, k: int) -> np.ndarray:
    """The first ``k`` neighbours of each row, without the row itself when known."""
    if self_pos is None:
        return idx[:, :k]
    keep = idx != np.asarray(self_pos)[:, None]
    # a row whose self was not returned (duplicates) keeps its first k
    out = np.empty((len(idx), k), idx.dtype)
    for i in range(len(idx)):
        out[i] = idx[i][keep[i]][:k]
    return out


def run_context(run: Run, fit_rows: np.ndarray, pca_dim: int = 32, k: int = 20,
                array: str = "fw", seed: int = 0):
    """:class:`TrainContext` of a run in PCA(``array``) space and the fit split's
    ``neighbourhood``; ``(None, None)`` when the run has too few labelled training samples.

    The PCA (``pca_dim`` components, unwhitened) is fitted on the fit split.
    """
    from sklearn.decomposition import PCA

    s = run.samples
    train = np.flatnonzero((s["split"].to_numpy() == "train") & (s["label"].to_numpy() >= 0))
    if len(train) < k + 2 or len(fit_rows) < k + 2 or np.isin(fit_rows, train).any():
        return None, None
    X = np.asarray(run.array(array)[np.r_[fit_rows, train]], np.float64)
    dim = min(pca_dim, X.shape[1], len(fit_rows) - 1)
    Z = PCA(n_components=dim, random_state=seed).fit(X[: len(fit_rows)]).transform(X)
    Zf, Zt = Z[: len(fit_rows)], Z[len(fit_rows):]
    ctx = TrainContext(Zt, s["label"].to_numpy(np.int64)[train], Zf, len(run.classes), k)
    return ctx, ctx.neighbourhood(Zf, fit_index=np.arange(len(fit_rows)))
