"""GradCAM (Selvaraju et al. 2017) on the explained layer: in closed form (``cam``) for a
pooled-linear head, else with one backward pass per batch (``gradcam``)."""

from __future__ import annotations

import torch

from slicelens.errors import ModelError
from slicelens.extract.methods.base import AttributionMethod, register_method


@register_method("cam")
class CAM(AttributionMethod):
    """GradCAM in closed form for a pooled-linear head, no backward pass.

    ``alpha[c, k] = W[c, k] / (m k)``, ``map = ReLU(sum_k alpha[c, k] A_k)``.
    """

    def check(self, adapter) -> None:
        if adapter.head is None:
            raise ModelError("method 'cam' needs a model ending in global average pooling + "
                             "linear; use method 'gradcam' (or 'auto')")

    def attribute(self, adapter, A, logits, targets):
        self.check(adapter)
        m, k = A.shape[2:]
        alpha = adapter.head.weight.to(A.device, A.dtype)[targets] / (m * k)  # (n, d)
        return torch.relu(torch.einsum("nd,ndij->nij", alpha, A.detach())).float()


@register_method("gradcam")
class GradCAM(AttributionMethod):
    """GradCAM: ``alpha = mean_hw(d logit_c / d A)``, ``map = ReLU(sum_k alpha_k A_k)``.

    One backward pass per batch: samples are independent in eval mode, so the gradient
    of the batch's summed target logits gives every sample's own gradient.
    """

    needs_grad = True

    def attribute(self, adapter, A, logits, targets):
        if not A.requires_grad:
            raise ModelError("gradcam needs the forward pass to run with gradients enabled")
        score = logits.gather(1, targets.view(-1, 1)).sum()
        (grads,) = torch.autograd.grad(score, A)
        alpha = grads.mean(dim=(2, 3))  # (n, d)
        return torch.relu(torch.einsum("nd,ndij->nij", alpha, A.detach())).float()
