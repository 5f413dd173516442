"""The attribution-method family: its base class, registry and the helpers every method shares.

Every module of ``slicelens.extract.methods`` is searched for methods (``METHOD_FAMILY``,
the one discovery rule of every family), so a new method is one file there.

Every method turns the activations of ONE forward pass into maps on the layer's grid, so
extraction computes predictions, features and maps together. The base class owns the
forward pass (for :meth:`AttributionMethod.attribute_images`), upsampling and
normalisation; a method overrides :meth:`AttributionMethod.attribute` only.

Which method when:

* ``cam`` - the model ends in global average pooling + linear (``adapter.head`` set).
  GradCAM in closed form: the gradient of ``logit_c`` w.r.t. ``A[k, i, j]`` is
  ``W[c, k] / (m k)`` everywhere, so no backward pass is needed.
* ``gradcam`` - any other head; one backward pass per batch.
* ``auto`` - ``cam`` when it applies, else ``gradcam``.

Both equal captum's ``LayerGradCam(..., relu_attributions=True)`` (Selvaraju et al.
2017) on the same layer and targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slicelens.errors import SliceLensError
from slicelens.registry import Family

METHODS: dict[str, type[AttributionMethod]] = {}
#: The attribution-method family: every module of ``slicelens.extract.methods``.
METHOD_FAMILY = Family("attribution method", "slicelens.extract.methods", registry=METHODS)
#: Class decorator adding an attribution method to :data:`METHODS` under ``name``.
register_method = METHOD_FAMILY.register


def upsample(maps: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of maps ``(n, m, k)`` to ``(n, H, W)`` (``size`` int = square)."""
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return F.interpolate(maps[:, None].float(), size=hw, mode="bilinear",
                         align_corners=False)[:, 0]


def normalize_sum1(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map ``(n, m, k)`` to sum 1 over its grid (AttributionScanner Sec. III-D).

    An all-zero map (the ReLU removed all evidence: no location speaks *for* the class)
    becomes uniform ``1 / (m k)``. Then ``F_W`` equals the plain pooled feature ``F``
    instead of a zero vector, which would otherwise pull every such sample into one
    artificial slice at the origin of the feature space.
    """
    maps = maps.clamp(min=0)
    total = maps.sum(dim=(1, 2), keepdim=True)
    uniform = torch.full_like(maps, 1.0 / (maps.shape[1] * maps.shape[2]))
    return torch.where(total > 0, maps / total.clamp(min=torch.finfo(maps.dtype).tiny), uniform)


class AttributionMethod:
    """Base of the attribution-method family.

    Subclasses set ``needs_grad`` and implement :meth:`attribute`.
    """

    name = "base"
    #: whether ``attribute`` backpropagates (the forward pass must then keep a graph)
    needs_grad = False

    def check(self, adapter) -> None:
        """Raise :class:`ModelError` when the method cannot explain this model."""

    def attribute(self, adapter, A: torch.Tensor, logits: torch.Tensor,
                  targets: torch.Tensor) -> torch.Tensor:
        """Raw non-negative maps from one forward pass.

        Parameters
        ----------
        adapter : ModelAdapter
        A : Tensor, shape (n, d, m, k)
            Activations of ``adapter``'s layer (in the graph of ``logits`` if ``needs_grad``).
        logits : Tensor, shape (n, C)
        targets : Tensor of int64, shape (n,)
            Class to explain per sample.

        Returns
        -------
        Tensor, shape (n, m, k), float32, detached
        """
        raise NotImplementedError

    def attribute_images(self, adapter, images: torch.Tensor, targets: torch.Tensor, *,
                         size: int | None = None, normalize: bool = False) -> torch.Tensor:
        """Maps for ``[0, 1]`` images ``(n, 3, H, W)``; optionally upsampled / summing to 1.

        Returns
        -------
        Tensor, shape (n, m, k), or (n, size, size) when ``size`` is given
        """
        self.check(adapter)
        with torch.set_grad_enabled(self.needs_grad):
            # a leaf that requires grad keeps a graph even when the weights are frozen
            x = images.detach().clone().requires_grad_(self.needs_grad)
            A, logits = adapter.forward_parts(x)
            maps = self.attribute(adapter, A, logits, targets.to(logits.device))
        if normalize:
            maps = normalize_sum1(maps)
        return upsample(maps, size) if size is not None else maps


METHOD_FAMILY.base = AttributionMethod


def method_names() -> list[str]:
    """Names a user may choose: ``auto`` and every registered method."""
    return ["auto", *METHOD_FAMILY.names()]


def get_method(name: str, adapter=None) -> AttributionMethod:
    """An instance of method ``name``; ``"auto"`` resolves against ``adapter``."""
    if name == "auto":
        if adapter is None:
            raise SliceLensError("method 'auto' needs the adapter to choose")
        name = "cam" if adapter.head is not None else "gradcam"
    if name not in METHOD_FAMILY.discover():
        raise SliceLensError(f"unknown attribution method {name!r}; choose one of "
                             f"{', '.join(method_names())}")
    method = METHOD_FAMILY.create(name)
    if adapter is not None:
        method.check(adapter)
    return method


def attribute_images(adapter, images: torch.Tensor, targets: torch.Tensor, *,
                     method: str = "auto", size: int | None = None,
                     normalize: bool = False) -> torch.Tensor:
    """Attribution maps for images with the named method (see module docstring).

    Examples
    --------
    >>> maps = attribute_images(adapter, images, targets, size=32)  # doctest: +SKIP
    """
    return get_method(method, adapter).attribute_images(adapter, images, targets, size=size,
                                                        normalize=normalize)
