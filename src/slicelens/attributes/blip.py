"""Optional BLIP visual question answering (transformers ``BlipForQuestionAnswering``).

HiBug's own tagger: it asks "What is the <attribute> of the <object> in the image?"
(Eq. 1) about representative images to propose values (``vqa`` tagger), and assigns
values by zero-shot classification with BLIP. Here assignment (``vqa`` assigner) asks the
same question of every image and maps the free answer onto the attribute's values by
MiniLM text similarity (score = that cosine similarity, clipped to [0, 1]) - a
departure: the paper scores the values with BLIP directly.

Weights come from a local ``save_pretrained`` folder (``model_path`` or
``SLICELENS_BLIP_PATH``), loaded with ``local_files_only=True``; never downloaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from slicelens.attributes.base import Attribute, Backend, register_assigner, register_tagger
from slicelens.attributes.clip import image_stats, load_local, model_dir, to_pixels
from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run


class _BlipParams(BaseModel):
    model_path: str | None = Field(None, description="local BLIP VQA folder (env SLICELENS_BLIP_PATH)")
    batch_size: int = Field(16, ge=1, description="images per batch")
    max_new_tokens: int = Field(8, ge=1, description="longest answer, in tokens")


class _Blip(Backend):
    p: _BlipParams  # the validated parameters (set in __init__/fit)
    Params = _BlipParams

    def answer(self, images: np.ndarray, question: str) -> list[str]:
        """BLIP's answer to ``question`` for each image uint8 (b, H, W, 3)."""
        import torch

        path = model_dir(self.p.model_path, "SLICELENS_BLIP_PATH")
        model, tok = load_local(str(path), "BlipForQuestionAnswering", "vqa")
        size = int(model.config.vision_config.image_size)
        mean, std = image_stats(path)
        out = []
        with torch.no_grad():
            for s in range(0, len(images), self.p.batch_size):
                x = to_pixels(images[s:s + self.p.batch_size], size, mean, std)
                q = tok([question] * len(x), return_tensors="pt", padding=True)
                ids = model.generate(input_ids=q["input_ids"], attention_mask=q["attention_mask"],
                                     pixel_values=x, max_new_tokens=self.p.max_new_tokens)
                out += [t.strip() for t in tok.batch_decode(ids, skip_special_tokens=True)]
        return out


@register_tagger("vqa")
class BlipTagger(_Blip):
    """HiBug Eq. (1) asked of representative images."""

    def tag(self, images: np.ndarray, attribute: Attribute, obj: str = "object") -> list[list[str]]:
        from slicelens.attributes.assign_stats import region_images

        q = attribute.question.format(attribute=attribute.name, object=obj)
        return [[a] if a else [] for a in self.answer(region_images(images, attribute.region), q)]


@register_assigner("vqa")
class BlipAssigner(_Blip):
    """Every image asked HiBug Eq. (1); the answer matched onto the values."""

    requires = ()

    def supports(self, attribute: Attribute) -> bool:
        return bool(attribute.values)

    def assign(self, run: Run, attributes: list[Attribute], dataset, rows: np.ndarray,
               obj: str = "object") -> AttributeMatrix:
        from slicelens.attributes.assign_stats import region_images
        from slicelens.attributes.text import similarity
        from slicelens.utils import progress

        ids = run.samples["id"].to_numpy(str)[rows]
        ds_rows = dataset.index_of(ids)
        parts = []
        for a in attributes:
            if not a.values:
                raise SliceLensError(f"attribute {a.name!r} has no values to match answers to")
            q = a.question.format(attribute=a.name, object=obj)
            answers = []
            for s in progress(range(0, len(rows), 256), desc=f"VQA {a.name}"):
                img = region_images(dataset.load_uint8(ds_rows[s:s + 256]), a.region)
                answers += self.answer(img, q)
            sim = similarity([x or "none" for x in answers], a.values)
            parts.append(from_codes(ids, a.name, a.values, sim.argmax(1), np.clip(sim.max(1), 0, 1)))
        return AttributeMatrix.concat(parts)
