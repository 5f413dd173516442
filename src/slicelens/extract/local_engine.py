"""The local engine: batches from the shared data pipeline
(:class:`slicelens.data.loader.BatchLoader`: decoding workers, prefetch), one forward pass
each, one chunk file per chunk of rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slicelens.data.loader import BatchLoader, batches
from slicelens.extract.batch import extract_batch
from slicelens.store.atomic import save_npz

CHUNK_KEYS = ("logits", "probs", "features", "fw", "maps", "pred", "confidence", "loss")


def run_chunks_local(dataset, adapter, method, todo, chunk_dir: Path, cfg, size, check, saved,
                      bar) -> None:
    """Compute the chunks ``todo`` (``(c, lo, hi)`` row ranges) in this process; ``check``
    sees each batch's outputs, ``saved`` is called after each chunk file is written."""
    plan = [(c, hi, idx) for c, lo, hi in todo for idx in batches(hi, cfg.batch_size, start=lo)]
    loader = BatchLoader(dataset, [idx for _, _, idx in plan], size=size, workers=cfg.workers,
                         device=adapter.device)
    parts: list[dict] = []
    for (c, hi, _), (images, idx) in zip(plan, loader, strict=True):
        parts.append(extract_batch(adapter, method, images, torch.from_numpy(dataset.labels[idx])))
        check(parts[-1], dataset.ids[idx])
        bar.update(1)
        if idx[-1] + 1 == hi:  # the chunk's last batch: write it
            save_npz(chunk_dir / f"chunk-{c:05d}.npz",
                     **{k: np.concatenate([p[k] for p in parts]) for k in CHUNK_KEYS})
            parts = []
            saved()
