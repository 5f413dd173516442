"""Concept alignment: concept distributions of datasets and their Jensen-Shannon
divergence (AACA "Evaluation of Concept Alignment", Fig. 4).

A *concept tagger* gives every image a list of concepts (the paper uses YOLO11; offline,
slicelens uses the attribute values of the offline assigners, see
:func:`slicelens.pipeline.concepts.concept_tags`). The distribution of a dataset is the
share of each of the ``top`` most frequent validation concepts among all their
occurrences in that dataset (the paper: top 10 concepts of ``D_val'``).

**JSD, not its square root.** :func:`jsd` returns the divergence

    JS(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M),  M = (P + Q) / 2,

in bits (log base 2, so 0 <= JS <= 1). SciPy's ``scipy.spatial.distance.jensenshannon``
returns the Jensen-Shannon *distance*, the square root of this; it is squared here.

Example
-------
>>> round(jsd([1, 0], [0.5, 0.5]), 4)   # hand-computed in tests/test_concepts_core.py
0.3113
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from slicelens.errors import SliceLensError


def jsd(p, q, base: float = 2.0) -> float:
    """Jensen-Shannon divergence of two distributions (normalised here), in bits."""
    from scipy.spatial.distance import jensenshannon

    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape or p.ndim != 1 or p.sum() <= 0 or q.sum() <= 0:
        raise SliceLensError("JSD needs two non-empty distributions over the same concepts")
    return float(jensenshannon(p, q, base=base) ** 2)


def top_concepts(tags: list[list[str]], top: int = 10) -> list[str]:
    """The ``top`` most frequent concepts of a tagged dataset (ties by name)."""
    counts = Counter(c for t in tags for c in t)
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def distribution(tags: list[list[str]], concepts: list[str]) -> np.ndarray:
    """Share of each of ``concepts`` among their occurrences in ``tags`` (sums to 1; a
    dataset with none of them gives zeros)."""
    counts = Counter(c for t in tags for c in t)
    v = np.array([counts.get(c, 0) for c in concepts], np.float64)
    return v / v.sum() if v.sum() > 0 else v


def alignment(val: list[list[str]], init: list[list[str]], aug: list[list[str]] | None = None,
              top: int = 10) -> dict:
    """Distributions of validation, initial and augmented training over the top
    validation concepts, and JS(init || val), JS(aug || val) with the relative fall."""
    concepts = top_concepts(val, top)
    if not concepts:
        raise SliceLensError("the validation set has no tagged concepts")
    dv, di = distribution(val, concepts), distribution(init, concepts)
    out = {"concepts": concepts, "val": dv.tolist(), "init": di.tolist(),
           "jsd_init_val": jsd(di, dv) if di.sum() else None, "jsd": "divergence, bits"}
    if aug is not None:
        da = distribution(aug, concepts)
        out["aug"] = da.tolist()
        out["jsd_aug_val"] = jsd(da, dv) if da.sum() else None
        if out["jsd_init_val"] and out["jsd_aug_val"] is not None:
            out["jsd_fall"] = 1 - out["jsd_aug_val"] / out["jsd_init_val"]
    return out


def bar_chart(report: dict, path) -> Path:
    """Grouped bars of the concept shares (validation, initial, augmented), like Fig. 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    concepts = report["concepts"]
    sets = [(k, n) for k, n in (("val", "validation"), ("init", "initial training"),
                                ("aug", "augmented training")) if k in report]
    x = np.arange(len(concepts))
    w = 0.8 / len(sets)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(concepts) + 2), 3.6))
    for i, (k, name) in enumerate(sets):
        jk = {"init": "jsd_init_val", "aug": "jsd_aug_val"}.get(k)
        lab = name if jk is None or report.get(jk) is None else f"{name} (JS {report[jk]:.3f})"
        ax.bar(x + (i - (len(sets) - 1) / 2) * w, report[k], w, label=lab)
    ax.set_xticks(x, concepts, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("concept ratio")
    ax.set_title("Concept distributions (JS divergence to validation, bits)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
