"""Repair by generated debug images (HiBug Sec. 3.3 and App. 7.1, "Data generation").

HiBug collects the attribute values of the highest-error validation slices of each label
and writes prompts (App. 7.1 Eq. 2)::

    "A photo of *1 *2 *label *3, in a *4 background"

against the baseline "A photo of *label." (Eq. 3). A text-to-image model turns prompts
into images, which join the training set. Here a prompt is a :class:`PromptSpec` (label
+ attribute conditions + its text), and generators are a family (``GENERATORS``,
:mod:`slicelens.repair.generators`):

- ``compositor`` (offline default, :mod:`slicelens.repair.compositor`): realises the
  same spec from the data itself (a class's object pasted on backgrounds that carry the
  prompt's background values);
- ``diffusers`` (optional, :class:`DiffusersGenerator`): a text-to-image pipeline
  saved in a local folder (``save_pretrained``), never downloaded.

The strategy ``hibug-generate`` writes the images to ``<workspace>/plans/...`` and
returns a plan with ``extra_images``; the plan's params record the base model's error on
the generated images (HiBug Table 5, first row).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from slicelens.errors import SliceLensError
from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.generators import (  # noqa: F401 - the family's names, re-exported
    GENERATORS,
    GenerationContext,
    Generator,
    PromptSpec,
    get_generator,
    register_generator,
)
from slicelens.repair.plan import TrainingPlan, new_plan_dir

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


def prompt_text(label: str, conditions: dict[str, str], spec) -> str:
    """HiBug Eq. (2) in words: "A photo of small white 0-4 on brown background"."""
    from copy import copy

    from slicelens.slicing.slicer_attributes import describe

    if not conditions:
        return f"A photo of {label}."  # Eq. (3), the class-name baseline
    s = copy(spec)
    s.object = label
    words = describe(conditions, s).replace(f"{label}s", label)
    return f"A photo of {words}."


def hibug_prompts(run: Run, matrix, spec, attributes: list[str], per_class: int = 5,
                  min_support: int = 5) -> list[PromptSpec]:
    """The ``per_class`` value combinations of ``attributes`` with the highest validation
    error rate for each label (HiBug takes the top 200 slices per label)."""
    from slicelens.slicing.slicer_attributes import combination_counts

    s = run.samples
    val = s[(s["split"] == "val") & (s["label"] >= 0)]
    codes = matrix.codes(val["id"].to_numpy(str))[0]
    cols = [matrix.attributes.index(a) for a in attributes]
    n_values = [len(matrix.values[a]) for a in matrix.attributes]
    labels = val["label"].to_numpy()
    correct = val["correct"].to_numpy(dtype=bool, na_value=False)
    prompts = []
    for c, name in enumerate(run.classes):
        m = labels == c
        groups = combination_counts(codes[m], correct[m], [tuple(cols)], n_values, min_support)
        groups = [g for g in groups if g[3] < g[2]]  # at least one failure
        groups.sort(key=lambda g: (g[3] / g[2], -g[2]))
        for sub, vals, _, _ in groups[:per_class]:
            cond = {matrix.attributes[a]: matrix.values[matrix.attributes[a]][v]
                    for a, v in zip(sub, vals, strict=True)}
            prompts.append(PromptSpec(c, cond, prompt_text(name, cond, spec)))
    return prompts


def class_name_prompts(classes: list[str]) -> list[PromptSpec]:
    """HiBug Eq. (3): "A photo of <label>." for every class."""
    return [PromptSpec(c, {}, prompt_text(name, {}, None)) for c, name in enumerate(classes)]


def model_error(run: Run, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> float:
    """Error rate of the run's model on ``images`` uint8 (n, H, W, 3) with ``labels`` (n,)."""
    import torch

    adapter = run.adapter()
    wrong = 0
    with torch.no_grad():
        for s in range(0, len(images), batch_size):
            x = torch.from_numpy(images[s:s + batch_size]).permute(0, 3, 1, 2).float() / 255.0
            wrong += int((adapter.logits(x).argmax(1).numpy() != labels[s:s + batch_size]).sum())
    return wrong / max(len(images), 1)


class GenerateParams(BaseModel):
    n_images: int = Field(500, ge=1, description="debug images to generate")
    prompts: Literal["hibug", "class-name"] = Field("hibug", description="HiBug Eq. 2 or class name only (Eq. 3)")
    generator: str = Field("compositor", description="generator backend (GENERATORS key)")
    per_class: int = Field(5, ge=1, description="prompts per class (top-error slices)")
    attributes: list[str] | None = Field(None, description="attributes of the prompts (default: those of the top bug slices)")
    max_attributes: int = Field(3, ge=1, description="default: this many attributes of the top bug slices")
    seed: int = Field(0, description="random seed")


@register_repair("hibug-generate")
class HiBugGenerate(RepairStrategy):
    """Generated or composited debug images from bug-slice prompts (HiBug App. 7.1)."""

    Params = GenerateParams

    def _plan(self, workspace: Workspace, run: Run, p) -> TrainingPlan:
        from slicelens.attributes.matrix import AttributeMatrix
        from slicelens.attributes.runio import load_spec
        from slicelens.repair.select import default_attributes
        from slicelens.store.atomic import save_npz

        matrix = AttributeMatrix.load(run.path)
        spec = load_spec(run.path)
        attrs = p.attributes or default_attributes(run, matrix.attributes, p.max_attributes)
        prompts = (hibug_prompts(run, matrix, spec, attrs, p.per_class) if p.prompts == "hibug"
                   else class_name_prompts(run.classes))
        if not prompts:
            raise SliceLensError("no validation slice with failures to write prompts from")
        counts = np.full(len(prompts), p.n_images // len(prompts))
        counts[: p.n_images - counts.sum()] += 1
        size = run.record.input_size
        ctx = GenerationContext(run, run.dataset(), size, matrix, spec)
        gen = get_generator(p.generator)
        images, labels = gen.generate(prompts, counts, ctx, p.seed)
        err = model_error(run, images, labels)
        # how faithfully the prompts were realised (the compositor relaxes conditions it
        # cannot match and falls back to misclassified donors; other generators: absent)
        fidelity = {k: getattr(gen, k) for k in ("relaxed", "uncorrected") if hasattr(gen, k)}
        folder = new_plan_dir(workspace, self.name)
        save_npz(folder / "images.npz", images=images, labels=labels)
        desc = (f"{len(images)} {p.generator} images from {len(prompts)} {p.prompts} prompts "
                f"(e.g. {prompts[0].text!r}); base model error on them {err:.1%}")
        return TrainingPlan(strategy=self.name, description=desc,
                            params={**p.model_dump(mode="json"), "attributes": attrs,
                                    "error_on_generated": err, **fidelity,
                                    "prompt_texts": [q.text for q in prompts]},
                            extra_images=str(folder / "images.npz"))


@register_generator("diffusers")
class DiffusersGenerator(Generator):
    """Text-to-image with a local diffusers pipeline folder (``save_pretrained``).

    The folder is ``model_path`` or ``SLICELENS_DIFFUSION_PATH``; it is loaded with
    ``local_files_only=True`` (never downloaded). Images are made at the pipeline's
    ``height`` x ``width`` and resized to the run's input size.
    """

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        model_path: str | None = Field(None, description="local pipeline folder (env SLICELENS_DIFFUSION_PATH)")
        steps: int = Field(25, ge=1, description="denoising steps")
        height: int = Field(256, ge=8, description="generated image side")
        guidance_scale: float = Field(7.5, ge=0, description="classifier-free guidance")
        batch_size: int = Field(4, ge=1, description="images per pipeline call")

    def generate(self, prompts, counts, ctx: GenerationContext, seed: int = 0):
        import os

        import torch

        from slicelens.data.images import resize_rgb
        from slicelens.errors import ModelError

        path = self.p.model_path or os.environ.get("SLICELENS_DIFFUSION_PATH")
        if not path or not (Path(path) / "model_index.json").exists():
            raise ModelError("the diffusers generator needs a local pipeline folder with "
                             "model_index.json (model_path or SLICELENS_DIFFUSION_PATH)")
        try:
            from diffusers import DiffusionPipeline
        except ImportError as e:
            raise ModelError("the diffusers generator needs the 'generate' extra (diffusers)") from e
        pipe = DiffusionPipeline.from_pretrained(path, local_files_only=True)
        pipe.set_progress_bar_config(disable=True)
        gen = torch.Generator().manual_seed(seed)
        images, labels = [], []
        for prompt, k in zip(prompts, counts, strict=True):
            for s in range(0, int(k), self.p.batch_size):
                n = min(self.p.batch_size, int(k) - s)
                out = pipe([prompt.text] * n, num_inference_steps=self.p.steps,
                           height=self.p.height, width=self.p.height, generator=gen,
                           guidance_scale=self.p.guidance_scale, output_type="np").images
                for img in np.asarray(out):
                    images.append(resize_rgb(np.clip(np.round(img * 255), 0, 255).astype(np.uint8), ctx.size))
                    labels.append(prompt.label)
        return np.stack(images), np.asarray(labels, np.int64)
