"""One batch of extraction: everything stored for a batch, from one forward pass.

Shared by the local engine (:mod:`slicelens.extract.local_engine`) and the Ray engine's
model actors (:mod:`slicelens.extract.ray_engine`).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from slicelens.extract.methods import normalize_sum1


def extract_batch(adapter, method, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Everything extraction stores for one batch, from one forward pass.

    Parameters
    ----------
    images : Tensor, shape (b, 3, H, W), float in [0, 1]
    labels : Tensor of int64, shape (b,); -1 = unlabeled (loss NaN)

    Returns
    -------
    dict of ndarray
        ``logits``, ``probs`` (b, C); ``features``, ``fw`` (b, d) float32; ``maps``
        (b, m, k) float16 summing to 1; ``pred`` int64, ``confidence``, ``loss`` (b,).
    """
    with torch.set_grad_enabled(method.needs_grad):
        x = images.requires_grad_(True) if method.needs_grad else images
        A, logits = adapter.forward_parts(x)
        pred = logits.detach().argmax(dim=1)
        raw = method.attribute(adapter, A, logits, pred)
    # the rest in float32 even under autocast (bf16 / fp16 is for the forward pass only)
    with torch.no_grad(), torch.autocast(A.device.type, enabled=False):
        A, logits, raw = A.detach().float(), logits.detach().float(), raw.detach().float()
        probs = logits.softmax(dim=1)
        confidence = probs.gather(1, pred[:, None])[:, 0]
        labels = labels.to(logits.device)
        loss = F.cross_entropy(logits, labels.clamp(min=0), reduction="none")
        loss = torch.where(labels >= 0, loss, torch.full_like(loss, float("nan")))
        W = normalize_sum1(raw)
        fw = weighted_features(A, W)
        out = dict(logits=logits, probs=probs, features=A.mean(dim=(2, 3)), fw=fw,
                   maps=W.half(), pred=pred, confidence=confidence, loss=loss)
        return {k: v.cpu().numpy() for k, v in out.items()}


def autocast(device, precision: str):
    """``torch.autocast`` for ``bf16`` / ``fp16`` on ``device``; a no-op context for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def weighted_features(A: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Attribution-weighted feature vectors (AttributionScanner Sec. III-D(1), Eq. 1).

    ``F_W[n, :] = sum_{i,j} A[n, :, i, j] * W[n, i, j]``: a weighted average of the
    layer's feature vectors when each ``W[n]`` sums to 1 (uniform ``W`` gives ``F``).

    Parameters
    ----------
    A : Tensor, shape (n, d, m, k)
    W : Tensor, shape (n, m, k)

    Returns
    -------
    Tensor, shape (n, d)
    """
    return torch.einsum("ndij,nij->nd", A, W.to(A.dtype))
