"""One small adapter between a user's model and every slicelens stage.

The adapter exposes what the stages need and nothing else (the captum /
pytorch-grad-cam template): the activation ``A`` of the layer to explain, the logits,
and - when the model ends in global average pooling + linear - the head's weights,
which give GradCAM in closed form (no backward pass).

Two ways to reach ``A`` inside a model, whatever its forward does:

* a forward hook on a named sub-module (``nn.Module`` and unflattened ``torch.export``
  programs); a ViT-style token output ``(n, T, D)`` is rerouted through its grid
  ``(n, D, s, s)`` (:mod:`slicelens.models.outputs`), so gradients reach the grid;
* a cut of the TorchScript ``forward`` graph at the layer's call
  (:mod:`slicelens.models.script`): ``body(x) = A``, ``tail(x, A) = output``. The cut is
  verified numerically against the model's own forward.

The model's output may be a tensor, a tuple, a dict or a transformers output object
(:func:`~slicelens.models.outputs.as_logits`). Whether the head is "pooled-linear" is not
guessed from names or module order: every ``(C, d)`` linear weight is checked on a probe
batch, ``logits == mean_hw(A) @ W.T + b`` within tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from slicelens.errors import ModelError
from slicelens.models.layers import is_head_pool, map_layers
from slicelens.models.normalize import Normalize, canonical, parse_normalize
from slicelens.models.outputs import (
    as_logits,
    first_tensor,
    grid_to_tokens,
    is_map,
    replace_first,
    token_grid,
)
from slicelens.models.script import call_outputs, nested_calls, split_script


@dataclass
class LinearHead:
    """Weights of a pooled-linear head: ``logits = F @ weight.T + bias``.

    weight : Tensor, shape (C, d); bias : Tensor, shape (C,)
    """

    weight: torch.Tensor
    bias: torch.Tensor
    name: str = ""


class ModelAdapter:
    """A classifier seen through the interface slicelens needs.

    Parameters
    ----------
    module : nn.Module or torch.jit.ScriptModule
        The classifier; takes images ``(n, 3, H, W)`` and returns logits ``(n, C)``.
    classes : sequence of str
        Class names in the model's output order.
    input_size : int
        Square input side in pixels.
    layer : str, optional
        Name (``named_modules`` path) of the layer to explain. Default: the last module
        whose output is a 4-D map (found on a probe batch), i.e. the last conv block; for
        a transformer whose token grid follows its last map, the last block of tokens.
    normalize : "imagenet", "none", "MEAN,STD" or (mean, std)
        Normalisation applied to ``[0, 1]`` images before the model
        (:func:`~slicelens.models.normalize.parse_normalize`).
    device : str or torch.device, optional

    Attributes
    ----------
    layer_name : str
        The layer explained.
    normalization : str
        The normalisation in its short form (``none``, ``imagenet``, ``0.5,0.25``).
    head : LinearHead or None
        Set when the model is verified to end in global-average-pool + linear.
    mode : {"hook", "split"}
        How ``A`` is reached: a forward hook, or the cut TorchScript graph.

    Examples
    --------
    >>> from slicelens.models.builtin import SmallCNN
    >>> ad = ModelAdapter(SmallCNN(2), ["a", "b"], input_size=32)
    >>> A, logits = ad.forward_parts(torch.rand(4, 3, 32, 32))
    >>> A.shape[0], logits.shape, ad.head is not None
    (4, torch.Size([4, 2]), True)
    """


    def __init__(self, module, classes: Sequence[str], *, input_size: int, layer: str | None = None,
                 normalize="none", device=None):
        self.module = module.eval()
        self.classes = list(classes)
        self.input_size = int(input_size)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        stats = parse_normalize(normalize)
        self.normalization = canonical(normalize)
        self.normalize = None if stats is None else Normalize(*stats)
        self.module.to(self.device)
        if self.normalize is not None:
            self.normalize.to(self.device)
        self._captured: torch.Tensor | None = None
        self._setup(layer)

    # -- public ---------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Move ``[0, 1]`` images to the device and normalise them."""
        x = x.to(self.device, non_blocking=True)
        return self.normalize(x) if self.normalize is not None else x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Plain inference, no hooks: logits ``(n, C)`` for ``[0, 1]`` images ``(n, 3, H, W)``."""
        return as_logits(self.module(self.prepare(x)))

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward pass returning ``(A, logits)``.

        Returns
        -------
        A : Tensor, shape (n, d, m, k)
            Activation of the explained layer (a token grid for transformers), part of
            the autograd graph of ``logits``.
        logits : Tensor, shape (n, C)
        """
        x = self.prepare(x)
        if self.mode == "split":
            raw, ctx = self._body(x)
            out = first_tensor(raw)
            if out.dim() == 3:  # tokens: the tail runs on the grid put back as tokens
                A, prefix = token_grid(out)
                return A, as_logits(self._tail(ctx, replace_first(raw, grid_to_tokens(out, A, prefix))))
            # a copy, so an in-place op in the forward (DenseNet's F.relu(..., inplace=True))
            # leaves the layer's own output intact
            return out, as_logits(self._tail(ctx, replace_first(raw, out.clone())))
        # the hook lives only for this call, so the caller's module is left unchanged
        self._captured = None
        handle = self._layer.register_forward_hook(self._hook)
        try:
            logits = as_logits(self.module(x))
        finally:
            handle.remove()
        captured, self._captured = self._captured, None
        if captured is None:
            raise ModelError(f"layer {self.layer_name!r} did not run in the forward pass")
        return captured, logits

    def check_classes(self, num_outputs: int | None = None) -> None:
        """Raise :class:`ModelError` when the model's outputs differ from the classes."""
        n = num_outputs if num_outputs is not None else self._probe_logits_dim
        if n != self.num_classes:
            raise ModelError(
                f"the model has {n} outputs but the dataset has {self.num_classes} classes "
                f"({', '.join(self.classes[:6])}{'...' if self.num_classes > 6 else ''}); "
                "pass --classes with a file listing the model's classes in output order")

    # -- set-up ---------------------------------------------------------------------
    def _setup(self, layer: str | None) -> None:
        probe = torch.rand(2, 3, self.input_size, self.input_size, device=self.device)
        if isinstance(self.module, torch.jit.ScriptModule):
            self._setup_split(layer, probe)
        else:
            self.mode = "hook"
            if layer is None:
                cands = map_layers(self.module, self.prepare(probe))
                # tokens after the last block may not reach a CLS-token head (ViT): take
                # the last block whose grid the logits depend on
                layer = cands[-1] if len(cands) == 1 else next(
                    (c for c in reversed(cands) if self._use_layer(c) and self._reaches_logits(probe)),
                    cands[-1])
            self._use_layer(layer)
        with torch.no_grad():
            A, logits = self.forward_parts(probe)
        if A.dim() != 4:
            raise ModelError(f"layer {self.layer_name!r} outputs shape {tuple(A.shape)}, "
                             "expected a 4-D map (n, d, m, k) or tokens (n, T, D); name a "
                             "convolutional layer or a transformer block with --layer")
        self._probe_logits_dim = logits.shape[1]
        self.head = self._find_head(A, logits)
        # non-finite logits are reported by extraction (naming the model), not judged here
        if self.head is None and bool(torch.isfinite(logits).all()) and not self._reaches_logits(probe):
            raise ModelError(
                f"the logits do not depend on layer {self.layer_name!r}'s map (zero gradient; "
                "e.g. patch tokens after a transformer's last block, when the head reads the "
                "CLS token): name an earlier layer with --layer"
                + (", or load the model as torch.export / an entry point, whose nested "
                   "layers are reachable" if self.mode == "split" else ""))

    def _use_layer(self, layer: str) -> bool:
        modules = dict(self.module.named_modules())
        if layer not in modules:
            raise ModelError(f"no layer named {layer!r}; layers: {', '.join(list(modules)[1:12])}...")
        self.layer_name, self._layer = layer, modules[layer]
        return True

    def _reaches_logits(self, probe) -> bool:
        """Whether the logits' gradient w.r.t. the layer's map is non-zero on the probe."""
        with torch.enable_grad():
            A, logits = self.forward_parts(probe.clone().requires_grad_(True))
            if not A.requires_grad:
                return False
            mix = torch.linspace(1.0, 2.0, logits.shape[1], device=logits.device)
            (g,) = torch.autograd.grad((logits * mix).sum(), A, allow_unused=True)
        return g is not None and bool(g.abs().sum() > 0)

    def _hook(self, _module, _inp, out):
        t = first_tensor(out)
        if t is None or t.dim() != 3:
            self._captured = t
            # the forward continues on a copy, so its in-place ops leave A intact
            return replace_first(out, t.clone()) if t is not None else None
        # tokens: hand the model the grid put back as tokens, so logits depend on the grid
        A, prefix = token_grid(t)
        self._captured = A
        return replace_first(out, grid_to_tokens(t, A, prefix))

    def _setup_split(self, layer: str | None, probe) -> None:
        self.mode = "split"
        x = self.prepare(probe)
        default = layer is None
        with torch.no_grad():
            ref = as_logits(self.module(x))
            if default:
                pools = {n for n, m in self.module.named_modules() if is_head_pool(m)}
                cands = [p for p, o in call_outputs(self.module, x)
                         if is_map(first_tensor(o)) and p not in pools]
                if not cands:
                    raise ModelError(
                        "the TorchScript forward calls no module that outputs a 4-D map; name "
                        "the layer with --layer" if call_outputs(self.module, x) else
                        "this TorchScript model calls no sub-modules (frozen or inlined, e.g. by "
                        "torch.jit.freeze / optimize_for_inference), so no layer can be cut out; "
                        "save it before freezing, or export it with torch.export")
                layer = cands[-1]
        assert layer is not None  # named, or the last map found above
        self._use_split(layer)
        if default and not self._reaches_logits(probe):
            # e.g. a traced ViT: `vit`'s last tokens miss the CLS head; look inside it
            inner = next((c for c in reversed(nested_calls(self.module, layer))
                          if self._use_split(c, quiet=True) and self._reaches_logits(probe)), None)
            self._use_split(inner or layer)
        with torch.no_grad():
            _, logits = self.forward_parts(probe)
        # equal_nan: a model that gives NaN is cut fine; extraction then names the sample
        same = logits.shape == ref.shape and torch.allclose(logits, ref, atol=1e-4, rtol=1e-4,
                                                             equal_nan=True)
        if not same:
            raise ModelError(f"cutting the TorchScript forward at {self.layer_name!r} changes its "
                             "output; pass another --layer, or the model as torch.export / an "
                             "entry point")

    def _use_split(self, layer: str, quiet: bool = False) -> bool:
        try:
            self._body, self._tail = split_script(self.module, layer)
            self.layer_name = layer
            with torch.no_grad():
                self.forward_parts(torch.rand(1, 3, self.input_size, self.input_size,
                                              device=self.device))
        except Exception:  # noqa: BLE001 - with quiet, any failure means "not this layer"
            if not quiet:
                raise
            return False
        return True

    def _find_head(self, A: torch.Tensor, logits: torch.Tensor) -> LinearHead | None:
        """A linear layer with ``logits == mean_hw(A) @ W.T + b`` on the probe, else None.

        Every weight of shape ``(C, d)`` is tried, latest first, so a head after dropout,
        flatten or a reshape in ``forward`` is found, and a wrong guess is impossible.
        """
        pooled = A.mean(dim=(2, 3))
        shape = (logits.shape[1], pooled.shape[1])
        for name, m in reversed(list(self.module.named_modules())):
            w = getattr(m, "weight", None)
            if not isinstance(w, torch.Tensor) or tuple(w.shape) != shape:
                continue
            b = getattr(m, "bias", None)
            b = torch.zeros(w.shape[0], device=w.device) if not isinstance(b, torch.Tensor) else b
            pred = pooled @ w.detach().T + b.detach()
            if torch.allclose(pred, logits, atol=1e-4, rtol=1e-3):
                return LinearHead(w.detach().clone(), b.detach().clone(), name)
        return None
