"""Small shared helpers: seeding, device choice, progress bars, plain text tables."""

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


def table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = ".3f") -> str:
    """A plain text table (no dependency) for terminal output.

    >>> print(table([{"slice": "a-0", "acc": 0.5}], floatfmt=".1f"))
    slice  acc
    -----  ---
    a-0    0.5
    """
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])

    def fmt(v):
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)
    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)
