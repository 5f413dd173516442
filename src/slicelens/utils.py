"""Small shared helpers: seeding, device choice, progress bars."""

from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch; return a NumPy generator for local use."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def resolve_device(device: str | None = None):
    """The torch device to use: the one asked for, else CUDA when present, else CPU."""
    import torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def progress(iterable=None, *, total=None, desc=None, disable=None, **kw):
    """A tqdm progress bar that stays quiet when ``SLICELENS_QUIET`` is set."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = bool(os.environ.get("SLICELENS_QUIET"))
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False, **kw)
