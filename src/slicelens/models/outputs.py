"""What a model returns, and what a layer outputs, turned into the shapes slicelens uses.

* :func:`as_logits`: a tensor ``(n, C)``, a tuple or list (first element), a dict
  (``"logits"``, else its only tensor) or an object with ``.logits`` (transformers'
  ``ImageClassifierOutput``) become logits ``(n, C)``.
* :func:`token_grid`: a ViT-style token sequence ``(n, T, D)`` with ``T = p + s * s``
  (``p`` prefix tokens such as CLS) becomes a map ``(n, D, s, s)``, and
  :func:`grid_to_tokens` puts the map back, so a forward hook can route the model's
  computation *through* the map (gradients of the logits then reach it).
"""

from __future__ import annotations

import math

import torch

from slicelens.errors import ModelError

#: prefix tokens (CLS, distillation, registers) tried when reading a token sequence as a grid
MAX_PREFIX = 8


def as_logits(out) -> torch.Tensor:
    """Logits ``(n, C)`` from whatever a classifier's forward returns."""
    if isinstance(out, torch.Tensor):
        logits = out
    elif getattr(out, "logits", None) is not None and isinstance(out.logits, torch.Tensor):
        logits = out.logits
    elif isinstance(out, dict):
        if isinstance(out.get("logits"), torch.Tensor):
            logits = out["logits"]
        else:
            tensors = [v for v in out.values() if isinstance(v, torch.Tensor)]
            if len(tensors) != 1:
                raise ModelError(f"the model returns a dict with keys {sorted(out)}; slicelens "
                                 "needs a 'logits' entry (or a single tensor)")
            logits = tensors[0]
    elif isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        logits = out[0]
    else:
        raise ModelError(f"the model returns a {type(out).__name__}; slicelens needs logits "
                         "(n, C), or a tuple / dict / output object holding them first")
    if logits.dim() != 2:
        raise ModelError(f"the model's logits have shape {tuple(logits.shape)}; expected (n, C)")
    return logits


def first_tensor(out):
    """The tensor a layer outputs (first element of a tuple output), or None."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def grid_side(num_tokens: int) -> tuple[int, int] | None:
    """``(prefix, side)`` with ``num_tokens = prefix + side**2``, side > 1, or None."""
    for prefix in range(0, MAX_PREFIX + 1):
        side = math.isqrt(max(num_tokens - prefix, 0))
        if side > 1 and side * side == num_tokens - prefix:
            return prefix, side
    return None


def is_map(t) -> bool:
    """True for a spatial map ``(n, d, m, k)`` with ``m k > 1`` or a token grid ``(n, T, D)``."""
    if not isinstance(t, torch.Tensor):
        return False
    if t.dim() == 4:
        return t.shape[2] * t.shape[3] > 1
    return t.dim() == 3 and grid_side(t.shape[1]) is not None


def token_grid(tokens: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(A, prefix)``: tokens ``(n, T, D)`` as a map ``A`` of shape ``(n, D, s, s)``."""
    found = grid_side(tokens.shape[1])
    if found is None:
        raise ModelError(f"the layer outputs {tuple(tokens.shape)}: {tokens.shape[1]} tokens are "
                         "not a square grid (plus up to 8 prefix tokens)")
    prefix, side = found
    n, _, d = tokens.shape
    return tokens[:, prefix:].transpose(1, 2).reshape(n, d, side, side), prefix


def grid_to_tokens(tokens: torch.Tensor, A: torch.Tensor, prefix: int) -> torch.Tensor:
    """Inverse of :func:`token_grid`: the prefix tokens followed by ``A``'s cells, ``(n, T, D)``."""
    return torch.cat([tokens[:, :prefix], A.flatten(2).transpose(1, 2)], dim=1)


def replace_first(out, t: torch.Tensor):
    """``out`` (a tensor, tuple or list) with its first tensor replaced by ``t``."""
    return t if isinstance(out, torch.Tensor) else type(out)([t, *out[1:]])
