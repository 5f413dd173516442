"""Tiny architectures that tests/test_models.py loads through entry points."""

from torch import nn


def tiny_net(num_classes: int = 2) -> nn.Module:
    """conv -> GAP -> linear: a pooled-linear head."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, num_classes))


def mlp_head_net(num_classes: int = 2) -> nn.Module:
    """conv -> GAP -> 2-layer MLP: no pooled-linear head."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, num_classes))


def broken_net(num_classes: int = 2) -> nn.Module:
    raise ValueError("broken on purpose")
