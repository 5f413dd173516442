"""Baseline slicer: error-aware clustering of plain pooled features (the Domino idea).

Domino (Eyuboglu et al., ICLR 2022) fits a mixture model whose components explain the
embeddings *and* the labels and predictions, so that components gather samples that
look alike and fail alike. This is our own, simpler implementation of that idea, used as
the baseline "error clustering on plain features" of BENCHMARKS.md:

1. ``Z = PCA(F)`` of the pooled features ``F`` (n, d) to ``pca_dim`` dimensions,
   whitened (unit variance per component);
2. ``X = [Z, w_y * onehot(label), w_yhat * onehot(pred), w_err * (1 - p_label)]`` where
   ``p_label`` is the predicted probability of the given label;
3. a diagonal-covariance ``GaussianMixture`` with ``n_slices`` components (scikit-learn);
   each sample goes to its most probable component; components are the slices, ranked
   like every slicer by the Wilson upper bound of their accuracy.

Departures from Domino: Domino fits a joint likelihood with categorical label and
prediction terms weighted in the log-likelihood; here the label / prediction / error
columns are appended to the Gaussian's input with weights, which is the same idea with
a stock mixture model. Unlabeled samples (label -1) get a zero label one-hot and the
error term ``1 - confidence``. ``layout_`` is the first two (unwhitened) PCA components
of F, for display only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from slicelens.slicing.base import Slicer, register_slicer
from slicelens.slicing.metrics import build_slices, split_rows

if TYPE_CHECKING:
    from slicelens.store.run import Run


class ErrorClusteringParams(BaseModel):
    """Parameters of the error-clustering baseline."""

    model_config = ConfigDict(extra="forbid")

    n_slices: int = Field(24, ge=2, description="mixture components (slices)")
    pca_dim: int = Field(32, ge=2, description="PCA dimensions of the pooled features")
    label_weight: float = Field(4.0, ge=0, description="weight of the one-hot label columns")
    pred_weight: float = Field(4.0, ge=0, description="weight of the one-hot prediction columns")
    error_weight: float = Field(4.0, ge=0, description="weight of the 1 - p(label) column")
    seed: int = Field(0, description="random seed of PCA and the mixture")


@register_slicer("error-clustering")
class ErrorClusteringSlicer(Slicer):
    """Gaussian mixture over PCA features plus label, prediction and error columns.

    Examples
    --------
    >>> s = ErrorClusteringSlicer(n_slices=10).fit(run, split="val")     # doctest: +SKIP
    """

    p_: ErrorClusteringParams  # the validated parameters (set in __init__/fit)
    Params = ErrorClusteringParams
    requires = ("features", "probs")
    #: the run array clustered (subclasses: "fw")
    feature_array = "features"

    def _fit(self, run: Run, split: str) -> None:
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture

        p = self.p_
        samples = run.samples
        rows = split_rows(samples, split)
        F = self._features(run, rows)
        dim = min(p.pca_dim, F.shape[1], len(rows) - 1)
        self.pca_ = PCA(n_components=dim, whiten=True, random_state=p.seed).fit(F)
        X = self._inputs(run, rows)
        k = min(p.n_slices, len(rows))
        self.gmm_ = GaussianMixture(k, covariance_type="diag", n_init=2, reg_covar=1e-4,
                                    random_state=p.seed).fit(X)
        resp = self.gmm_.predict_proba(X)
        comp = resp.argmax(1)
        # empty components get no slice: renumber the used ones 0..k'-1
        used, comp = np.unique(comp, return_inverse=True)
        slices, labels = build_slices(self.name, samples["id"].to_numpy()[rows], comp,
                                      resp[np.arange(len(rows)), used[comp]],
                                      samples.iloc[rows], run.classes)
        self._component_to_slice = np.full(k, -1, np.int64)
        self._component_to_slice[used] = labels[np.unique(comp, return_index=True)[1]]
        self.slices_, self.labels_ = slices, labels
        self._refine(run, rows, X, resp[np.arange(len(rows)), used[comp]])
        self.sample_ids_ = samples["id"].to_numpy(str)[rows]
        self.layout_ = (self.pca_.transform(F)[:, :2] * np.sqrt(self.pca_.explained_variance_[:2])
                        ).astype(np.float32)

    def _refine(self, run: Run, rows: np.ndarray, X: np.ndarray, typicality: np.ndarray) -> None:
        """A subclass's hook on the fitted mixture's slices, given its inputs ``X`` and each
        sample's responsibility (nothing here)."""

    def _assign(self, run: Run, split: str) -> np.ndarray:
        rows = split_rows(run.samples, split)
        return self._component_to_slice[self.gmm_.predict(self._inputs(run, rows))]

    def _features(self, run: Run, rows: np.ndarray) -> np.ndarray:
        return np.asarray(run.array(self.feature_array)[rows], np.float64)

    def _inputs(self, run: Run, rows: np.ndarray) -> np.ndarray:
        """The mixture's input for the given rows, shape (len(rows), pca_dim + 2C + 1)."""
        p = self.p_
        s = run.samples.iloc[rows]
        C = len(run.classes)
        probs = np.asarray(run.array("probs")[rows], np.float64)
        labels = s["label"].to_numpy(np.int64)
        lab = labels >= 0
        y = np.zeros((len(rows), C))
        y[np.flatnonzero(lab), labels[lab]] = 1.0
        yhat = np.eye(C)[s["pred"].to_numpy(np.int64)]
        p_label = np.where(lab, probs[np.arange(len(rows)), np.maximum(labels, 0)],
                           s["confidence"].to_numpy(np.float64))
        Z = self.pca_.transform(self._features(run, rows))
        return np.hstack([Z, p.label_weight * y, p.pred_weight * yhat,
                          p.error_weight * (1.0 - p_label)[:, None]])
