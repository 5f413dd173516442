"""Calibrated spuriousness: a score that ranks unmarked slices instead of saturating.

Label spreading on the 2-D layout (the paper's propagation,
:mod:`slicelens.feedback.propagation`) pushes almost every reached sample to 0 or 1 once
marks of both kinds exist: after two marks on the demo, 17 of 22 slices scored above 0.5
and the rest near 0, so a threshold on it chose "most of the data". This score keeps the
paper's graph (the standardised attribution layout) but reads *distances* in it:

- for every fitted sample, ``d_s`` = distance to the nearest member of a slice marked
  spurious, ``d_c`` = to the nearest member of a slice marked core;
- both kinds marked: ``s = d_c / (d_s + d_c)`` (0.5 = equally close to both);
- only spurious marks: ``s = exp(-d_s^2 / (2 tau^2))``; only core marks:
  ``s = 1 - exp(-d_c^2 / (2 tau^2))``, with ``tau`` the median distance between slice
  centroids (the layout's own scale);
- a slice's score is the mean over its members.

**Threshold rule.** ``s > 0.5`` means: with both kinds, closer to spurious than to core
marks; with one kind, within ``tau * sqrt(2 ln 2) ~ 1.18 tau`` of a spurious mark (or
farther than that from every core mark). The scores spread over [0, 1] and keep their
order, so a threshold above 0.5 takes fewer slices.

Examples
--------
>>> xy = np.array([[0.0, 0], [0.1, 0], [5, 0], [5.1, 0], [2.4, 0], [2.6, 0]])
>>> s = distance_scores(xy, spurious=np.array([1, 1, 0, 0, 0, 0], bool),
...                     core=np.array([0, 0, 1, 1, 0, 0], bool), centroids=xy[::2])
>>> [round(float(v), 2) for v in s]
[1.0, 1.0, 0.0, 0.0, 0.53, 0.49]
"""

from __future__ import annotations

import numpy as np


def _nearest(xy: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Distance of every row of ``xy`` (n, 2) to the nearest seed row, (n,)."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1).fit(xy[seeds])
    return nn.kneighbors(xy, 1)[0][:, 0]


def distance_scores(xy: np.ndarray, spurious: np.ndarray, core: np.ndarray,
                    centroids: np.ndarray) -> np.ndarray:
    """Calibrated spuriousness per sample (see the module docstring).

    Parameters
    ----------
    xy : float array (n, 2)
        The standardised layout.
    spurious, core : bool arrays (n,)
        Members of slices marked spurious / core (at least one of them non-empty).
    centroids : float array (k, 2)
        Slice centroids (``tau`` = their median pairwise distance).

    Returns
    -------
    float array (n,) in [0, 1]
    """
    from scipy.spatial.distance import pdist

    d = pdist(centroids) if len(centroids) > 1 else np.array([1.0])
    tau = float(np.median(d)) if np.median(d) > 0 else 1.0
    if spurious.any() and core.any():
        ds, dc = _nearest(xy, spurious), _nearest(xy, core)
        tot = ds + dc
        return np.where(tot > 0, dc / np.where(tot > 0, tot, 1), 0.5)
    if spurious.any():
        return np.exp(-_nearest(xy, spurious) ** 2 / (2 * tau ** 2))
    return 1.0 - np.exp(-_nearest(xy, core) ** 2 / (2 * tau ** 2))
