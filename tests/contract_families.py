"""Every family of the library, for the contract tests (not a test module)."""

from __future__ import annotations


def all_families() -> dict:
    """Family name -> :class:`slicelens.registry.Family`, every one of the library."""
    from slicelens.attributes.base import FAMILIES as ATTRIBUTE_FAMILIES
    from slicelens.extract.methods import METHOD_FAMILY
    from slicelens.repair.base import REPAIR_FAMILY
    from slicelens.repair.generators import GENERATOR_FAMILY
    from slicelens.slicing.base import SLICER_FAMILY
    from slicelens.tda.actions import ACTION_FAMILY
    from slicelens.tda.kinds.base import KIND_FAMILY

    return {"slicer": SLICER_FAMILY, "attribution method": METHOD_FAMILY,
            **{f"attribute {k}": f for k, f in ATTRIBUTE_FAMILIES.items()},
            "repair strategy": REPAIR_FAMILY, "generator": GENERATOR_FAMILY,
            "tda action": ACTION_FAMILY, "tda candidate kind": KIND_FAMILY}


def members() -> list[tuple[str, str]]:
    """(family, member name) for every registered member of every family."""
    return [(f, n) for f, fam in all_families().items() for n in fam.names()]
