"""Attributes from clusters per class, named once per cluster.

An offline tagger for what image statistics cannot say (which digit, which kind of
object): within each class, one descriptor per sample is standardised, reduced to a few
dimensions and split by K-Means into ``n_clusters`` clusters. Each cluster is one value
of the attribute, with the default name ``"cluster 3 of class 5-9"`` until a person (or
a language model) names it once, by looking at its images - not one image at a time as
HiBug's VQA step does (Sec. 3.1). Clusters given the same name merge into one value.

The descriptor is the attribute's ``measure``:

- ``fw`` (default): the model's attribution-weighted features ``F_W`` (AttributionScanner
  Eq. 1-2), or ``features``, the plain pooled features ``F``. They group what the model
  sees alike, which is not always what a person would name: on the planted-bug demo
  these clusters are only 40-50% one digit.
- ``shape``: a model-independent descriptor of the object's form, the histogram of
  oriented gradients (Dalal & Triggs 2005; scikit-image's ``hog``) of the foreground's
  bounding box (:func:`slicelens.attributes.assign_stats.foreground`, the same object the
  image statistics measure) in grey, resized to ``24 x 24`` so that size and position
  drop out. Reduced by UMAP (McInnes et al. 2018) rather than PCA, since a shape's
  neighbours lie on a curved manifold, as MNIST's do; more clusters per class (20),
  since a class holds several kinds of object and a person names each cluster anyway.

``embed`` chooses the reduction (``auto``: PCA for feature arrays, UMAP for ``shape``).

The class of a sample is its label, or its prediction when it has none (pool). The
score of an assignment is ``1 - d1 / d2`` (nearest against second-nearest centre).
The fit is deterministic (``seed``), so a naming file keeps naming the same clusters
while the run and the parameters stay the same.

Files (under ``<run>/attributes/``): ``clusters.parquet`` (``id, attribute, key,
score``: the cluster of every sample; what names are applied to) and
``cluster_names.json`` (``{attribute: {key: name}}``, see
:mod:`slicelens.attributes.cluster_names`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from slicelens.attributes.base import Attribute, Backend, register_assigner
from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.attributes.shape import (  # shape_descriptors: re-exported
    UMAP_MIN_SAMPLES,
    fit_reduction,
    shape_descriptors,  # noqa: F401
)
from slicelens.store.artifacts import artifact_path

if TYPE_CHECKING:
    from slicelens.store.run import Run

ARRAYS = ("fw", "features")
#: model-independent image descriptors (need the images, not a run array)
IMAGE_MEASURES = ("shape",)
MEASURES = (*ARRAYS, *IMAGE_MEASURES)
#: clusters per class when ``n_clusters`` is not given
DEFAULT_CLUSTERS = {"fw": 6, "features": 6, "shape": 20}
DEFAULT_NAME = re.compile(r"^cluster \d+ of class .+$")
UMAP_DIMS = 8  # UMAP keeps at most this many dimensions


def default_name(j: int, cls: str) -> str:
    """The name of cluster ``j`` (0-based) of class ``cls`` until someone names it."""
    return f"cluster {j + 1} of class {cls}"


def is_default_name(value: str) -> bool:
    """True for a cluster nobody named yet (its words say nothing about the images)."""
    return bool(DEFAULT_NAME.match(str(value)))


def clusters_path(run_dir) -> Path:
    return artifact_path(run_dir, "attribute_clusters")


def names_path(run_dir) -> Path:
    return artifact_path(run_dir, "cluster_names")


def load_names(run_dir) -> dict[str, dict[str, str]]:
    """The run's stored cluster names ``{attribute: {key: name}}`` (``{}`` when none)."""
    import json

    p = names_path(run_dir)
    return json.loads(p.read_text()) if p.exists() else {}


def cluster_within_classes(x: np.ndarray, classes: np.ndarray, class_names: list[str],
                           n_clusters: int, pca: int = 16, seed: int = 0,
                           embed: str = "pca") -> tuple[np.ndarray, np.ndarray]:
    """K-Means clusters of ``x`` (n, d) within each class; (keys, scores), both (n,).

    ``x`` is standardised per class and reduced to at most ``pca`` dimensions by
    ``embed`` (``"pca"`` or ``"umap"``, at most ``UMAP_DIMS``) before K-Means.

    Examples
    --------
    >>> x = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 9]
    >>> keys, _ = cluster_within_classes(x, np.zeros(10, int), ["a"], 2)
    >>> sorted(set(keys.tolist()))
    ['cluster 1 of class a', 'cluster 2 of class a']
    """
    from sklearn.cluster import KMeans

    if embed not in ("pca", "umap"):
        raise ValueError(f"embed must be 'pca' or 'umap', not {embed!r}")
    keys = np.empty(len(x), dtype=object)
    scores = np.ones(len(x))
    for c in np.unique(classes):
        rows = np.flatnonzero(classes == c)
        k = max(1, min(n_clusters, len(rows)))
        z = np.asarray(x[rows], np.float64)
        z = (z - z.mean(0)) / (z.std(0) + 1e-8)
        if len(rows) > 1:  # UMAP keeps at most UMAP_DIMS; PCA (also UMAP's fallback) pca
            umap_ok = embed == "umap" and len(rows) >= UMAP_MIN_SAMPLES
            z = fit_reduction(z, min(pca, UMAP_DIMS) if umap_ok else pca, seed, embed)[1]
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
        # clusters numbered by size, largest first, so "cluster 1" is the class's bulk
        order = np.argsort(-np.bincount(km.labels_, minlength=k), kind="stable")
        rank = np.empty(k, int)
        rank[order] = np.arange(k)
        keys[rows] = [default_name(int(rank[j]), class_names[int(c)]) for j in km.labels_]
        if k > 1:
            d = np.sort(km.transform(z), 1)
            scores[rows] = 1 - d[:, 0] / np.maximum(d[:, 1], 1e-12)
    return keys.astype(str), scores


@register_assigner("clusters")
class ClusterAssigner(Backend):
    """Clusters per class of the model's explained features or of the object's shape,
    named once per cluster."""

    requires = ("fw",)

    p: Params  # the validated parameters (set in __init__)

    class Params(BaseModel):
        n_clusters: int | None = Field(
            None, ge=1, le=50,
            description="clusters per class (default: 6 for feature arrays, 20 for shape)")
        pca: int = Field(16, ge=1, description="dimensions kept before K-Means (PCA; UMAP "
                                              f"keeps at most {UMAP_DIMS})")
        embed: Literal["auto", "pca", "umap"] = Field(
            "auto", description="reduction before K-Means (auto: PCA for features, UMAP "
                                "for shape)")
        image_size: int | None = Field(
            None, ge=8, le=1024,
            description="shape: side the images are read at (default: native, at most 64)")
        batch_size: int = Field(256, ge=1, description="shape: images per batch")
        seed: int = Field(0, description="K-Means (and UMAP) seed")

    def supports(self, attribute: Attribute) -> bool:
        return attribute.backend == "clusters" and (attribute.measure or "fw") in MEASURES

    def assign(self, run: Run, attributes: list[Attribute], dataset, rows: np.ndarray) -> AttributeMatrix:
        """Cluster, store the keys (``clusters.parquet``) and apply the stored names."""
        self.check_supported(attributes, MEASURES, "cluster")
        samples = run.samples.iloc[rows]
        label = samples["label"].to_numpy(np.int64)
        # unlabelled samples (pool) go by their prediction; a view without predictions
        # (concept alignment's retagging of generated images) has labels for all
        pred = samples["pred"].to_numpy(np.int64) if "pred" in samples else label
        cls = np.where(label >= 0, label, pred)
        ids = samples["id"].to_numpy(str)
        done: dict[str, tuple] = {}
        tables = []
        for a in attributes:
            measure = a.measure or "fw"
            if measure not in done:  # attributes on the same descriptor share their clusters
                x = (self._shapes(run, dataset, rows) if measure in IMAGE_MEASURES
                     else np.asarray(run.array(measure)[rows], np.float32))
                embed = self.p.embed if self.p.embed != "auto" else (
                    "umap" if measure in IMAGE_MEASURES else "pca")
                done[measure] = cluster_within_classes(
                    x, cls, run.classes, self.p.n_clusters or DEFAULT_CLUSTERS[measure],
                    self.p.pca, self.p.seed, embed)
            keys, scores = done[measure]
            tables.append(pd.DataFrame({"id": ids, "attribute": a.name, "key": keys,
                                        "score": scores}))
        table = pd.concat(tables, ignore_index=True)
        from slicelens.atomic import write_parquet

        write_parquet(clusters_path(run.path), table)
        return matrix_from_keys(table, load_names(run.path))

    def _shapes(self, run: Run, dataset, rows: np.ndarray) -> np.ndarray:
        from slicelens.attributes.shape import run_shapes

        return np.asarray(run_shapes(run, dataset, self.p.image_size, self.p.batch_size)[rows])


def matrix_from_keys(table: pd.DataFrame, names: dict[str, dict[str, str]]) -> AttributeMatrix:
    """The attribute matrix of cluster keys ``table`` (``id, attribute, key, score``) with
    each key replaced by its name (``names[attribute][key]``; unnamed keys stay)."""
    parts = []
    for a, t in table.groupby("attribute", sort=False):
        given = names.get(str(a), {})
        keys = t["key"].astype(str).to_numpy()
        named = np.array([given.get(k) or k for k in keys], dtype=object)
        order = sorted(set(keys), key=key_order)
        values = list(dict.fromkeys(given.get(k) or k for k in order))
        code = pd.Index(values).get_indexer(named)
        parts.append(from_codes(t["id"].to_numpy(str), str(a), values, code,
                                t["score"].to_numpy(float)))
    return AttributeMatrix.concat(parts)


def key_order(key: str):
    """Sort key of cluster keys: by class, then cluster number (2 before 10)."""
    m = re.match(r"^cluster (\d+) of class (.+)$", key)
    return (m.group(2), int(m.group(1))) if m else (key, 0)
