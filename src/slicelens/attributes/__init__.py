"""Attributes of images (HiBug Sec. 3.1): proposal, value proposal and assignment.

See :mod:`slicelens.attributes.base` for the family and its registries, and
:mod:`slicelens.pipeline.attributes` for the run-level functions the CLI calls.
"""

from slicelens.attributes.base import (
    ASSIGNERS,
    PROPOSERS,
    TAGGERS,
    Attribute,
    AttributeSpec,
    get_backend,
)
from slicelens.attributes.matrix import AttributeMatrix

__all__ = ["ASSIGNERS", "PROPOSERS", "TAGGERS", "Attribute", "AttributeMatrix", "AttributeSpec",
           "get_backend"]
