"""The one registry helper every family uses, and the families built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from slicelens.registry import registrar


def test_registrar_files_names_and_refuses_a_second_class():
    reg: dict = {}
    register = registrar(reg, "widget")

    @register("a")
    class A: ...

    assert reg == {"a": A} and A.name == "a"
    assert register("a")(A) is A  # the same class again (module imported twice) is fine
    with pytest.raises(ValueError, match="widget 'a' registered twice"):
        @register("a")
        class B: ...


def test_every_family_is_filled():
    from slicelens.attributes.base import ASSIGNERS, PROPOSERS, TAGGERS, load_backends
    from slicelens.extract.methods import METHODS
    from slicelens.repair.base import REPAIRS, get_repair
    from slicelens.repair.generate import GENERATORS
    from slicelens.slicing.base import SLICERS, _load_builtin_slicers

    _load_builtin_slicers()
    load_backends()
    get_repair("corm")  # loads every strategy module
    assert {"cam", "gradcam"} <= set(METHODS)
    assert {"attribution", "error-clustering", "attributes"} <= set(SLICERS)
    assert {"corm", "hibug-select", "hibug-generate"} <= set(REPAIRS)
    assert "compositor" in GENERATORS
    assert PROPOSERS and TAGGERS and ASSIGNERS
    for reg in (METHODS, SLICERS, REPAIRS, GENERATORS, PROPOSERS, TAGGERS, ASSIGNERS):
        assert all(cls.name == name for name, cls in reg.items())


def test_new_plan_dir_numbers_folders(tmp_path):
    from slicelens.repair.plan import new_plan_dir
    from slicelens.store import Workspace

    ws = Workspace(tmp_path / "ws")
    a, b = new_plan_dir(ws.root, "corm"), new_plan_dir(str(ws.root), "corm")
    c = new_plan_dir(ws, "corm")
    assert [x.name for x in (a, b, c)] == ["corm-0001", "corm-0002", "corm-0003"]
    assert a.parent == Path(ws.root) / "plans"


def test_one_discovery_rule_imports_every_public_module_of_the_package(tmp_path, monkeypatch):
    import sys

    from slicelens.errors import SliceLensError
    from slicelens.registry import Family

    pkg = tmp_path / "kit_demo_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text("from slicelens.registry import Family\n"
                                 "class Tool: ...\n"
                                 "TOOLS = Family('tool', 'kit_demo_pkg', base=Tool)\n")
    (pkg / "hammer.py").write_text("from kit_demo_pkg.base import TOOLS, Tool\n"
                                   "@TOOLS.register('hammer')\nclass Hammer(Tool): ...\n")
    (pkg / "_draft.py").write_text("raise RuntimeError('a private module is never imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        from kit_demo_pkg.base import TOOLS

        assert isinstance(TOOLS, Family) and TOOLS.names() == ["hammer"]
        with pytest.raises(SliceLensError, match=r"unknown tool 'saw'; choose one of \['hammer'\]"):
            TOOLS.get("saw")
    finally:
        for m in [m for m in sys.modules if m.startswith("kit_demo_pkg")]:
            del sys.modules[m]
