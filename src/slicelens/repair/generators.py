"""The generator family of HiBug's data generation: what a generator is given and returns.

A generator turns :class:`PromptSpec` s (a class and the attribute values it should show)
into images. ``compositor`` (:mod:`slicelens.repair.compositor`, the offline default)
and ``diffusers`` (:mod:`slicelens.repair.generate`) register here; any module of
``slicelens.repair`` may hold one (``GENERATOR_FAMILY.discover`` imports them all, the
one discovery rule of every family); the strategies that use generators
(``hibug-generate``, ``aaca``) call :func:`get_generator`. Keeping the
family in its own module lets the generators import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel

from slicelens.registry import Family

if TYPE_CHECKING:
    from slicelens.attributes.base import AttributeSpec
    from slicelens.attributes.matrix import AttributeMatrix
    from slicelens.data.dataset import ImageDataset
    from slicelens.store.run import Run

GENERATORS: dict[str, type] = {}
#: The generator family: every module of ``slicelens.repair`` is searched.
GENERATOR_FAMILY = Family("generator", "slicelens.repair", registry=GENERATORS)
#: Class decorator adding a generator to ``GENERATORS``.
register_generator = GENERATOR_FAMILY.register


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
        """Validate ``params`` against ``Params``; an unknown one is an error listing the
        known ones (:func:`slicelens.params.validate_params`)."""
        from slicelens.params import validate_params

        self.p = validate_params(self.Params, params, f"generator {self.name!r}")

    def generate(self, prompts: list[PromptSpec], counts: np.ndarray, ctx: GenerationContext,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``counts[i]`` images of ``prompts[i]``: (images uint8 (n, size, size, 3),
        labels int64 (n,))."""
        raise NotImplementedError


GENERATOR_FAMILY.base = Generator


def load_generators() -> dict[str, type]:
    """Import every module of ``slicelens.repair`` (running their decorators); return
    GENERATORS."""
    return GENERATOR_FAMILY.discover()


def get_generator(name: str, **params) -> Generator:
    """A new generator by registry name; an unknown name lists the known ones."""
    return GENERATOR_FAMILY.create(name, **params)
