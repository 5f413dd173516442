"""Carry out a head-only plan (DFR): refit the pooled-linear head on stored features.

The base run already holds every sample's pooled features (``features``, the head's
input in eval mode, verified numerically by the model adapter), so the refit needs no
forward pass: :func:`slicelens.models.head.fit_linear_head` fits a logistic regression
per regularisation strength on the plan's ``head_data`` and keeps the one whose worst
pseudo-group (or plain) accuracy on the plan's validation samples is best. The result
is written into the model's own linear layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from slicelens.errors import ModelError, SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run


def refit_head(base_run: Run, plan, spec, classes, seed: int = 0):
    """The base run's model with its head refitted as ``plan`` says.

    Returns
    -------
    module : nn.Module
        The base model (its weights) with the new head.
    info : dict
        ``C``, ``selection_score``, ``scores`` (per C), ``n_head``, ``n_val``.
    """
    import torch

    from slicelens.models import load_model
    from slicelens.models.head import fit_linear_head

    adapter = load_model(**spec.model_dump(), classes=classes)
    if adapter.head is None:
        raise ModelError("a last-layer refit (DFR) needs a pooled-linear head (global average "
                         "pooling then one linear layer); this model has none - use a "
                         "strategy that retrains the whole model")
    s = base_run.samples
    sid = s["id"].to_numpy(str)
    labels, split = s["label"].to_numpy(np.int64), s["split"].to_numpy(str)
    feats = np.asarray(base_run.array("features"), np.float32)
    if plan.head_data:
        pos = _positions(sid, list(plan.head_data))
        w = np.array(list(plan.head_data.values()), np.float64)
    else:   # the control: the unchanged training split, weight 1
        pos = np.flatnonzero((split == "train") & (labels >= 0))
        w = np.ones(len(pos))
    if (labels[pos] < 0).any():
        raise SliceLensError("a head-only plan names unlabelled samples (field 'head_data')")
    vpos = np.flatnonzero((split == "val") & (labels >= 0))
    if plan.val_ids is not None:
        vpos = _positions(sid, plan.val_ids)
    vpos = np.setdiff1d(vpos, pos)
    if not len(vpos):
        raise SliceLensError("no validation samples left to choose the head's regularisation")
    vgroups = (np.array([plan.groups.get(i, -1) for i in sid[vpos]])
               if plan.select_by == "worst_group" else None)
    fit = fit_linear_head(feats[pos], labels[pos], w, feats[vpos], labels[vpos], vgroups,
                          n_classes=len(classes), seed=seed,
                          powers=tuple(plan.head_powers) if plan.head_data else (1.0,))
    module = adapter.module
    linear = dict(module.named_modules())[adapter.head.name]
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(fit.weight))
        if linear.bias is not None:
            linear.bias.copy_(torch.from_numpy(fit.bias))
        elif np.abs(fit.bias).max() > 0:
            raise ModelError(f"the head {adapter.head.name!r} has no bias; DFR needs one")
    module.eval()
    return module, {"C": fit.C, "power": fit.power, "selection_score": fit.val_score, "select_by": plan.select_by,
                    "scores": {str(k): v for k, v in fit.scores.items()},
                    "n_head": int(len(pos)), "n_val": int(len(vpos))}


def _positions(all_ids: np.ndarray, wanted) -> np.ndarray:
    index = {s: i for i, s in enumerate(all_ids)}
    missing = [w for w in wanted if w not in index]
    if missing:
        raise SliceLensError(f"plan names {len(missing)} ids the run does not have, e.g. "
                             f"{missing[0]!r}")
    return np.array([index[w] for w in wanted], dtype=np.int64)
