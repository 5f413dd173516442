"""Optional CLIP zero-shot assignment (transformers ``CLIPModel``), from local weights only.

The closest offline stand-in for HiBug's BLIP zero-shot classification: each value of an
attribute becomes the prompt ``template`` (default "a photo with {value} {attribute}";
``{object}`` may be used too), and every image takes the value whose text embedding is most similar to
its image embedding; the score is the softmax probability over the attribute's values
(CLIP's own logit scale).

The model folder is a ``save_pretrained`` directory (``config.json``, weights, tokenizer
files), given by ``model_path`` or ``SLICELENS_CLIP_PATH``; it is loaded with
``local_files_only=True`` and never downloaded. Images are resized and normalised here
(CLIP's mean / std, or those of the folder's ``preprocessor_config.json``), so the
image processor (which may want torchvision) is not needed.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from slicelens.attributes.base import Attribute, Backend, register_assigner
from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.errors import ModelError, SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def model_dir(path: str | None, env: str) -> Path:
    """The local model folder from ``path`` or the environment variable ``env``."""
    path = path or os.environ.get(env)
    if not path:
        raise SliceLensError(f"no local model folder: pass model_path or set {env}")
    p = Path(path)
    if not (p / "config.json").exists():
        raise ModelError(f"{p} is not a saved transformers model (no config.json); models "
                         "are never downloaded, save one there with save_pretrained")
    return p


def image_stats(path: Path, mean=CLIP_MEAN, std=CLIP_STD) -> tuple[tuple, tuple]:
    """Normalisation of a model folder's ``preprocessor_config.json``, else the defaults."""
    cfg = path / "preprocessor_config.json"
    if cfg.exists():
        d = json.loads(cfg.read_text())
        return tuple(d.get("image_mean", mean)), tuple(d.get("image_std", std))
    return mean, std


def to_pixels(images: np.ndarray, size: int, mean, std):
    """uint8 (b, H, W, 3) -> normalised float Tensor (b, 3, size, size)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


@lru_cache(maxsize=4)
def load_local(path: str, model_class: str = "CLIPModel", backend: str = "clip"):
    """``(model, tokenizer)`` of a transformers model in a local folder, in eval mode.

    ``local_files_only``: a missing folder is an error, never a download.
    """
    try:
        import transformers
        from transformers import AutoTokenizer
    except ImportError as e:
        raise ModelError(f"the {backend} backend needs the 'clip' extra (transformers)") from e
    model = getattr(transformers, model_class).from_pretrained(path, local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(path, local_files_only=True)


def _features(out):
    # transformers 5 returns an output object whose pooler_output is the projection
    return out if hasattr(out, "norm") else out.pooler_output


@register_assigner("clip")
class ClipAssigner(Backend):
    """CLIP zero-shot classification over each attribute's values."""

    requires = ()

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        model_path: str | None = Field(None, description="local CLIP folder (env SLICELENS_CLIP_PATH)")
        template: str = Field("a photo with {value} {attribute}",
                              description="text prompt per value")
        batch_size: int = Field(64, ge=1, description="images per batch")

    def supports(self, attribute: Attribute) -> bool:
        return bool(attribute.values)

    def assign(self, run: Run, attributes: list[Attribute], dataset, rows: np.ndarray,
               obj: str = "object") -> AttributeMatrix:
        import torch

        from slicelens.attributes.assign_stats import region_images
        from slicelens.utils import progress

        path = model_dir(self.p.model_path, "SLICELENS_CLIP_PATH")
        model, tok = load_local(str(path))
        size = int(model.config.vision_config.image_size)
        mean, std = image_stats(path)
        ids = run.samples["id"].to_numpy(str)[rows]
        ds_rows = dataset.index_of(ids)
        parts = []
        with torch.no_grad():
            for a in attributes:
                if not a.values:
                    raise SliceLensError(f"attribute {a.name!r} has no values for CLIP to choose from")
                texts = [self.p.template.format(object=obj, value=v, attribute=a.name) for v in a.values]
                t = tok(texts, padding=True, return_tensors="pt")
                tf = _features(model.get_text_features(**t))
                tf = tf / tf.norm(dim=-1, keepdim=True)
                probs = []
                for s in progress(range(0, len(rows), self.p.batch_size), desc=f"CLIP {a.name}"):
                    img = region_images(dataset.load_uint8(ds_rows[s:s + self.p.batch_size], size),
                                        a.region)
                    f = _features(model.get_image_features(pixel_values=to_pixels(img, size, mean, std)))
                    f = f / f.norm(dim=-1, keepdim=True)
                    probs.append((model.logit_scale.exp() * f @ tf.T).softmax(-1).numpy())
                p = np.concatenate(probs)
                parts.append(from_codes(ids, a.name, a.values, p.argmax(1), p.max(1)))
        return AttributeMatrix.concat(parts)
