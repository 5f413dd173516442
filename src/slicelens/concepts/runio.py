"""Run-level helpers of AACA: images, saliency, embeddings, probabilities and concept
tags of a run's samples, and the C / V summary of its stored answers.

Used by :mod:`slicelens.repair.aaca` and :mod:`slicelens.pipeline.concepts`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class _Prepared(nn.Module):
    """The run's model on ``[0, 1]`` images (normalisation inside), logits out."""

    def __init__(self, adapter):
        super().__init__()
        self.ad = adapter
        self.net = adapter.module

    def forward(self, x):
        from slicelens.models.outputs import as_logits

        return as_logits(self.net(self.ad.prepare(x)))


def load_images(run: Run, ids) -> np.ndarray:
    """uint8 (n, S, S, 3) images of the run's samples at the model's input size."""
    ds = run.dataset()
    return ds.load_uint8(ds.index_of(list(ids)), run.record.input_size)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(images, copy=True)).permute(0, 3, 1, 2).float() / 255.0


def seed_saliency(run: Run, ids, *, passes: int = 8, p: float = 0.5, tau: float = 0.1,
                  steps: int = 16, baseline: float = 0.0, target: str = "pred", seed: int = 0):
    """IG saliency of the predicted (or true) class with MC-dropout variance
    (:func:`slicelens.concepts.saliency.mc_saliency`) on the run's model."""
    from slicelens.concepts.saliency import mc_saliency

    ad = run.adapter()
    if getattr(ad, "mode", "hook") != "hook":
        raise SliceLensError("MC-dropout saliency needs a model in hook mode (not a cut "
                             "TorchScript graph)")
    rows = run.samples.set_index("id").loc[list(ids)]
    tgt = rows["pred" if target == "pred" else "label"].to_numpy(int)
    x = to_tensor(load_images(run, ids))
    return mc_saliency(_Prepared(ad), x, torch.tensor(tgt), passes=passes, p=p, tau=tau,
                       layer=ad._layer, baseline=baseline, steps=steps, seed=seed)


def class_of_samples(run: Run) -> dict[str, str]:
    """Labelled sample id -> class name."""
    s = run.samples
    s = s[s["label"] >= 0]
    return dict(zip(s["id"].astype(str), (run.classes[i] for i in s["label"]), strict=True))


def concept_summary(workspace: Workspace, run: Run, gold=None, **kw) -> dict:
    """:func:`slicelens.concepts.quality.summarize` over the stored answers of ``run``;
    ``gold`` is a gold CSV path, a dict of GoldItems or None."""
    from slicelens.concepts.crowd import read_gold
    from slicelens.concepts.quality import summarize
    from slicelens.concepts.store import answers

    if isinstance(gold, str | Path):
        gold = read_gold(gold)
    got = answers(workspace, run)
    if not got:
        raise SliceLensError(f"run {run.id} has no concept answers yet: annotate "
                             "(slicelens concepts annotate) or import a crowd CSV")
    return summarize(got, gold, **kw)


def region_embeddings(run: Run, ids, maps: np.ndarray, share: float = 0.5) -> np.ndarray:
    """Pooled features (the explained layer, spatial mean) of each image restricted to
    its salient region (map >= ``share`` of its maximum; the rest set to the image mean):
    ``emb(c_j(s_n))`` of Eq. 1."""
    imgs = load_images(run, ids).astype(np.float32)
    m = maps / np.maximum(maps.max(axis=(1, 2), keepdims=True), 1e-12) >= share
    fill = imgs.mean(axis=(1, 2), keepdims=True)
    masked = np.where(m[..., None], imgs, fill).astype(np.uint8)
    return embed_images(run, masked)


def embed_images(run: Run, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Pooled features of uint8 images with the run's model."""
    ad = run.adapter()
    out = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            A, _ = ad.forward_parts(to_tensor(images[s:s + batch]))
            out.append(A.float().mean(dim=tuple(range(2, A.dim()))).numpy())
    return np.concatenate(out)


def probs_of(run: Run, images: np.ndarray, batch: int = 256) -> np.ndarray:
    ad = run.adapter()
    with torch.no_grad():
        return np.concatenate([torch.softmax(ad.logits(to_tensor(images[s:s + batch])), 1).numpy()
                               for s in range(0, len(images), batch)])


def concept_tags(run: Run, ids, labels) -> list[list[str]]:
    """Concept tagger: ``"<class>: <value> <attribute>"`` for every offline attribute
    value of each image (the run's attribute matrix). Concepts are paired with the class
    because a spurious correlation is a class x concept imbalance (over the whole set
    the demo's backgrounds are balanced; per class they are not)."""
    from slicelens.attributes.matrix import AttributeMatrix

    try:
        matrix = AttributeMatrix.load(run.path)
    except SliceLensError as e:
        raise SliceLensError(f"concept alignment tags images with the run's attributes: {e} "
                             "(slicelens attributes assign first)") from None
    codes, _ = matrix.codes(list(ids))
    attrs = matrix.attributes
    return [[f"{run.classes[int(lab)]}: {matrix.values[a][int(v)]} {a.replace('_', ' ')}"
             for a, v in zip(attrs, row, strict=True) if v >= 0]
            for row, lab in zip(codes, labels, strict=True)]



def salient_embeddings(run: Run, ids, share: float = 0.5, steps: int = 16) -> np.ndarray:
    """:func:`region_embeddings` of the integrated-gradients map (predicted class, one
    pass, no dropout) of each image: where the model looked when it decided."""
    from slicelens.concepts.saliency import integrated_gradients

    ids = list(ids)
    if not ids:
        return np.zeros((0, 0), np.float32)
    model = _Prepared(run.adapter())
    pred = run.samples.set_index("id").loc[ids, "pred"].to_numpy(int)
    a = integrated_gradients(model, to_tensor(load_images(run, ids)), torch.tensor(pred),
                             steps=steps)
    return region_embeddings(run, ids, a.detach().abs().sum(1).numpy(), share)
