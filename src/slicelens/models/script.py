"""Reach a layer's output inside a TorchScript model by graph surgery.

Forward hooks do not run in TorchScript, and a forward is rarely a plain chain of
children (ResNet flattens between pooling and ``fc``; DenseNet applies ``F.relu`` in
``forward``). So the scripted ``forward`` graph itself is cut at the call of the
explained sub-module::

    body(x) = the graph up to   %A = prim::CallMethod[name="forward"](%layer, ...)
    tail(x, A) = the graph with %A replaced by a new input, the body's calls removed

A nested layer (``layer4.1``) is cut inside its parent's graph the same way, and the
parent's call is replaced by the cut parent.

Both are compiled from the model's own graph, so whatever the forward does between the
layer and the logits (``torch.flatten``, ``view``, functional ops, tuple outputs) runs
unchanged. ``A`` enters ``tail`` as an input, so ``d logits / d A`` is an ordinary
autograd gradient (GradCAM works), which an extra graph output would not guarantee once
the profiling executor fuses the graph.

Example
-------
>>> ts = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))  # doctest: +SKIP
>>> body, tail = split_script(ts, "0")                                 # doctest: +SKIP
>>> A, ctx = body(torch.rand(2, 3, 8, 8)); tail(ctx, A).shape          # doctest: +SKIP
torch.Size([2, 4, 6, 6])
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from slicelens.errors import ModelError


def _module_path(value, self_value) -> str | None:
    """``"a.b"`` when ``value`` is ``self.a.b`` (a chain of ``prim::GetAttr``), else None."""
    names = []
    while value is not self_value:
        node = value.node()
        if node.kind() != "prim::GetAttr":
            return None
        names.append(node.s("name"))
        value = node.inputsAt(0)
    return ".".join(reversed(names))


def module_calls(graph) -> list[tuple[str, object]]:
    """``(path, output value)`` of every sub-module ``forward`` called at the top level.

    Parameters
    ----------
    graph : torch._C.Graph
        A ``forward`` graph whose first input is ``self``.
    """
    self_value = next(iter(graph.inputs()))
    out = []
    for node in graph.nodes():
        if node.kind() != "prim::CallMethod" or node.s("name") != "forward":
            continue
        path = _module_path(node.inputsAt(0), self_value)
        if path and node.outputsSize() == 1:
            out.append((path, node.output()))
    return out


def _find(graph, layer: str):
    for path, value in module_calls(graph):
        if path == layer:
            return value
    return None


def _no_call(module, layer: str) -> ModelError:
    names = [p for p, _ in module_calls(module.forward.graph)]
    return ModelError(f"the TorchScript forward does not call a module named {layer!r}; with "
                      "TorchScript, --layer names a module its forward calls, or one inside "
                      f"it: {', '.join(names)}")


def _prune(graph) -> None:
    """Drop nodes whose results are unused (``dce`` keeps ``CallMethod``: it may mutate)."""
    changed = True
    while changed:
        changed = False
        for node in reversed(list(graph.nodes())):
            if node.outputsSize() and not any(o.uses() for o in node.outputs()) and \
                    node.kind() in ("prim::CallMethod", "prim::GetAttr"):
                node.destroy()
                changed = True
        torch._C._jit_pass_dce(graph)


def _compile(module, graph, name: str) -> Callable:
    fn = torch._C._create_function_from_graph(name, graph)
    return lambda *args: fn(module._c, *args)


def _cut(module, layer: str) -> tuple[Callable, Callable, Callable]:
    """``(args, body, tail)`` of ``forward`` cut at the call of ``layer``.

    ``args(*inputs)`` is the tuple of the call's arguments, ``body(*inputs)`` its output,
    ``tail(*inputs, out)`` the forward's output given the call's output.
    """
    g_body = module.forward.graph.copy()
    value = _find(g_body, layer)
    ret = g_body.return_node()
    ret.replaceInputWith(ret.inputsAt(0), value)
    # drop everything after the call: an in-place op there (DenseNet's relu_) would change A
    nodes = list(g_body.nodes())
    call = nodes.index(value.node())
    for node in reversed(nodes[call + 1:]):
        node.destroy()
    g_args = g_body.copy()
    _prune(g_body)

    call_node = list(g_args.nodes())[call]
    args = list(call_node.inputs())[1:]
    tup = g_args.create("prim::TupleConstruct", args)
    tup.insertBefore(g_args.return_node())
    tup.output().setType(torch._C.TupleType([v.type() for v in args]))
    g_args.return_node().replaceInputWith(g_args.return_node().inputsAt(0), tup.output())
    _prune(g_args)

    g_tail = module.forward.graph.copy()
    value = _find(g_tail, layer)
    a = g_tail.addInput("A")
    a.setType(value.type())
    value.replaceAllUsesWith(a)
    _prune(g_tail)
    return (_compile(module, g_args, "slicelens_args"), _compile(module, g_body, "slicelens_body"),
            _compile(module, g_tail, "slicelens_tail"))


def split_script(module, layer: str) -> tuple[Callable, Callable]:
    """``(body, tail)`` with ``tail(*body(x)[::-1]) == module(x)``; ``body(x)[0]`` is the layer's output.

    A layer that ``forward`` calls directly is cut out of its graph; a nested one
    (``layer4.1``, ``vit.encoder.layer.0``) is cut out of its parent's graph, recursively,
    the parent's own call being replaced by the cut parent.

    Parameters
    ----------
    module : torch.jit.ScriptModule
    layer : str
        Dotted path of a sub-module the forward calls, directly or through its parents.

    Returns
    -------
    body : callable, ``x -> (A, ctx)``
    tail : callable, ``(ctx, A) -> output``
    """
    graph = module.forward.graph
    if _find(graph, layer) is not None:
        _, body, tail = _cut(module, layer)
        return (lambda *inputs: (body(*inputs), inputs)), (lambda ctx, A: tail(*ctx, A))
    parents = [p for p, _ in module_calls(graph) if layer.startswith(p + ".")]
    if not parents:
        raise _no_call(module, layer)
    parent = max(parents, key=len)
    sub = module
    for name in parent.split("."):
        sub = getattr(sub, name)
    try:
        inner_body, inner_tail = split_script(sub, layer[len(parent) + 1:])
    except ModelError:
        raise _no_call(module, layer) from None
    args, _, tail = _cut(module, parent)

    def nested_body(*inputs):
        A, ctx = inner_body(*args(*inputs))
        return A, (inputs, ctx)

    def outer_tail(ctx, A):
        inputs, inner = ctx
        return tail(*inputs, inner_tail(inner, A))

    return nested_body, outer_tail


def nested_calls(module, path: str) -> list[str]:
    """Dotted paths of the sub-module calls made by ``path``'s own forward (one level)."""
    sub = module
    for name in path.split("."):
        sub = getattr(sub, name)
    try:
        graph = sub.forward.graph
    except RuntimeError:  # a container without forward (ModuleList)
        return []
    return [f"{path}.{p}" for p, _ in module_calls(graph)]


def call_outputs(module, x: torch.Tensor) -> list[tuple[str, object]]:
    """``(path, output)`` of every top-level sub-module call of ``module.forward`` on ``x``.

    Used on a probe batch to find the last module producing a spatial map.
    """
    graph = module.forward.graph.copy()
    calls = module_calls(graph)
    if not calls:
        return []
    ret = graph.return_node()
    tup = graph.create("prim::TupleConstruct", [v for _, v in calls])
    tup.insertBefore(ret)
    tup.output().setType(torch._C.TupleType([v.type() for _, v in calls]))  # type: ignore[attr-defined]  # torch._C.Value is untyped
    ret.replaceInputWith(ret.inputsAt(0), tup.output())
    outs = _compile(module, graph, "slicelens_probe")(x)
    return [(path, out) for (path, _), out in zip(calls, outs, strict=True)]
