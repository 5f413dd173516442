"""Failure attribution with uncertainty (AACA step a).

The paper's saliency map is integrated gradients,

    A(i) = (x - x_baseline) * int_0^1 dM(x_baseline + a (x - x_baseline)) / dx da,

computed here with captum's :class:`~captum.attr.IntegratedGradients` (the paper writes the
path the other way round; captum's is the usual convention). Its uncertainty is the
Monte-Carlo-dropout variance

    sigma_A(i) = Var_{theta ~ p(theta)} [A(i; theta)],

over ``passes`` forward passes with dropout on. Pixels whose variance on the normalised
map is above ``tau`` (default 0.1) are flagged ambiguous and shown first to people.

Details fixed here (the paper leaves them open):

- a map is the absolute attribution summed over colour channels, (H, W);
- "normalised": every pass's map is divided by the maximum of the mean map over passes
  (one number per image), so the mean map peaks at 1 and variances are comparable
  across images;
- one dropout mask is drawn per pass and kept for all integration steps of that pass
  (a mask redrawn per step would average the dropout out inside the integral);
- the model's own ``nn.Dropout`` layers get that fixed mask; a model WITHOUT dropout
  layers gets dropout (rate ``p``) applied to the activations of the explained layer
  (``layer``) instead, which :attr:`Saliency.dropout_site` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from slicelens.errors import SliceLensError


@dataclass
class Saliency:
    """Saliency of a batch: ``mean`` and ``var`` float32 (n, H, W), ``ambiguous`` bool
    (n, H, W), and where the MC dropout was applied."""

    mean: np.ndarray
    var: np.ndarray
    ambiguous: np.ndarray
    tau: float
    dropout_site: str

    def regions(self, i: int) -> list[dict]:
        """Connected ambiguous regions of image ``i``: bbox (y0, x0, y1, x1), pixels, and
        the mean variance, largest first."""
        from scipy.ndimage import find_objects, label

        lab, _ = label(self.ambiguous[i])
        out = []
        for k, sl in enumerate(find_objects(lab), start=1):
            m = lab[sl] == k
            out.append({"bbox": [sl[0].start, sl[1].start, sl[0].stop, sl[1].stop],
                        "pixels": int(m.sum()), "variance": float(self.var[i][sl][m].mean())})
        return sorted(out, key=lambda r: -r["pixels"])


class _FixedMasks:
    """Forward hooks multiplying module outputs by a fixed Bernoulli(1-p)/(1-p) mask."""

    def __init__(self, modules: list[nn.Module], p: float, gen: torch.Generator):
        self.modules, self.p, self.gen = modules, p, gen
        self.masks: dict[int, torch.Tensor] = {}
        self.handles: list = []

    def new_pass(self) -> None:
        self.masks = {}

    def _hook(self, module, _inp, out):
        key = id(module)
        if key not in self.masks:
            keep = (torch.rand(out.shape[1:], generator=self.gen) >= self.p).to(out.dtype)
            self.masks[key] = keep.to(out.device) / (1.0 - self.p)
        return out * self.masks[key]

    def __enter__(self):
        self.handles = [m.register_forward_hook(self._hook) for m in self.modules]
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The model's own dropout modules (``nn.Dropout``, ``Dropout2d``, ...)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


def integrated_gradients(model: nn.Module, x: torch.Tensor, target, baseline=0.0,
                         steps: int = 16) -> torch.Tensor:
    """captum's integrated gradients of ``model`` (n, 3, H, W) -> (n, 3, H, W).

    ``baseline`` is a number (a constant image, default black) or a tensor like ``x``.
    """
    try:
        from captum.attr import IntegratedGradients
    except ImportError as e:  # captum is a core dependency; say so if it is missing
        raise SliceLensError("integrated gradients need captum (pip install captum)") from e
    base = baseline if torch.is_tensor(baseline) else torch.full_like(x, float(baseline))
    ig = IntegratedGradients(model)
    return ig.attribute(x, baselines=base, target=target, n_steps=steps,
                        internal_batch_size=max(len(x) * steps, 1))


def mc_saliency(model: nn.Module, x: torch.Tensor, target, *, passes: int = 10, p: float = 0.5,
                tau: float = 0.1, layer: nn.Module | None = None, baseline=0.0, steps: int = 16,
                seed: int = 0) -> Saliency:
    """IG saliency of ``x`` and its MC-dropout variance; pixels with variance > ``tau``
    on the normalised map are ambiguous.

    Parameters
    ----------
    model : nn.Module
        Takes ``x`` and returns logits; put in eval mode here (dropout is applied by fixed
        masks, see the module docstring).
    x : Tensor (n, 3, H, W)
    target : int, sequence or Tensor of class indices (n,)
        The class explained (for a failure: the predicted class or the true one).
    passes : int
        MC passes (>= 2).
    p : float
        Dropout rate of the passes, in (0, 1).
    layer : nn.Module, optional
        Where dropout goes when the model has no dropout layers (required then).
    """
    if passes < 2:
        raise SliceLensError("MC-dropout variance needs passes >= 2")
    if not 0 < p < 1:
        raise SliceLensError(f"dropout rate p must be in (0, 1), got {p}")
    was_training = model.training
    model.eval()
    own = dropout_layers(model)
    if own:
        sites, site = own, f"{len(own)} dropout layer(s) of the model"
    elif layer is not None:
        sites, site = [layer], "the explained layer's activations (the model has no dropout)"
    else:
        raise SliceLensError("the model has no dropout layers: name the layer to apply "
                             "MC dropout to (layer=...)")
    if not torch.is_tensor(target):
        target = torch.as_tensor(np.broadcast_to(np.asarray(target), (len(x),)).copy())
    gen = torch.Generator().manual_seed(seed)
    maps = []
    try:
        with _FixedMasks(sites, p, gen) as fm:
            for _ in range(passes):
                fm.new_pass()
                a = integrated_gradients(model, x, target, baseline, steps)
                maps.append(a.detach().abs().sum(1).cpu().numpy())
    finally:
        model.train(was_training)
    stack = np.stack(maps).astype(np.float64)  # (passes, n, H, W)
    peak = stack.mean(0).max(axis=(1, 2), keepdims=True)
    stack = stack / np.where(peak > 0, peak, 1.0)
    mean, var = stack.mean(0), stack.var(0, ddof=1)
    return Saliency(mean.astype(np.float32), var.astype(np.float32), var > tau, tau, site)
