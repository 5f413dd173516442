"""Response schemas derived from the library's dataclasses: one definition per shape.

A response that shows a library object (an annotation, its history, a job, a TDA row) is
not a second, hand-copied list of fields: :func:`derived_from` builds the pydantic model
from the dataclass's fields and type hints (``pydantic.create_model``), leaving out what
the API does not send, renaming, and keeping what the class body declares (a narrower
type, a default, a field the route computes). A field added to, renamed in or retyped in
the library therefore changes the OpenAPI document, and through it the web client's
generated types (``web/src/generated/api.ts``), where ``tsc`` checks every use.

Derived fields are required (the server always sends them), in the dataclass's order,
followed by the fields only the class body has. A ``float`` field becomes ``float |
None`` because JSON has no NaN: :meth:`View.of` sends NaN and infinities as null.

Example
-------
>>> from dataclasses import dataclass
>>> @dataclass
... class Point:
...     name: str
...     x: float
...     secret: str = ""
>>> @derived_from(Point, exclude=("secret",), rename={"x": "x_pos"})
... class PointOut(View):
...     label: str = ""
>>> PointOut.of(Point("a", float("nan"), "s"), label="A").model_dump()
{'name': 'a', 'x_pos': None, 'label': 'A'}
>>> PointOut.model_json_schema()["required"]
['name', 'x_pos']

A field whose type is (a list of, or an optional) dataclass that has a view gets that
view, and :meth:`View.of` fills it from the nested objects; a dataclass field's
``metadata["doc"]`` is its description in the schema:

>>> from dataclasses import field, make_dataclass
>>> Path = make_dataclass("Path", [("points", list[Point]), ("start", Point | None,
...     field(default=None, metadata={"doc": "where it begins"}))])
>>> @derived_from(Path)
... class PathOut(View):
...     pass
>>> PathOut.of(Path([Point("b", 1.0)])).model_dump()
{'points': [{'name': 'b', 'x_pos': 1.0, 'label': ''}], 'start': None}
>>> PathOut.model_json_schema()["properties"]["start"]["description"]
'where it begins'
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, Field, create_model

V = TypeVar("V", bound="View")

#: library dataclass -> the view derived from it (nested fields of that type get the view)
VIEWS: dict[type, type[View]] = {}


class View(BaseModel):
    """A response schema made by :func:`derived_from`; :meth:`of` fills it from a library
    object."""

    #: API field name -> the library attribute it is read from (the derived fields)
    derived: ClassVar[dict[str, str]] = {}

    @classmethod
    def of(cls: type[V], obj: Any, **values: Any) -> V:
        """The view of ``obj``: each derived field read from its attribute (NaN or an
        infinity sent as None), the others (fields of the class body) from ``values``."""
        data = {name: getattr(obj, attr) for name, attr in cls.derived.items()
                if name not in values}
        data.update(values)
        return cls(**{k: _value(v) for k, v in data.items()})


def _value(v: Any) -> Any:
    """``v`` as a view sends it: NaN and infinities None, a dataclass with a view (or a
    list of them) as that view."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if type(v) in VIEWS:
        return VIEWS[type(v)].of(v)
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


def _viewed(kind: Any) -> Any:
    """``kind`` with each dataclass that has a view replaced by the view, inside ``list``
    and ``X | None``."""
    if kind in VIEWS:
        return VIEWS[kind]
    args = typing.get_args(kind)
    if typing.get_origin(kind) is list:
        return list[_viewed(args[0])]  # type: ignore[misc]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, [_viewed(a) for a in args])
    return kind


def derived_from(source: type, *, exclude: Iterable[str] = (),
                 rename: Mapping[str, str] | None = None,
                 optional: Iterable[str] = (),
                 order: Iterable[str] | None = None) -> Callable[[type[V]], type[V]]:
    """Class decorator: the decorated :class:`View` gets the fields of the dataclass
    ``source``.

    Parameters
    ----------
    source : dataclass type
        The library type the response shows.
    exclude : names of ``source`` fields the API does not send.
    rename : dict library name -> API name.
    optional : names of ``source`` fields the API may leave out (default None; e.g. a
        report row's ``OPTIONAL`` fields, which its JSON omits when unmeasured).
    order : API names of every field in the order the response sends them (default: the
        derived fields, then the class body's); keeps a response's keys where they were.

    The class body's fields replace derived fields of the same API name and add the
    others; its docstring (if any) is the schema's description.
    """
    rename, exclude, optional = dict(rename or {}), set(exclude), set(optional)
    names = [f.name for f in dataclasses.fields(source)]
    unknown = (exclude | set(rename) | optional) - set(names)
    if unknown:
        raise TypeError(f"{source.__name__} has no fields {sorted(unknown)}")
    hints = typing.get_type_hints(source)
    docs = {f.name: f.metadata.get("doc") for f in dataclasses.fields(source)}

    def make(cls: type[V]) -> type[V]:
        own = cls.model_fields
        defs: dict[str, Any] = {}
        derived: dict[str, str] = {}
        for name in names:
            if name in exclude:
                continue
            api = rename.get(name, name)
            derived[api] = name
            if api in own:
                defs[api] = (own[api].annotation, own[api])
            else:
                kind = float | None if hints[name] is float else _viewed(hints[name])
                defs[api] = ((kind | None, Field(None, description=docs[name]))
                             if name in optional else (kind, Field(description=docs[name])))
        defs.update((k, (f.annotation, f)) for k, f in own.items() if k not in defs)
        if order is not None:
            wanted = list(order)
            if sorted(wanted) != sorted(defs):
                raise TypeError(f"order {wanted} must name each field of {cls.__name__} once: "
                                f"{list(defs)}")
            defs = {k: defs[k] for k in wanted}
        model = create_model(cls.__name__, __base__=View, __doc__=cls.__doc__,
                             __module__=cls.__module__, **defs)
        model.derived = derived
        VIEWS[source] = model
        return typing.cast("type[V]", model)

    return make
