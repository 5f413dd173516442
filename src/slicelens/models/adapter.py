"""One small adapter between a user's model and every slicelens stage.

The adapter exposes what the stages need and nothing else (the captum /
pytorch-grad-cam template): the activation ``A`` of the layer to explain, the logits,
and - when the model ends in global average pooling + linear - the head's weights,
which give GradCAM in closed form (no backward pass).

Two ways to reach ``A`` inside a model:

* a forward hook on a named sub-module (``nn.Module`` and unflattened ``torch.export``
  programs);
* a split of a model whose forward is the composition of its children (TorchScript,
  where hooks are not available): ``body = children[:k]``, ``tail = children[k:]``. The
  split is verified numerically against the model's own forward.

Whether the head is "pooled-linear" is not guessed from names: it is checked on a
probe batch, ``logits == mean_hw(A) @ W.T + b`` within tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from slicelens.errors import ModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class LinearHead:
    """Weights of a pooled-linear head: ``logits = F @ weight.T + bias``.

    weight : Tensor, shape (C, d); bias : Tensor, shape (C,)
    """

    weight: torch.Tensor
    bias: torch.Tensor
    name: str = ""


class _Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def _children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    return list(module.named_children())


def _is_conv_like(m: nn.Module) -> bool:
    name = getattr(m, "original_name", type(m).__name__)
    return isinstance(m, nn.Conv2d) or name == "Conv2d"


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
        whose output is a 4-D map (found on a probe batch), i.e. the last conv block.
    normalize : "imagenet", "none" or (mean, std)
        Normalisation applied to ``[0, 1]`` images before the model.
    device : str or torch.device, optional

    Attributes
    ----------
    layer_name : str
        The layer explained.
    head : LinearHead or None
        Set when the model is verified to end in global-average-pool + linear.
    mode : {"hook", "split"}
        How ``A`` is reached.

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
        if normalize == "imagenet":
            normalize = (IMAGENET_MEAN, IMAGENET_STD)
        self.normalize = None if normalize in (None, "none") else _Normalize(*normalize)
        self.module.to(self.device)
        if self.normalize is not None:
            self.normalize.to(self.device)
        self._captured = None
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
        return self.module(self.prepare(x))

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward pass returning ``(A, logits)``.

        Returns
        -------
        A : Tensor, shape (n, d, m, k)
            Activation of the explained layer, part of the autograd graph of ``logits``.
        logits : Tensor, shape (n, C)
        """
        x = self.prepare(x)
        if self.mode == "split":
            A = self._body(x)
            return A, self._tail(A)
        # the hook lives only for this call, so the caller's module is left unchanged
        self._captured = None
        handle = self._layer.register_forward_hook(self._hook)
        try:
            logits = self.module(x)
        finally:
            handle.remove()
        A, self._captured = self._captured, None
        if A is None:
            raise ModelError(f"layer {self.layer_name!r} did not run in the forward pass")
        return A, logits

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
        modules = dict(self.module.named_modules())
        is_script = isinstance(self.module, torch.jit.ScriptModule)
        if is_script:
            self._setup_split(layer, probe)
        else:
            self.mode = "hook"
            if layer is None:
                layer = self._find_last_map_layer(probe)
            if layer not in modules:
                raise ModelError(f"no layer named {layer!r}; layers: {', '.join(list(modules)[1:12])}...")
            self.layer_name = layer
            self._layer = modules[layer]
        with torch.no_grad():
            A, logits = self.forward_parts(probe)
        if A.dim() != 4:
            raise ModelError(f"layer {self.layer_name!r} outputs shape {tuple(A.shape)}, "
                             "expected a 4-D map (n, d, m, k); name a convolutional layer")
        self._probe_logits_dim = logits.shape[1]
        self.head = self._find_head(A, logits)

    def _hook(self, _module, _inp, out):
        self._captured = out

    def _find_last_map_layer(self, probe) -> str:
        """Name of the last leaf-or-block module whose output is a 4-D map."""
        order: list[str] = []
        handles = []
        for name, m in self.module.named_modules():
            if not name:
                continue

            def rec(_m, _i, out, name=name):
                # a 1x1 map (after global pooling) has nothing to explain
                if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[2] * out.shape[3] > 1:
                    order.append(name)
            handles.append(m.register_forward_hook(rec))
        try:
            with torch.no_grad():
                self.module(self.prepare(probe))
        finally:
            for h in handles:
                h.remove()
        if not order:
            raise ModelError("the model has no layer with a 4-D output; name one with --layer")
        # hooks fire child-before-parent, so the last map to finish is the outermost
        # block that ends with the last conv layer: a readable name for the same tensor.
        return order[-1]

    def _setup_split(self, layer: str | None, probe) -> None:
        self.mode = "split"
        kids = _children(self.module)
        if not kids:
            raise ModelError("a TorchScript model without sub-modules cannot be explained")
        x = self.prepare(probe)
        with torch.no_grad():
            ref = self.module(x)
            outs, h = [], x
            try:
                for _, m in kids:
                    h = m(h)
                    outs.append(h)
            except Exception as e:  # noqa: BLE001 - any failure means "not a chain"
                raise ModelError("this TorchScript model's forward is not a chain of its "
                                 f"children ({e}); export it with torch.export or pass a "
                                 "state_dict and an entry point") from None
            if outs[-1].shape != ref.shape or not torch.allclose(outs[-1], ref, atol=1e-4, rtol=1e-4):
                raise ModelError("this TorchScript model's forward is not a chain of its children; "
                                 "export it with torch.export or pass a state_dict and entry point")
        names = [n for n, _ in kids]
        if layer is None:
            cands = [i for i, o in enumerate(outs) if o.dim() == 4 and o.shape[2] * o.shape[3] > 1]
            if not cands:
                raise ModelError("no child of the TorchScript model outputs a 4-D map")
            k = cands[-1]
        else:
            if layer not in names:
                raise ModelError(f"with TorchScript, --layer must name a top-level child: {names}")
            k = names.index(layer)
        self.layer_name = names[k]
        body = [m for _, m in kids[: k + 1]]
        tail = [m for _, m in kids[k + 1:]]
        self._body = lambda t: _chain(body, t)
        self._tail = lambda t: _chain(tail, t)

    def _find_head(self, A: torch.Tensor, logits: torch.Tensor) -> LinearHead | None:
        """The last linear layer, if ``logits == mean_hw(A) @ W.T + b`` on the probe."""
        pooled = A.mean(dim=(2, 3))
        for name, m in reversed(list(self.module.named_modules())):
            w = getattr(m, "weight", None)
            if not isinstance(w, torch.Tensor) or w.dim() != 2:
                continue
            if tuple(w.shape) != (logits.shape[1], pooled.shape[1]):
                return None
            b = getattr(m, "bias", None)
            b = torch.zeros(w.shape[0], device=w.device) if b is None else b
            pred = pooled @ w.detach().T + b.detach()
            if torch.allclose(pred, logits, atol=1e-4, rtol=1e-3):
                return LinearHead(w.detach().clone(), b.detach().clone(), name)
            return None
        return None


def _chain(mods, t):
    for m in mods:
        t = m(t)
    return t
