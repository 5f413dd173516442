"""Input normalisation as the model needs it, and what a model's folder says about it.

``--normalize`` takes ``imagenet``, ``none`` or ``MEAN,STD``: two numbers (the same for
every channel) or six (three means, then three stds). A Hugging Face
``preprocessor_config.json`` next to the model file (or its weights) supplies the
normalisation (``image_mean``, ``image_std``, ``do_normalize``) and the input size
(``size``) when they are not given.

Example
-------
>>> parse_normalize("0.5,0.25")
((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
>>> canonical("0.5,0.5,0.5,0.25,0.25,0.25")
'0.5,0.25'
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from slicelens.errors import ModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSOR_CONFIG = "preprocessor_config.json"

Stats = tuple[tuple[float, float, float], tuple[float, float, float]]


def parse_normalize(value) -> Stats | None:
    """``(mean, std)`` per channel, or None for no normalisation.

    Parameters
    ----------
    value : None, "none", "imagenet", "MEAN,STD", "M1,M2,M3,S1,S2,S3" or (mean, std)

    Raises
    ------
    ModelError
        Not one of these forms, or a std that is not positive (names the option).
    """
    if value is None or value == "none":
        return None
    if value == "imagenet":
        return IMAGENET_MEAN, IMAGENET_STD
    if isinstance(value, str):
        try:
            nums = [float(v) for v in value.split(",")]
        except ValueError:
            nums = []
        if len(nums) not in (2, 6):
            raise ModelError(f"--normalize {value!r}: expected imagenet, none, MEAN,STD or "
                             "M1,M2,M3,S1,S2,S3 (per-channel means then stds of [0, 1] pixels)")
        value = (nums[:1] * 3, nums[1:] * 3) if len(nums) == 2 else (nums[:3], nums[3:])
    mean, std = (tuple(float(v) for v in part) for part in value)
    if len(mean) == 1:
        mean, std = mean * 3, std * 3
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ModelError(f"--normalize: need 3 means and 3 positive stds, got {mean} and {std}")
    return mean, std


def canonical(value) -> str:
    """The short string form of a normalisation (``none``, ``imagenet``, ``0.5,0.25``, ...)."""
    stats = parse_normalize(value)
    if stats is None:
        return "none"
    if stats == (IMAGENET_MEAN, IMAGENET_STD):
        return "imagenet"
    mean, std = stats
    if len(set(mean)) == 1 and len(set(std)) == 1:
        return f"{mean[0]:g},{std[0]:g}"
    return ",".join(f"{v:g}" for v in (*mean, *std))


def preprocessor_hints(*paths) -> dict:
    """``normalize`` / ``input_size`` from a ``preprocessor_config.json`` beside any of ``paths``.

    Parameters
    ----------
    *paths : path or None
        The model file, the weights file; their folders are searched in order.

    Returns
    -------
    dict
        ``{"normalize": "M1,...", "input_size": 224, "source": path}``, only the keys found.
    """
    for p in paths:
        if not p:
            continue
        cfg_path = Path(p).parent / PREPROCESSOR_CONFIG
        if not cfg_path.is_file():
            continue
        try:
            cfg = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as e:
            raise ModelError(f"{cfg_path} is not valid JSON ({e})") from None
        hints: dict = {"source": str(cfg_path)}
        if cfg.get("do_normalize", True) and cfg.get("image_mean") and cfg.get("image_std"):
            hints["normalize"] = canonical((cfg["image_mean"], cfg["image_std"]))
        elif cfg.get("do_normalize") is False:
            hints["normalize"] = "none"
        size = cfg.get("size", cfg.get("crop_size"))
        if isinstance(size, dict):
            h, w = size.get("height"), size.get("width")
            size = h if h is not None and h == w else size.get("shortest_edge")
        if isinstance(size, int):
            hints["input_size"] = size
        return hints
    return {}


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, for images ``(n, 3, H, W)``."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std
