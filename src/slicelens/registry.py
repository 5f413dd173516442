"""One helper for every family's registry (slicers, methods, repairs, generators, ...).

Each family keeps ``REGISTRY: dict[str, type]`` in its ``base.py`` and a decorator made
here, so CLI choices, web menus and contract tests read the same table.

Example
-------
>>> TOOLS: dict = {}
>>> register_tool = registrar(TOOLS, "tool")
>>> @register_tool("hammer")
... class Hammer: ...
>>> TOOLS["hammer"].name
'hammer'
"""

from __future__ import annotations

from collections.abc import Callable


def registrar(registry: dict[str, type], kind: str) -> Callable[[str], Callable[[type], type]]:
    """A class decorator factory: ``@register(name)`` sets ``cls.name`` and files the class.

    A second, different class under a taken name is an error; re-registering the same
    class (a module imported twice under two names) is not.
    """
    def register(name: str) -> Callable[[type], type]:
        def deco(cls: type) -> type:
            if name in registry and registry[name] is not cls:
                raise ValueError(f"{kind} {name!r} registered twice")
            setattr(cls, "name", name)  # noqa: B010 - any class, not one with a name field
            registry[name] = cls
            return cls
        return deco
    return register
