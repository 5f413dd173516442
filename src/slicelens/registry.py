"""The family kit: one way to register, find, get and describe the members of every family.

A *family* is a set of interchangeable classes behind one interface: slicers, attribution
methods, attribute proposers / taggers / assigners, repair strategies, generators, TDA
actions and TDA candidate-group kinds. Each is one :class:`Family`:

- ``register(name)``: a class decorator that sets ``cls.name`` and files the class (a
  second, different class under a taken name is an error; a class that does not derive
  from the family's base is an error);
- one discovery rule for every family: :meth:`Family.discover` imports **every module
  of the family's package** whose name does not start with ``_`` (running their
  decorators), so a new member is one new file in that package;
- ``get(name)`` (the class; an unknown name is a :class:`SliceLensError` listing the
  known ones), ``create(name, **params)``, ``names()`` (sorted by the class attribute
  ``order``, then by name);
- ``schema(name)``: the member's parameters, read the same way for every family by
  :func:`param_schema` (a pydantic or dataclass ``Params`` class, else ``__init__``).

Example
-------
>>> tools = Family("tool", "slicelens.registry")
>>> @tools.register("hammer")
... class Hammer:
...     def __init__(self, weight: float = 1.5):
...         '''weight: in kg'''
>>> tools.get("hammer").name, tools.names()
('hammer', ['hammer'])
>>> tools.schema("hammer")
[{'name': 'weight', 'type': 'float', 'default': 1.5, 'required': False, 'help': 'in kg'}]
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

from slicelens.errors import SliceLensError


class Family:
    """One family of interchangeable classes.

    Parameters
    ----------
    kind : str
        What a member is called in messages ("slicer", "repair strategy").
    package : str
        Dotted name of the package whose modules :meth:`discover` imports (a plain
        module is imported alone).
    base : type, optional
        Every member must subclass it.
    registry : dict, optional
        The ``name -> class`` table to fill (kept as the family's public ``SLICERS`` /
        ``REPAIRS`` ... dict); a new one by default.
    """

    def __init__(self, kind: str, package: str, base: type | None = None,
                 registry: dict[str, type] | None = None):
        self.kind, self.package, self.base = kind, package, base
        self.registry: dict[str, type] = {} if registry is None else registry
        self._discovered = False

    def __repr__(self) -> str:
        return f"Family({self.kind!r}, {self.package!r}, {len(self.registry)} registered)"

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator: ``@family.register("name")`` sets ``cls.name`` and files it."""
        def deco(cls: type) -> type:
            if self.base is not None and not issubclass(cls, self.base):
                raise TypeError(f"{self.kind} {name!r}: {cls.__name__} must subclass "
                                f"{self.base.__name__}")
            # the same class again (a module imported twice under two names) is fine
            if name in self.registry and self.registry[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self.registry[name] = cls
            return cls
        return deco

    def discover(self) -> dict[str, type]:
        """Import every module of the family's package not starting with ``_``; return the
        registry. The one discovery rule of every family."""
        if not self._discovered:
            pkg = importlib.import_module(self.package)
            for mod in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
                if not mod.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{mod.name}")
            self._discovered = True
        return self.registry

    def names(self) -> list[str]:
        """Registered names, ordered by the class attribute ``order`` (default 0), then name."""
        reg = self.discover()
        return sorted(reg, key=lambda n: (getattr(reg[n], "order", 0), n))

    def get(self, name: str) -> type[Any]:
        """The class registered as ``name``; an unknown name lists the known ones."""
        reg = self.discover()
        if name not in reg:
            raise SliceLensError(f"unknown {self.kind} {name!r}; choose one of {self.names()}")
        return reg[name]

    def create(self, name: str, **params: Any) -> Any:
        """A new member: ``get(name)(**params)``."""
        return self.get(name)(**params)

    def schema(self, name: str) -> list[dict[str, Any]]:
        """The parameters of member ``name`` (see :func:`param_schema`)."""
        return param_schema(self.get(name))


def param_schema(cls: type) -> list[dict[str, Any]]:
    """One dict per parameter of ``cls``: ``name``, ``type``, ``default``, ``required``, ``help``.

    Read, in this order, from ``cls.Params`` when it is a pydantic model (``Field``
    descriptions are the help) or a dataclass (``field(metadata={"help": ...})``), else
    from the signature of ``cls.__init__`` (help from ``name: text`` lines of its
    docstring). ``**kwargs`` is not a parameter.
    """
    params = getattr(cls, "Params", None)
    if params is not None and hasattr(params, "model_fields"):
        out = []
        for n, f in params.model_fields.items():
            req = f.is_required()
            default = None if req else f.get_default(call_default_factory=True)
            out.append({"name": n, "type": _type_name(f.annotation), "default": default,
                        "required": req, "help": f.description or ""})
        return out
    if params is not None and dataclasses.is_dataclass(params):
        out = []
        for f in dataclasses.fields(params):
            req = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            factory: Any = f.default_factory
            default = (None if req else f.default if f.default is not dataclasses.MISSING
                       else factory())
            out.append({"name": f.name, "type": _type_name(f.type), "default": default,
                        "required": req, "help": f.metadata.get("help", "")})
        return out
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        return []
    helps = _doc_help(inspect.getdoc(init) or "")
    out = []
    for p in list(inspect.signature(init).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        req = p.default is p.empty
        ann = p.annotation
        out.append({"name": p.name, "type": "" if ann is p.empty else _type_name(ann),
                    "default": None if req else p.default, "required": req,
                    "help": helps.get(p.name, "")})
    return out


def _type_name(ann: Any) -> str:
    if isinstance(ann, str):
        return ann
    return ann.__name__ if isinstance(ann, type) else str(ann).replace("typing.", "")


def _doc_help(doc: str) -> dict[str, str]:
    out = {}
    for line in doc.splitlines():
        name, sep, text = line.strip().partition(":")
        if sep and name.isidentifier():
            out[name] = text.strip()
    return out


def registrar(registry: dict[str, type], kind: str) -> Callable[[str], Callable[[type], type]]:
    """``register`` of a family without a package (kept for code that made its own table).

    >>> TOOLS: dict = {}
    >>> register_tool = registrar(TOOLS, "tool")
    >>> @register_tool("hammer")
    ... class Hammer: ...
    >>> TOOLS["hammer"].name
    'hammer'
    """
    return Family(kind, "", registry=registry).register
