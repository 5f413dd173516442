"""Parameters are declared once, as pydantic models, and feed the CLI, the API and the run
record (so any run can be replayed from its stored config).

Example
-------
>>> from pydantic import BaseModel, Field
>>> class P(BaseModel):
...     epochs: int = Field(5, ge=1, description="training epochs")
>>> import argparse
>>> ap = argparse.ArgumentParser(); add_model_args(ap, P)
>>> from_args(P, ap.parse_args(["--epochs", "3"])).epochs
3
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Iterable
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from slicelens.errors import SliceLensError

M = TypeVar("M", bound=BaseModel)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_model_args(parser: argparse.ArgumentParser, model: type[BaseModel], *,
                   skip: tuple[str, ...] = (), rename: dict[str, str] | None = None,
                   required: bool = True) -> None:
    """Add one ``--option`` per field of ``model`` to ``parser``.

    Literal fields become ``choices``; bools become ``--x/--no-x``; lists take several
    values; ``rename`` maps a field to another flag name (``{"spec": "model"}``). Defaults stay with the model (the parser's default is ``None``), so the
    model is the single place they are declared. ``required=False`` leaves required
    fields optional on the command line (validation still asks for them).
    """
    rename = rename or {}
    for name, f in model.model_fields.items():
        if name in skip:
            continue
        flag = _flag(rename.get(name, name))
        ann = f.annotation
        origin = get_origin(ann)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in get_args(ann) if a is not type(None)]
            ann = args[0] if len(args) == 1 else str
            origin = get_origin(ann)
        desc = f.description or ""
        said = "default" in desc.lower()  # the description already says it: say it once
        help_ = (desc + (f" (default: {f.default!r})" if not f.is_required() and not said
                         else "")).replace("%", "%%")  # argparse formats %
        kw: dict[str, Any] = {"dest": name, "default": None, "help": help_}
        if ann is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
            continue
        if origin is Literal:
            kw["choices"] = list(get_args(ann))
            kw["type"] = type(get_args(ann)[0])
        elif origin in (list, tuple):
            inner = get_args(ann)[0] if get_args(ann) else str
            kw["nargs"] = "+"
            kw["type"] = inner if inner in (int, float, str) else str
        elif ann in (int, float, str):
            kw["type"] = ann
        else:
            kw["type"] = str
        if f.is_required() and required:
            kw["required"] = True
        parser.add_argument(flag, **kw)


def from_args(model: type[M], args: argparse.Namespace, **overrides) -> M:
    """Build ``model`` from parsed CLI args (unset options keep the model's defaults)."""
    values = {k: getattr(args, k) for k in model.model_fields if getattr(args, k, None) is not None}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return validate(model, values)


def validate(model: type[M], values: dict) -> M:
    """Validate ``values`` into ``model``; a bad field is a :class:`SliceLensError` naming it."""
    try:
        return model.model_validate(values)
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise SliceLensError(f"invalid {model.__name__}: {msgs}") from None


def refuse_unknown(known: Iterable[str], values: dict, what: str) -> None:
    """A :class:`SliceLensError` naming the first of ``values`` not in ``known``, and the
    known ones (a typo never falls back silently to a default); ``what`` names the thing
    configured, e.g. ``"repair strategy 'dfr'"``.

    >>> refuse_unknown({"sigma", "seed"}, {"sigma": 1.0, "sgima": 2.0}, "generator 'noise'")
    Traceback (most recent call last):
    ...
    slicelens.errors.SliceLensError: unknown parameter 'sgima' of generator 'noise'; known: seed, sigma
    """
    known = set(known)
    unknown = sorted(set(values) - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none (it takes no parameters)"
        raise SliceLensError(f"unknown parameter {unknown[0]!r} of {what}; known: {names}")


def validate_params(model: type[M], values: dict, what: str) -> M:
    """The parameters of a family member: :func:`refuse_unknown` against ``model``'s
    fields, then :func:`validate`."""
    refuse_unknown(model.model_fields, values, what)
    return validate(model, values)
