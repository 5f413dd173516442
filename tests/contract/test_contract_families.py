"""The family kit's contract, over every member of every family (``slicelens.registry``):
found by the one discovery rule, named as registered, a subclass of its family's base,
defined in the family's package, with a readable parameter schema whose defaults validate,
and an unknown name is an error that lists the known ones."""

from __future__ import annotations

import pytest
from contract_families import all_families, members

from slicelens.errors import SliceLensError
from slicelens.registry import Family, param_schema

FAMILIES = all_families()
MEMBERS = members()


def test_every_family_has_members_and_its_own_package():
    for kind, fam in FAMILIES.items():
        assert fam.names(), f"family {kind!r} found no members"
        assert fam.base is not None, f"family {kind!r} names no base class"
    assert {n for _, n in MEMBERS if _ == "tda action"} == {"remove", "relabel", "upweight", "add"}


@pytest.mark.parametrize(("family", "name"), MEMBERS, ids=[f"{f}:{n}" for f, n in MEMBERS])
def test_member_is_registered_where_the_rule_finds_it(family, name):
    fam = FAMILIES[family]
    cls = fam.get(name)
    assert cls.name == name and issubclass(cls, fam.base)
    assert cls.__module__.startswith(fam.package + "."), (
        f"{family} {name!r} is defined in {cls.__module__}, outside {fam.package}: the "
        "discovery rule would not find it")


@pytest.mark.parametrize(("family", "name"), MEMBERS, ids=[f"{f}:{n}" for f, n in MEMBERS])
def test_member_parameter_schema(family, name):
    fam = FAMILIES[family]
    schema = fam.schema(name)
    assert isinstance(schema, list)
    for p in schema:
        assert set(p) == {"name", "type", "default", "required", "help"}
        assert p["name"].isidentifier()
    params = getattr(fam.get(name), "Params", None)
    if params is not None and hasattr(params, "model_validate") and params.model_fields:
        assert [p["name"] for p in schema] == list(params.model_fields)
        if not any(p["required"] for p in schema):   # the defaults are valid together
            params.model_validate({})
        for p in schema:
            assert p["help"], f"{family} {name!r}: parameter {p['name']!r} has no description"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_unknown_name_lists_the_known_ones(family):
    fam = FAMILIES[family]
    with pytest.raises(SliceLensError, match="choose one of") as e:
        fam.get("no-such-member")
    assert all(n in str(e.value) for n in fam.names())


def test_family_kit_rules(tmp_path):
    class Base: ...

    fam = Family("widget", "slicelens.registry", base=Base)

    @fam.register("a")
    class A(Base):
        def __init__(self, size: int = 3, *, colour: str = "red", **extra):
            """size: how big
            colour: what colour"""

    assert fam.names() == ["a"] and fam.create("a").name == "a"
    assert param_schema(A) == [
        {"name": "size", "type": "int", "default": 3, "required": False, "help": "how big"},
        {"name": "colour", "type": "str", "default": "red", "required": False, "help": "what colour"}]
    with pytest.raises(TypeError, match="must subclass Base"):
        fam.register("b")(type("B", (), {}))
    with pytest.raises(ValueError, match="registered twice"):
        fam.register("a")(type("A2", (Base,), {}))
