"""Which layer to explain by default (see :class:`~slicelens.models.adapter.ModelAdapter`)."""

from __future__ import annotations

import torch
from torch import nn

from slicelens.errors import ModelError
from slicelens.models.outputs import first_tensor, is_map


def is_head_pool(m: nn.Module) -> bool:
    """An adaptive pooling module: the head's pooling (VGG's 7x7), not a layer to explain."""
    # an unflattened torch.export module: read its ops (a ScriptModule's .graph may raise)
    graph = None if isinstance(m, torch.jit.ScriptModule) else getattr(m, "graph", None)
    if isinstance(graph, torch.fx.Graph):
        ops = [str(n.target) for n in graph.nodes if n.op == "call_function"]
        return len(ops) == 1 and ops[0].startswith(("aten.adaptive_avg_pool2d", "aten.adaptive_max_pool2d"))
    name = getattr(m, "original_name", None) or type(m).__name__
    return name.startswith(("AdaptiveAvgPool", "AdaptiveMaxPool"))


def map_layers(module: nn.Module, x: torch.Tensor) -> list[str]:
    """Candidate layers to explain, best last, from one forward pass on ``x``.

    The outermost block that ends with the last spatial map (hooks fire child-before-
    parent), or, when token grids follow that map (a transformer), the blocks (elements
    of a ``ModuleList`` / ``Sequential``) that output them. Adaptive pooling is skipped.

    Parameters
    ----------
    module : nn.Module
    x : Tensor, shape (n, 3, H, W)
        A normalised probe batch.
    """
    order: list[tuple[str, int]] = []
    handles = []
    for name, m in module.named_modules():
        if not name:
            continue

        def rec(_m, _i, out, name=name):
            t = first_tensor(out)
            if is_map(t):  # a 1x1 map (after global pooling) has nothing to explain
                order.append((name, t.dim()))
        if not is_head_pool(m):
            handles.append(m.register_forward_hook(rec))
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    if not order:
        raise ModelError("the model has no layer with a 4-D output; name one with --layer")
    last4 = max((i for i, (_, d) in enumerate(order) if d == 4), default=-1)
    tokens = [name for name, _ in order[last4 + 1:]]
    if tokens:  # a transformer: elements of a block list (ModuleList / Sequential)
        return [n for n in tokens if n.rsplit(".", 1)[-1].isdigit()] or tokens
    # hooks fire child-before-parent, so the last map to finish is the outermost
    # block that ends with the last conv layer: a readable name for the same tensor.
    return [order[-1][0]]

