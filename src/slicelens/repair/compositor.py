"""The counterfactual compositor: HiBug's generation prompts realised from the data itself.

Offline there is no text-to-image model, so a :class:`~slicelens.repair.generators.PromptSpec`
("a photo of small 0-4 on brown background") is realised by composition:

1. **object donors**: correctly classified labelled samples (train / val) of the
   prompt's class whose *object* attributes (size, colour, position, blur, shape
   clusters, or any attribute with ``region="object"``) match the prompt;
2. **background donors**: samples of any split but test whose *background* attributes
   (all the others) match the prompt;
3. the donor's core region is pasted, feathered, onto the background donor, whose own
   object was removed by normalised-convolution inpainting (a Gaussian blur of the
   background pixels divided by the blur of the background mask).

The core region is the donor's foreground (:func:`assign_stats.foreground`) by default,
or its attribution map thresholded at half its maximum (``core="attribution"``). The
issue asks for the attribution map; the foreground is the default because a model with a
spurious correlation attends to the background, and pasting its "core" would copy the
spurious background (on the demo, the attribution maps of correct 0-4 images sit on the
grass). When no donor matches all conditions, the conditions are dropped one by one from
the last, and ``relaxed`` counts how often.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from slicelens.errors import SliceLensError
from slicelens.repair.generators import GenerationContext, Generator, register_generator

#: measures that describe the object (matched on the object donor); ``shape`` is the
#: ``clusters`` backend's shape of the foreground (slicelens.attributes.shape)
OBJECT_MEASURES = ("object_size", "position", "object_colour", "sharpness", "attention_size",
                   "shape")


def inpaint_background(image: np.ndarray, fg: np.ndarray, sigma: float) -> np.ndarray:
    """Fill the ``fg`` pixels of ``image`` uint8 (H, W, 3) from the surrounding background."""
    from scipy.ndimage import gaussian_filter

    bg = (~fg).astype(np.float32)
    x = image.astype(np.float32)
    num = np.stack([gaussian_filter(x[..., c] * bg, sigma) for c in range(3)], -1)
    den = gaussian_filter(bg, sigma)[..., None]
    fill = num / np.maximum(den, 1e-6)
    out = np.where(fg[..., None], fill, x)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def paste(background: np.ndarray, core: np.ndarray, mask: np.ndarray, feather: float) -> np.ndarray:
    """``background * (1 - m) + core * m`` with ``m`` the feathered ``mask`` (H, W)."""
    from scipy.ndimage import gaussian_filter

    m = mask.astype(np.float32)
    if feather > 0:
        m = np.maximum(m, gaussian_filter(m, feather))
    m = np.clip(m, 0, 1)[..., None]
    out = background.astype(np.float32) * (1 - m) + core.astype(np.float32) * m
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@register_generator("compositor")
class Compositor(Generator):
    """Object of a class on backgrounds with the prompt's attribute values (offline)."""

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        core: Literal["foreground", "attribution"] = Field("foreground", description="what counts as the object")
        feather: float = Field(0.7, ge=0, description="Gaussian feathering of the pasted mask, px")
        inpaint_sigma: float = Field(3.0, gt=0, description="blur that fills the removed object, px")

    def generate(self, prompts, counts, ctx: GenerationContext, seed: int = 0):
        """Images uint8 (n, size, size, 3) and labels int64 (n,), ``counts[i]`` per prompt."""
        from scipy.ndimage import binary_dilation

        from slicelens.attributes.assign_stats import colour_index, foreground
        from slicelens.utils import progress

        rng = np.random.default_rng(seed)
        s = ctx.run.samples
        ids = s["id"].to_numpy(str)
        codes = ctx.matrix.codes(ids)[0] if ctx.matrix is not None else None
        split = s["split"].to_numpy()
        correct = s["correct"].to_numpy(dtype=bool, na_value=False)
        obj_ok = np.isin(split, ("train", "val")) & correct
        bg_ok = split != "test"
        ds_rows = ctx.dataset.index_of(ids)
        maps = ctx.run.array("maps") if self.p.core == "attribution" else None
        images, labels = [], []
        self.relaxed = 0  # prompts whose conditions were dropped, last first, to find a match
        self.uncorrected = 0  # prompts whose donors had to include misclassified samples
        for prompt, k in progress(list(zip(prompts, counts, strict=True)), desc="compositing"):
            if k == 0:
                continue
            obj_c, bg_c = self._split_conditions(prompt.conditions, ctx)
            of_class = np.isin(split, ("train", "val")) & (s["label"].to_numpy() == prompt.label)
            pool = of_class & obj_ok
            if not pool.any():  # a weak model gets none of the class right
                if not of_class.any():
                    raise SliceLensError(
                        f"no donor image for a prompt of class {ctx.run.classes[prompt.label]!r}: "
                        "the run has no labelled train/val sample of that class")
                self.uncorrected += 1
                pool = of_class
            donors = self._match(pool, obj_c, codes, ctx)
            backs = self._match(bg_ok, bg_c, codes, ctx)
            d = rng.choice(donors, size=k)
            b = rng.choice(backs, size=k)
            core = ctx.dataset.load_uint8(ds_rows[d], ctx.size)
            back = ctx.dataset.load_uint8(ds_rows[b], ctx.size)
            core_mask = self._core(core, maps, d, colour_index, foreground)
            # grown by 1 px so that the anti-aliased rim of the removed object goes too
            back_fg = binary_dilation(foreground(colour_index(back)[0]), iterations=1,
                                      structure=np.ones((1, 3, 3), bool))
            for i in range(k):
                clean = inpaint_background(back[i], back_fg[i], self.p.inpaint_sigma)
                images.append(paste(clean, core[i], core_mask[i], self.p.feather))
                labels.append(prompt.label)
        return np.stack(images), np.asarray(labels, np.int64)

    def _core(self, core, maps, rows, colour_index, foreground) -> np.ndarray:
        if self.p.core == "foreground":
            return foreground(colour_index(core)[0])
        from slicelens.attributes.assign_stats import upsample

        up = upsample(np.asarray(maps[rows], np.float32), *core.shape[1:3])
        return up >= 0.5 * up.max(axis=(1, 2), keepdims=True)

    @staticmethod
    def _split_conditions(conditions: dict, ctx) -> tuple[dict, dict]:
        obj: dict[str, str] = {}
        bg: dict[str, str] = {}
        for name, value in conditions.items():
            a = ctx.spec.get(name) if ctx.spec is not None and name in ctx.spec.names else None
            is_obj = a is not None and (a.measure in OBJECT_MEASURES or a.region == "object")
            (obj if is_obj else bg)[name] = value
        return obj, bg

    def _match(self, base: np.ndarray, cond: dict, codes, ctx) -> np.ndarray:
        items = list(cond.items())
        while True:
            mask = base.copy()
            for name, value in items:
                j = ctx.matrix.attributes.index(name)
                mask &= codes[:, j] == ctx.matrix.values[name].index(value)
            if mask.any() or not items:
                break
            items = items[:-1]
            self.relaxed += 1
        if not mask.any():
            raise SliceLensError("no donor image for a prompt: no correctly classified "
                                 "train/val sample of its class")
        return np.flatnonzero(mask)
