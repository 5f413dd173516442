"""The model's head as a convex problem: multinomial logistic regression on frozen features.

Every exact effect in ``slicelens.tda`` is measured by retraining this head, and every
fast estimate differentiates it. With ``X`` the pooled features of the train split plus a
bias column (``p = d + 1``), labels ``y``, per-sample weights ``w`` and the reference size
``n0`` (the size of the unmodified train split), the head ``theta`` (C, p) minimises

    L(theta) = (1 / n0) * sum_i w_i * CE(softmax(theta x_i), y_i) + (lam / 2) * ||theta||_F^2

Dividing by the fixed ``n0`` (not by ``sum w``) makes "remove sample i" exactly
"set w_i = 0" and "upweight by k" exactly "w_i *= k", the perturbations influence
functions differentiate (Koh & Liang 2017, Eq. 2). The bias is penalised like the
weights, so the objective equals scikit-learn's ``LogisticRegression(C=1 / (lam * n0),
fit_intercept=False)`` on ``X`` (tested).

Gradient and Hessian in closed form (``P = softmax(X theta^T)``, ``Y`` one-hot):

    grad = (1/n0) * ((w * (P - Y))^T X) + lam * theta
    H    = (1/n0) * sum_i w_i * (diag(p_i) - p_i p_i^T) kron (x_i x_i^T) + lam * I

``H`` is never needed as a product over all pairs: ``H vec(V) = vec((1/n0) * sum_i w_i
(diag(p_i) - p_i p_i^T) V x_i x_i^T) + lam V`` costs O(n C p) (the per-sample Kronecker
identity), and the explicit matrix is only formed when ``C * p`` is small.

Example
-------
>>> rng = np.random.default_rng(0)
>>> X = add_bias(rng.normal(size=(40, 2))); y = (X[:, 0] > 0).astype(int)
>>> theta = fit_head(X, y, n_classes=2, lam=0.1)
>>> float(np.abs(grad(theta, X, y, np.ones(40), 40, 0.1)).max()) < 1e-6
True
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from slicelens.errors import SliceLensError

EXPLICIT_MAX = 4096  # form H explicitly (Cholesky) up to this many parameters C * p


def add_bias(features: np.ndarray) -> np.ndarray:
    """``(n, d)`` features -> float64 ``(n, d + 1)`` with a trailing column of ones."""
    f = np.asarray(features, dtype=np.float64)
    return np.hstack([f, np.ones((len(f), 1))])


def probs(theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Class probabilities ``(n, C)`` of head ``theta`` (C, p) on ``X`` (n, p)."""
    return softmax(X @ theta.T, axis=1)


def sample_losses(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cross-entropy per sample, shape (n,)."""
    return -log_softmax(X @ theta.T, axis=1)[np.arange(len(y)), y]


def objective(theta, X, y, w, n0, lam) -> float:
    """``L(theta)`` of the module docstring."""
    return float(w @ sample_losses(theta, X, y)) / n0 + 0.5 * lam * float((theta * theta).sum())


def grad(theta, X, y, w, n0, lam) -> np.ndarray:
    """Gradient of ``L`` at ``theta``, shape (C, p)."""
    R = probs(theta, X)
    R[np.arange(len(y)), y] -= 1.0
    return (R * w[:, None]).T @ X / n0 + lam * theta


def loss_grads_sum(theta, X, y, w) -> np.ndarray:
    """``sum_i w_i * grad CE_i``, shape (C, p): the gradient a group of samples contributes."""
    R = probs(theta, X)
    R[np.arange(len(y)), y] -= 1.0
    return (R * w[:, None]).T @ X


def hvp(theta, X, w, n0, lam, V) -> np.ndarray:
    """Hessian-vector product ``H V`` for ``V`` (C, p), in O(n C p)."""
    P = probs(theta, X)
    U = X @ V.T                                     # (n, C): V x_i
    S = P * (U - (P * U).sum(1, keepdims=True))     # (diag p - p p^T) V x_i
    return (S * w[:, None]).T @ X / n0 + lam * V


def hessian(theta, X, w, n0, lam) -> np.ndarray:
    """The explicit Hessian ``(C p, C p)`` (row-major ``vec(theta)``); for small ``C p``."""
    C, p = theta.shape
    P = probs(theta, X)
    H = np.empty((C, p, C, p))
    for a in range(C):
        for b in range(a, C):
            s = w * (P[:, a] * ((a == b) - P[:, b]))
            H[a, :, b, :] = (X * s[:, None]).T @ X / n0
            H[b, :, a, :] = H[a, :, b, :].T
    H = H.reshape(C * p, C * p)
    H[np.diag_indices_from(H)] += lam
    return H


def fit_head(X, y, *, n_classes: int, lam: float, w=None, n0: int | None = None,
             init: np.ndarray | None = None, gtol: float = 1e-9, max_iter: int = 500) -> np.ndarray:
    """Minimise ``L`` (warm-started from ``init``) with Newton-CG on exact Hessian products.

    Parameters
    ----------
    X : float array (n, p)
        Features with bias column (:func:`add_bias`).
    y : int array (n,)
    n_classes : int
    lam : float
        L2 strength, > 0 (keeps the problem strictly convex).
    w : float array (n,), optional
        Sample weights (default ones; 0 removes a sample).
    n0 : int, optional
        Reference size dividing the data term (default ``n``).
    init : array (C, p), optional
        Warm start (e.g. the baseline head before a data change).

    Returns
    -------
    theta : float64 array (n_classes, p)
    """
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.int64)
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    n0 = n0 or len(y)
    if lam <= 0:
        raise SliceLensError(f"the head's L2 strength must be > 0 (field 'l2'), got {lam}")
    shape = (n_classes, X.shape[1])
    x0 = np.zeros(shape) if init is None else np.asarray(init, np.float64)

    def fun(t):
        t = t.reshape(shape)
        return objective(t, X, y, w, n0, lam), grad(t, X, y, w, n0, lam).ravel()

    res = minimize(fun, x0.ravel(), jac=True, method="trust-ncg",
                   hessp=lambda t, v: hvp(t.reshape(shape), X, w, n0, lam, v.reshape(shape)).ravel(),
                   options={"gtol": gtol, "maxiter": max_iter})
    return res.x.reshape(shape)


class HessianSolver:
    """Applies ``H^{-1}`` of the head at ``theta``, also after a data change.

    Explicit Hessian and Cholesky when ``C p <= EXPLICIT_MAX``; otherwise conjugate
    gradients on Hessian-vector products (:func:`hvp`, matrix-free, O(n C p) each).

    Parameters
    ----------
    theta : array (C, p); X : array (n, p); w : array (n,); n0 : int; lam : float
    """

    def __init__(self, theta, X, w, n0, lam):
        from scipy.linalg import cho_factor

        self.theta, self.X, self.w, self.n0, self.lam = theta, X, w, n0, lam
        self.H = hessian(theta, X, w, n0, lam) if theta.size <= EXPLICIT_MAX else None
        self.factor = cho_factor(self.H) if self.H is not None else None

    def solve(self, G: np.ndarray) -> np.ndarray:
        """``H^{-1} g`` for each ``g`` in ``G`` (k, C, p); returns (k, C, p)."""
        from scipy.linalg import cho_solve

        G = np.asarray(G, np.float64)
        if self.factor is not None:
            flat = G.reshape(len(G), -1)
            return cho_solve(self.factor, flat.T).T.reshape(G.shape)
        return np.stack([self._cg(g, []) for g in G]) if len(G) else G

    def solve_changed(self, g: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """``(H + sum_k H_k)^{-1} g`` with ``H_k`` the data Hessian of rows ``X_k`` weighted
        by ``w_k`` (negative to take weight away): the Hessian of the changed objective.

        Parameters
        ----------
        g : array (C, p)
        parts : list of (X_k (m, p), w_k (m,))
        """
        if self.H is None:
            return self._cg(g, parts)
        Hc = self.H.copy()
        for Xk, wk in parts:
            Hc += hessian(self.theta, Xk, wk, self.n0, 0.0)
        return np.linalg.solve(Hc, g.ravel()).reshape(g.shape)

    def _cg(self, g, parts):
        from scipy.sparse.linalg import LinearOperator, cg

        shape, n = self.theta.shape, g.size

        def matvec(v):
            V = v.reshape(shape)
            out = hvp(self.theta, self.X, self.w, self.n0, self.lam, V)
            for Xk, wk in parts:
                out += hvp(self.theta, Xk, wk, self.n0, 0.0, V)
            return out.ravel()
        x, info = cg(LinearOperator((n, n), matvec=matvec), g.ravel(), rtol=1e-8, maxiter=10 * n)
        if info != 0:
            raise SliceLensError("conjugate gradients did not converge on the head Hessian; "
                                 "raise the head's L2 strength (field 'l2')")
        return x.reshape(shape)
