"""The attribute family: the spec type and the three backend registries of HiBug Sec. 3.1.

HiBug describes every image by a set of task attributes ``A`` (``gender``, ``background``)
each with values ``V(a)`` (``male``, ``female``; ``grass``, ``brick``). Three steps fill
them in, each behind one small interface with interchangeable backends:

- attribute *name* proposal, ``PROPOSERS`` (``propose(task) -> AttributeSpec``):
  ``builtin`` (task-independent visual attributes, the offline default), ``user`` (a
  YAML / JSON file) and ``llm`` (an OpenAI-compatible chat endpoint);
- attribute *value* proposal from representative images, ``TAGGERS``
  (``tag(images, attribute) -> list[list[str]]`` candidate values per image);
- attribute *assignment*, ``ASSIGNERS`` (``assign(run, attributes, index) ->
  AttributeMatrix``): ``imagenet`` (zero-shot through the 1000 ImageNet classes, offline
  default for semantic attributes), ``stats`` (image statistics), ``metadata``
  (manifest columns), ``clip`` and ``vqa`` (optional, when weights are on disk).

Like every family (``slicelens.registry.Family``), the CLI choices and the contract tests
(tests/contract/test_attributes.py) read the registries.

Example
-------
>>> spec = AttributeSpec([Attribute("lighting", ["dark", "bright"], backend="stats",
...                                 measure="brightness")], source="user")
>>> AttributeSpec.from_json(spec.to_json()).attributes[0].values
['dark', 'bright']
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from slicelens.errors import DataError, SliceLensError
from slicelens.registry import Family

PROPOSERS: dict[str, type] = {}
TAGGERS: dict[str, type] = {}
ASSIGNERS: dict[str, type] = {}
REGIONS = ("image", "background", "object")

#: The three families; every module of ``slicelens.attributes`` is searched for members.
PROPOSER_FAMILY = Family("attribute proposer", "slicelens.attributes", registry=PROPOSERS)
TAGGER_FAMILY = Family("tagger", "slicelens.attributes", registry=TAGGERS)
ASSIGNER_FAMILY = Family("assigner", "slicelens.attributes", registry=ASSIGNERS)
FAMILIES = {"proposer": PROPOSER_FAMILY, "tagger": TAGGER_FAMILY, "assigner": ASSIGNER_FAMILY}

register_proposer = PROPOSER_FAMILY.register
register_tagger = TAGGER_FAMILY.register
register_assigner = ASSIGNER_FAMILY.register


def load_backends() -> None:
    """Import every backend module so that the registries are complete."""
    for family in FAMILIES.values():
        family.discover()


def get_backend(registry: dict, name: str, **params):
    """A new backend from ``registry`` (``PROPOSERS``, ``TAGGERS``, ``ASSIGNERS``) by name;
    an unknown name lists the known ones."""
    family = next(f for f in FAMILIES.values() if f.registry is registry)
    if name not in family.discover():
        raise SliceLensError(f"unknown backend {name!r}; choose one of {family.names()}")
    return family.create(name, **params)


def read_yaml_or_json(path, what: str):
    """The parsed content of a YAML (``.yaml`` / ``.yml``) or JSON file; a missing or
    unparsable file is a :class:`DataError` naming ``what`` and the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise DataError(f"cannot read {what}: {e.strerror}", file=str(path)) from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as e:  # yaml and json raise different types
        raise DataError(f"{what} is not valid {path.suffix[1:] or 'json'}: {e}",
                        file=str(path)) from None


class Backend:
    """Base of every backend: pydantic ``Params``, validated on construction (no I/O)."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, **params):
        """Validate ``params`` against ``Params``; an unknown one is an error listing the
        known ones (:func:`slicelens.params.validate_params`)."""
        from slicelens.params import validate_params

        kind = next((f.kind for f in FAMILIES.values() if f.registry.get(self.name) is type(self)),
                    "attribute backend")
        self.p = validate_params(self.Params, params, f"{kind} {self.name!r}")

    def check_supported(self, attributes: list[Attribute], known, verb: str = "measure") -> None:
        """A :class:`DataError` (field ``measure``) naming the first attribute this backend
        cannot assign (its ``supports`` says no) and the measures it knows."""
        for a in attributes:
            if not self.supports(a):  # type: ignore[attr-defined]  # assigners define it
                raise DataError(f"the {self.name} backend cannot {verb} attribute {a.name!r} "
                                f"(measure {a.measure!r}; known: {', '.join(known)})",
                                field="measure")


for _family in FAMILIES.values():
    _family.base = Backend


@dataclass
class Attribute:
    """One attribute ``a`` and its values ``V(a)``.

    Attributes
    ----------
    name : str
        ``"background"``, ``"object size"``.
    values : list of str
        Possible values; empty until value proposal fills them (or for ``stats`` /
        ``metadata`` attributes, whose values come from the data).
    backend : str, optional
        Assigner that fills this attribute (``ASSIGNERS`` key); None = the run's default.
    measure : str, optional
        For the ``stats`` backend: the image statistic (``brightness``, ``object_size``...);
        for ``metadata``: the manifest column.
    phrase : str
        How a value reads in a slice description; ``{value}``, ``{attribute}`` and
        ``{object}`` are filled in (``"{value} {object}s"`` -> "small digits").
    question : str
        The VQA question of HiBug Eq. (1) for value proposal.
    region : str
        What image-model backends look at: ``"image"`` (all of it), ``"background"``
        (the foreground filled with the border colour) or ``"object"`` (the foreground's
        bounding box).
    """

    name: str
    values: list[str] = field(default_factory=list)
    backend: str | None = None
    measure: str | None = None
    phrase: str = "{attribute} {value}"
    question: str = "What is the {attribute} of the {object} in the image?"
    region: str = "image"

    def __post_init__(self):
        if self.region not in REGIONS:
            raise DataError(f"attribute {self.name!r}: region must be one of {REGIONS}, "
                            f"got {self.region!r}", field="region")

    def describe(self, value: str, obj: str = "object") -> str:
        return self.phrase.format(value=value, attribute=self.name, object=obj)


@dataclass
class AttributeSpec:
    """The attribute list ``A`` of a run (stored as ``<run>/attributes/spec.json``).

    Attributes
    ----------
    attributes : list of Attribute
    source : str
        Which proposer made it (``builtin``, ``user``, ``llm``) or ``"edited"``.
    task : str
        The task description given to the proposer.
    object : str
        What the classifier looks at ("digit", "person"), used in descriptions.
    """

    attributes: list[Attribute]
    source: str = "user"
    task: str = ""
    object: str = "object"

    def __post_init__(self):
        names = [a.name for a in self.attributes]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise DataError(f"attribute {sorted(dup)[0]!r} listed twice", field="attributes")

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.attributes]

    def get(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise SliceLensError(f"no attribute {name!r}; have {self.names}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict, file: str | None = None) -> AttributeSpec:
        if not isinstance(d, dict) or "attributes" not in d:
            raise DataError("an attribute spec needs a top-level 'attributes' list",
                            file=file, field="attributes")
        attrs = []
        for i, a in enumerate(d["attributes"]):
            if isinstance(a, str):
                a = {"name": a}
            if not isinstance(a, dict) or not a.get("name"):
                raise DataError(f"attribute #{i + 1} needs a 'name'", file=file, field="name")
            unknown = set(a) - set(Attribute.__dataclass_fields__)
            if unknown:
                raise DataError(f"attribute {a['name']!r} has unknown keys {sorted(unknown)}",
                                file=file, field=sorted(unknown)[0])
            vals = a.get("values") or []
            if not isinstance(vals, list):
                raise DataError(f"attribute {a['name']!r}: 'values' must be a list",
                                file=file, field="values")
            attrs.append(Attribute(**{**a, "name": str(a["name"]),
                                      "values": [str(v) for v in vals]}))
        extra = {k: d[k] for k in ("source", "task", "object") if k in d}
        return cls(attrs, **extra)

    def save(self, path) -> Path:
        """Write as JSON, or YAML when ``path`` ends in ``.yaml`` / ``.yml`` (atomically)."""
        from slicelens.store.atomic import write_bytes

        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            import yaml

            text = yaml.safe_dump(self.to_json(), sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(self.to_json(), indent=1)
        write_bytes(path, text.encode())
        return path

    @classmethod
    def load(cls, path) -> AttributeSpec:
        """Read a JSON or YAML spec; a bare list of names is accepted too."""
        d = read_yaml_or_json(path, "attribute spec")
        if isinstance(d, list):
            d = {"attributes": d}
        return cls.from_json(d, file=str(path))
