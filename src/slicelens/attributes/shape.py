"""The ``shape`` descriptor: the object's form, independent of the model.

The histogram of oriented gradients (Dalal & Triggs, CVPR 2005; scikit-image's ``hog``)
of the saliency foreground's bounding box
(:func:`slicelens.attributes.assign_stats.foreground`: pixels far from the median border
colour), in grey and resized to ``HOG_SIDE`` pixels a side, so that the object's size
and place drop out and its outline stays. A model-independent image descriptor in the
role Domino gives its cross-modal embedding: it separates what the model's own features
may not (on the planted-bug demo the model's features are only 40-50% one digit per
cluster). Used by the ``clusters`` attribute backend (``measure: shape``) and by the
error-aware slicer (``shape_weight``).

Descriptors of a run's samples are cached in the run (``attributes/shape_<side>.npy``,
one row per sample of ``run.samples``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from slicelens.store.run import Run

HOG_SIDE = 24  # the crop's side (4 x 4 cells of 6 pixels)
N_DIMS = 324  # 9 orientations x 2 x 2 cells per block x 3 x 3 blocks


def shape_descriptors(images: np.ndarray) -> np.ndarray:
    """The ``shape`` descriptor of each image: HOG of its foreground's bounding box.

    Parameters
    ----------
    images : uint8 (b, H, W, 3)

    Returns
    -------
    float32 (b, 324): 9 orientations x 2 x 2 cells per block x 3 x 3 blocks of the crop,
    in grey and resized to ``HOG_SIDE`` pixels a side.

    Examples
    --------
    >>> imgs = np.zeros((3, 16, 16, 3), np.uint8)
    >>> imgs[0, 4:12, 7:9] = imgs[0, 7:9, 4:12] = 255        # a plus sign
    >>> imgs[1, 2:14, 4:8] = imgs[1, 4:8, 2:14] = 255        # a larger one, elsewhere
    >>> imgs[2, 4:12, 4:12] = 255; imgs[2, 6:10, 6:10] = 0   # a square ring
    >>> d = shape_descriptors(imgs)
    >>> d.shape, bool(np.linalg.norm(d[0] - d[1]) < np.linalg.norm(d[0] - d[2]))
    ((3, 324), True)
    """
    from PIL import Image
    from skimage.feature import hog

    from slicelens.attributes.assign_stats import region_images

    crops = region_images(np.asarray(images, np.uint8), "object")
    out = np.empty((len(crops), N_DIMS), np.float32)
    for i, c in enumerate(crops):
        g = Image.fromarray(c).convert("L").resize((HOG_SIDE, HOG_SIDE),
                                                   Image.Resampling.BILINEAR)
        out[i] = hog(np.asarray(g, np.float32) / 255.0, orientations=9,
                     pixels_per_cell=(6, 6), cells_per_block=(2, 2))
    return out


def run_shapes(run: Run, dataset=None, image_size: int | None = None,
               batch_size: int = 256) -> np.ndarray:
    """Shape descriptors of every sample of ``run``, float32 (n, 324), cached in the run.

    Parameters
    ----------
    run : Run
    dataset : ImageDataset, optional
        Default ``run.dataset()`` (pass it for runs made from in-memory arrays).
    image_size : int, optional
        Side the images are read at (default: native, at most 64).
    """
    from slicelens.errors import WorkspaceError
    from slicelens.store.atomic import save_npy
    from slicelens.utils import progress

    ids = run.samples["id"].to_numpy(str)
    if dataset is None:
        try:
            dataset = run.dataset()
        except WorkspaceError:  # images not readable again: a cached descriptor will do
            for name in run.artifact_names("attribute_cache"):
                if name.startswith("shape_") and name[6:].isdigit() and (
                        image_size is None or name == f"shape_{image_size}"):
                    cached = np.load(run.artifact_path("attribute_cache", name), mmap_mode="r")
                    if cached.shape == (len(ids), N_DIMS):
                        return cached
            raise
    rows = dataset.index_of(ids)
    size = image_size or min(64, dataset.load_uint8(rows[:1]).shape[1])
    path = run.artifact_path("attribute_cache", f"shape_{size}")
    if path.exists():
        cached = np.load(path, mmap_mode="r")
        if cached.shape == (len(ids), N_DIMS):
            return cached
    out = np.concatenate([shape_descriptors(dataset.load_uint8(rows[s:s + batch_size], size))
                          for s in progress(range(0, len(rows), batch_size),
                                            desc="shape descriptors")])
    save_npy(path, out)
    return out


#: UMAP is fitted on at most this many samples; the rest are placed by ``transform``
EMBED_FIT_MAX = 20_000
#: below this many samples, PCA instead of UMAP (its neighbour graph needs more)
UMAP_MIN_SAMPLES = 50


def fit_reduction(z: np.ndarray, dims: int, seed: int = 0, method: str = "umap"):
    """``(model, embedding)`` of ``z`` (n, d) in at most ``dims`` dimensions.

    UMAP (McInnes et al. 2018, ``n_neighbors=15, min_dist=0``) when ``method="umap"`` and
    there are at least ``UMAP_MIN_SAMPLES`` rows, else PCA; both models ``transform``
    new rows. The embedding has ``min(dims, d, n - 1)`` columns.
    """
    import warnings

    dims = max(1, min(dims, z.shape[1], len(z) - 1))
    if method == "umap" and len(z) >= UMAP_MIN_SAMPLES:
        import umap

        model = umap.UMAP(n_components=dims, n_neighbors=15, min_dist=0.0, random_state=seed)
    else:
        from sklearn.decomposition import PCA

        model = PCA(dims, random_state=seed)
    with warnings.catch_warnings():  # UMAP: "n_jobs overridden by random_state": wanted
        warnings.simplefilter("ignore", UserWarning)
        return model, model.fit_transform(z)


def run_shape_embedding(run: Run, dim: int = 8, seed: int = 0, dataset=None) -> np.ndarray:
    """UMAP embedding of the run's shape descriptors, standardised, float32 (n, dim),
    cached in the run (``attributes/shape_umap_<dim>_<seed>.npy``).

    UMAP (McInnes et al. 2018, ``n_neighbors=15, min_dist=0``) rather than PCA: a shape's
    neighbours lie on a curved manifold, as MNIST's digits do. Fitted on all samples (at
    most ``EMBED_FIT_MAX``, a seeded sample, the others placed by ``transform``); below
    ``UMAP_MIN_SAMPLES`` samples PCA, its missing dimensions zero.
    """
    from slicelens.store.atomic import save_npy

    n = len(run.samples)
    path = run.artifact_path("attribute_cache", f"shape_umap_{dim}_{seed}")
    if path.exists():
        cached = np.load(path)
        if cached.shape == (n, dim):
            return cached
    H = np.asarray(run_shapes(run, dataset), np.float32)
    H = (H - H.mean(0)) / (H.std(0) + 1e-6)
    if n <= dim + 2:
        from slicelens.errors import DataError

        raise DataError(f"run {run.id}: {n} samples are too few for a shape embedding")
    fit = (np.arange(n) if n <= EMBED_FIT_MAX else
           np.sort(np.random.default_rng(seed).choice(n, EMBED_FIT_MAX, replace=False)))
    model, emb = fit_reduction(H[fit], dim, seed)
    E = np.zeros((n, dim), np.float32)  # PCA of a small run leaves columns zero
    E[fit, :emb.shape[1]] = emb
    rest = np.setdiff1d(np.arange(n), fit)
    if len(rest):
        E[rest, :emb.shape[1]] = model.transform(H[rest])
    E = (E - E.mean(0)) / (E.std(0) + 1e-6)
    save_npy(path, E)
    return E
