"""The training split a :class:`~slicelens.repair.plan.TrainingPlan` asks for.

Used by ``slicelens.pipeline.retrain.apply_plan`` (which re-exports it) and by strategies
that train inside ``plan`` (JTT's identification model), so the part does not import
:mod:`slicelens.pipeline`.
"""

from __future__ import annotations

import numpy as np

from slicelens.data.loader import load_images
from slicelens.errors import SliceLensError


def training_set(dataset, plan, size: int):
    """The modified training split a plan asks for.

    Returns
    -------
    x : uint8 Tensor (n, 3, size, size)
    y : long Tensor (n,)
    w : float Tensor (n,)
    ids : ndarray of str (n,)
        Sample ids (``"extra-<i>"`` for extra images).
    """
    import torch

    from slicelens.data.images import resize_rgb
    from slicelens.repair.plan import load_extra_images

    tr = dataset.split_indices("train")
    tr = tr[dataset.labels[tr] >= 0]
    known = set(dataset.ids[tr])
    unknown = [i for i in list(plan.remove) + list(plan.relabel) + list(plan.weights) if i not in known]
    if unknown:
        raise SliceLensError(f"plan names {len(unknown)} ids that are not labelled training "
                             f"samples, e.g. {unknown[0]!r}")
    drop = set(plan.remove)
    idx = np.array([i for i in tr if dataset.ids[i] not in drop], dtype=np.int64)
    ids = dataset.ids[idx]
    labels = dataset.labels[idx].copy()
    for j, sid in enumerate(ids):
        if sid in plan.relabel:
            labels[j] = int(plan.relabel[sid])
    weights = np.array([float(plan.weights.get(s, 1.0)) for s in ids], dtype=np.float32)
    if plan.add:
        add_idx = dataset.index_of(list(plan.add))
        not_pool = [dataset.ids[i] for i in add_idx if dataset.splits[i] == "train"]
        if not_pool:
            raise SliceLensError(f"plan adds {not_pool[0]!r}, which is already a training sample")
        idx = np.concatenate([idx, add_idx])
        ids = np.concatenate([ids, dataset.ids[add_idx]])
        labels = np.concatenate([labels, np.array(list(plan.add.values()), dtype=np.int64)])
        weights = np.concatenate([weights, np.ones(len(add_idx), np.float32)])
    if ((labels < 0) | (labels >= len(dataset.classes))).any():
        raise SliceLensError("plan relabels or adds a label outside the classes (field 'relabel'/'add')")
    imgs = load_images(dataset, idx, size, uint8=True)
    if plan.extra_images:
        ex, ey = load_extra_images(plan.extra_images)
        if ex.shape[1:3] != (size, size):
            ex = np.stack([resize_rgb(im, size) for im in ex])
        imgs = np.concatenate([imgs, ex])
        labels = np.concatenate([labels, ey])
        weights = np.concatenate([weights, np.ones(len(ey), np.float32)])
        ids = np.concatenate([ids, np.array([f"extra-{i}" for i in range(len(ey))])])
    x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2)
    return x, torch.from_numpy(labels), torch.from_numpy(weights), ids
