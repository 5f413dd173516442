"""Imports point down: every ``slicelens`` module imports only its own layer or lower ones.

The layers (``docs/architecture.md``), bottom to top::

    0 base       slicelens (root), errors, params, utils, registry, atomic
    1 inputs     data, models
    2 store      store
    3 parts      extract, explain, slicing, attributes, feedback, concepts, evaluate, tda, repair
    4 pipeline   pipeline
    5 library    api, export, demo
    6 shells     cli, server, show, __main__

Every import statement of every module under ``src/slicelens`` is read with ``ast``, at
module level and inside functions (imports made by name through ``importlib``, the
registries' plug-in discovery and the root's lazy ``__getattr__``, are not statements and
are not checked). A new top-level module or package must be given a layer here.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "slicelens"

LAYERS: dict[str, int] = {
    "slicelens": 0, "errors": 0, "params": 0, "utils": 0, "registry": 0, "atomic": 0,
    "data": 1, "models": 1,
    "store": 2,
    **dict.fromkeys(("extract", "explain", "slicing", "attributes", "feedback", "concepts",
                     "evaluate", "tda", "repair"), 3),
    "pipeline": 4,
    "api": 5, "export": 5, "demo": 5,
    "cli": 6, "server": 6, "show": 6, "__main__": 6,
}
LAYER_NAMES = ["base", "inputs", "store", "parts", "pipeline", "library", "shells"]
#: Only these may import ``slicelens.cli`` or ``slicelens.server``.
SHELLS = {"cli", "server", "show", "__main__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def top(module: str) -> str:
    """``slicelens.repair.jtt`` -> ``repair``; the root package -> ``slicelens``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports(path: Path, name: str | None = None, known=None) -> list[tuple[int, str]]:
    """(line, imported slicelens module) for every import statement in ``path`` (the
    module ``name``, by default the one ``path`` is; ``known``: the modules that exist)."""
    known = MODULES if known is None else known
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # ``from slicelens.store import atomic`` imports the module slicelens.store.atomic
            subs = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in known]
            out += [(node.lineno, m) for m in subs or [source]]
    return [(line, m) for line, m in out if m == "slicelens" or m.startswith("slicelens.")]


def all_imports(modules=None):
    modules = modules or MODULES
    for name, path in modules.items():
        for line, target in imports(path, name, {**MODULES, **modules}):
            yield name, path, line, target


def where(path: Path) -> str:
    return str(path.relative_to(SRC.parent)) if path.is_relative_to(SRC.parent) else str(path)


def upward(modules=None) -> list[str]:
    """One line (file:line: who imports what) per import that points up."""
    up = []
    for name, path, line, target in all_imports(modules):
        a, b = LAYERS[top(name)], LAYERS.get(top(target))
        if b is None:
            up.append(f"{where(path)}:{line}: {target} is not a module")
        elif b > a:
            up.append(f"{where(path)}:{line}: {name} ({LAYER_NAMES[a]}) imports {target} "
                      f"({LAYER_NAMES[b]})")
    return up


def shell_importers(modules=None) -> list[str]:
    """One line per import of ``slicelens.cli`` / ``slicelens.server`` outside the shells."""
    return [f"{where(path)}:{line}: {name} imports {target}"
            for name, path, line, target in all_imports(modules)
            if top(target) in ("cli", "server") and top(name) not in SHELLS]


def test_every_module_has_a_layer():
    missing = sorted({top(m) for m in MODULES} - set(LAYERS))
    assert not missing, f"give these a layer in tests/test_layers.py and docs/architecture.md: {missing}"


def test_imports_point_down():
    up = upward()
    assert not up, "imports that point up:\n" + "\n".join(up)


def test_only_shells_import_cli_and_server():
    bad = shell_importers()
    assert not bad, "\n".join(bad)


def test_only_the_demo_command_knows_the_demo():
    """Everything demo-only lives in ``slicelens.demo``; outside it, only the shell command
    ``slicelens demo`` imports it (no demo branches elsewhere)."""
    bad = [f"{where(path)}:{line}: {name} imports {target}"
           for name, path, line, target in all_imports()
           if top(target) == "demo" and top(name) != "demo" and name != "slicelens.cli.demo"]
    assert not bad, "\n".join(bad)


#: Only these turn a path into a workspace (``slicelens.store.as_workspace``): the library's
#: functions take a ``Workspace`` object and refuse a path (``store.require_workspace``).
COERCING = SHELLS | {"demo", "store"}


def coercions(modules=None) -> list[str]:
    """One line per use of ``as_workspace`` (imported, called or reached as an attribute)
    outside :data:`COERCING`."""
    bad = []
    for name, path in (modules or MODULES).items():
        if top(name) in COERCING:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            named = ((isinstance(node, ast.alias) and node.name == "as_workspace")
                     or (isinstance(node, ast.Name) and node.id == "as_workspace")
                     or (isinstance(node, ast.Attribute) and node.attr == "as_workspace"))
            if named:
                bad.append(f"{where(path)}:{getattr(node, 'lineno', '?')}: {name} uses as_workspace")
    return bad


def test_only_shells_turn_paths_into_workspaces():
    bad = coercions()
    assert not bad, ("take a Workspace and let the shells (cli, server, demo) open it:\n"
                     + "\n".join(bad))


def test_checker_finds_coercions(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text("def f(w):\n"
                    "    from slicelens.store import as_workspace\n"
                    "    import slicelens.store as st\n"
                    "    return as_workspace(w), st.as_workspace(w)\n")
    found = coercions({"slicelens.pipeline.fake": fake})
    assert [line.split(": ")[0].rsplit(":", 1)[1] for line in found] == ["2", "4", "4"]
    assert coercions({"slicelens.cli.fake": fake}) == []


def cycles(modules=None) -> list[list[str]]:
    """Groups of modules that import each other (strongly connected components of the
    import graph, imports inside functions included). A module importing its own package
    (``import slicelens.slicing as pkg`` to discover its plug-ins) is not an edge."""
    graph: dict[str, set[str]] = {m: set() for m in (modules or MODULES)}
    for name, _, _, target in all_imports(modules):
        if target in graph and target != name and not name.startswith(target + "."):
            graph[name].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v):  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    found = cycles()
    assert not found, "modules that import each other:\n" + "\n".join(map(str, found))


def test_checker_finds_upward_imports_anywhere(tmp_path):
    # module level, inside a function, relative, a submodule named in ``from``: all seen
    fake = tmp_path / "fake.py"
    fake.write_text("from slicelens.errors import DataError\n"
                    "def f():\n"
                    "    from slicelens.pipeline.slices import assign_all\n"
                    "    from ..store import atomic\n"
                    "    import slicelens.cli.common\n")
    mods = {"slicelens.repair.fake": fake}
    assert [t for _, t in imports(fake, "slicelens.repair.fake")] == [
        "slicelens.errors", "slicelens.pipeline.slices", "slicelens.store.atomic",
        "slicelens.cli.common"]
    up = upward(mods)
    assert len(up) == 2 and up[0].endswith(":3: slicelens.repair.fake (parts) imports "
                                           "slicelens.pipeline.slices (pipeline)")
    assert "fake.py:5:" in up[1] and len(shell_importers(mods)) == 1


def test_checker_finds_cycles(tmp_path):
    a, b, c = (tmp_path / f"{n}.py" for n in "abc")
    a.write_text("def f():\n    from slicelens.repair import b\n")
    b.write_text("import slicelens.repair.a\nimport slicelens.repair\n")
    c.write_text("import slicelens.repair.a\n")
    mods = {"slicelens.repair": tmp_path / "init.py", "slicelens.repair.a": a,
            "slicelens.repair.b": b, "slicelens.repair.c": c}
    (tmp_path / "init.py").write_text("from slicelens.repair import c\n")
    assert cycles(mods) == [["slicelens.repair.a", "slicelens.repair.b"]]
