"""The generator family of HiBug's data generation: what a generator is given and returns.

A generator turns :class:`PromptSpec` s (a class and the attribute values it should show)
into images. ``compositor`` (:mod:`slicelens.repair.compositor`, the offline default)
and ``diffusers`` (:mod:`slicelens.repair.generate`) register here; the strategies that
use generators (``hibug-generate``, ``aaca``) call :func:`get_generator`. Keeping the
family in its own module lets the generators import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel

from slicelens.errors import SliceLensError
from slicelens.registry import registrar

if TYPE_CHECKING:
    from slicelens.attributes.base import AttributeSpec
    from slicelens.attributes.matrix import AttributeMatrix
    from slicelens.data.dataset import ImageDataset
    from slicelens.store.run import Run

GENERATORS: dict[str, type] = {}
#: Modules that define generators (imported by :func:`get_generator`).
GENERATOR_MODULES = ("slicelens.repair.compositor", "slicelens.repair.generate")


#: Class decorator adding a generator to ``GENERATORS``.
register_generator = registrar(GENERATORS, "generator")


@dataclass
class PromptSpec:
    """What to generate: a class and the attribute values it should show."""

    label: int
    conditions: dict[str, str] = field(default_factory=dict)
    text: str = ""


@dataclass
class GenerationContext:
    """What a generator may read: the run, its dataset and attributes, the output size."""

    run: Run
    dataset: ImageDataset
    size: int
    matrix: AttributeMatrix | None = None
    spec: AttributeSpec | None = None


class Generator:
    """Base: ``Params`` validated on construction; ``generate(prompts, counts, ctx, seed)``
    returns ``(images uint8 (n, size, size, 3), labels int64 (n,))``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, **params):
        from slicelens.params import validate

        self.p = validate(self.Params, params)

    def generate(self, prompts: list[PromptSpec], counts: np.ndarray, ctx: GenerationContext,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``counts[i]`` images of ``prompts[i]``: (images uint8 (n, size, size, 3),
        labels int64 (n,))."""
        raise NotImplementedError


def load_generators() -> dict[str, type]:
    """Import the modules of :data:`GENERATOR_MODULES` (running their decorators); return
    GENERATORS."""
    import importlib

    for name in GENERATOR_MODULES:
        importlib.import_module(name)
    return GENERATORS


def get_generator(name: str, **params) -> Generator:
    """A new generator by registry name; an unknown name lists the known ones."""
    load_generators()
    if name not in GENERATORS:
        raise SliceLensError(f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}")
    return GENERATORS[name](**params)
