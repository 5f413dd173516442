"""Attribute value proposal from representative images (HiBug Sec. 3.1).

HiBug avoids asking the VQA model about every image: it clusters BLIP image features,
takes representative images, asks "What is the <attribute> of the <object> in the
image?" (Eq. 1) about them only and pools the answers into ``V(a)``. slicelens does the
same with:

- embeddings: the run's pooled features ``F`` (default; the model's own view) or
  ImageNet probabilities of EfficientNet-Lite0 (``embedding="imagenet"``);
- representatives: K-Means with ``n_clusters`` centres, the ``per_cluster`` samples
  nearest each centre;
- answers: a tagger from ``TAGGERS`` (``imagenet`` offline; ``vqa`` = BLIP when its
  weights are on disk);
- synonyms merged by MiniLM cosine similarity (:func:`text.merge_synonyms`), then the
  ``max_values`` most frequent answers kept.

Example
-------
>>> spec = propose_values(run, spec, dataset)   # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from slicelens.attributes.base import TAGGERS, AttributeSpec, get_backend
from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run

NEEDS_VALUES = ("imagenet", "clip", "vqa")


def representative_rows(emb: np.ndarray, n_clusters: int, per_cluster: int = 1,
                        seed: int = 0) -> np.ndarray:
    """Rows of ``emb`` (n, d) nearest the K-Means centres, ``per_cluster`` per centre.

    Returns int array, at most ``n_clusters * per_cluster`` distinct rows, cluster order.
    """
    from sklearn.cluster import KMeans

    emb = np.asarray(emb, np.float64)
    k = min(n_clusters, len(emb))
    if k < 1:
        raise SliceLensError("no samples to pick representative images from")
    z = (emb - emb.mean(0)) / (emb.std(0) + 1e-8)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(z)
    d = km.transform(z)  # (n, k) distances to the centres
    rows: list[int] = []
    for c in range(k):
        members = np.flatnonzero(km.labels_ == c)
        rows += members[np.argsort(d[members, c])[:per_cluster]].tolist()
    return np.asarray(list(dict.fromkeys(rows)), np.int64)


def pool_answers(answers: list[list[str]], max_values: int, threshold: float) -> list[str]:
    """Merge synonymous answers and keep the ``max_values`` most frequent.

    Parameters
    ----------
    answers : one list of candidate values per representative image

    Examples
    --------
    >>> pool_answers([["grass"], ["Grass"], ["brick"]], 5, 0.99)  # doctest: +SKIP
    ['grass', 'brick']
    """
    from slicelens.attributes.text import merge_synonyms

    counts = Counter(a for ans in answers for a in ans)
    words = [w for w, _ in counts.most_common()]
    rep = merge_synonyms(words, threshold)
    merged: Counter = Counter()
    for w, c in counts.items():
        merged[rep[w]] += c
    return [w for w, _ in merged.most_common(max_values)]


def propose_values(run: Run, spec: AttributeSpec, dataset, *, tagger: str = "imagenet",
                   embedding: str = "features", split: str | None = "val",
                   n_clusters: int = 16, per_cluster: int = 2, max_values: int = 8,
                   merge_threshold: float = 0.75, seed: int = 0, overwrite: bool = False,
                   **tagger_params) -> AttributeSpec:
    """Fill the values of the attributes that a zero-shot backend will assign.

    Parameters
    ----------
    run : Run
    spec : AttributeSpec
        Attributes with empty ``values`` and a backend in ``NEEDS_VALUES`` (or every such
        attribute when ``overwrite``) get values; others are left alone.
    dataset : ImageDataset
        The run's dataset (images of the representatives).
    split : str or None
        Pick representatives from this split (None = all samples).

    Returns
    -------
    AttributeSpec, a new object (``spec`` is not modified).
    """
    import copy

    out = copy.deepcopy(spec)
    todo = [a for a in out.attributes
            if (a.backend or "imagenet") in NEEDS_VALUES and (overwrite or not a.values)]
    if not todo:
        return out
    samples = run.samples
    rows = np.flatnonzero(samples["split"].to_numpy(str) == split) if split else \
        np.arange(len(samples))
    if embedding == "imagenet":
        from slicelens.attributes.assign_imagenet import run_imagenet_probs

        emb = np.asarray(run_imagenet_probs(run, dataset)[rows], np.float32)
    else:
        emb = np.asarray(run.array("features")[rows], np.float32)
    reps = rows[representative_rows(emb, n_clusters, per_cluster, seed)]
    images = dataset.load_uint8(dataset.index_of(samples["id"].to_numpy(str)[reps]))
    tag = get_backend(TAGGERS, tagger, **tagger_params)
    for a in todo:
        a.values = pool_answers(tag.tag(images, a, out.object), max_values, merge_threshold)
    return out
