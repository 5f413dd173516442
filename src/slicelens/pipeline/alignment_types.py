"""What :func:`slicelens.pipeline.repair_alignment.repair_alignments` returns: the concept
alignment of every stored AACA repair (AACA "Evaluation of Concept Alignment", Fig. 4),
as dataclasses. The API's schemas derive from them (``server/routers/concepts.py``).

A repair's figures are cached as JSON in ``<repair run>/concept_alignment.json``
(:meth:`RepairAlignment.to_json` / :meth:`RepairAlignment.from_json`); a class's name is
stored under the key ``"class"``, as the API sends it.

Example
-------
>>> rep = RepairAlignment("run-2", "run-3", "sel", "compositor",
...                       classes=[ClassFigures(before=0.5, after=0.25, class_="cat")])
>>> rep.to_json()["classes"][0]["class"]
'cat'
>>> RepairAlignment.from_json(rep.to_json()) == rep
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def _doc(text: str) -> Any:
    """A field that defaults to None, with ``text`` as its description in the API."""
    return field(default=None, metadata={"doc": text})


@dataclass
class Figures:
    """JS(train || val) in bits before (initial training), after the repair and after
    its matched control; ``fall`` = 1 - after / before; null where not computable."""

    before: float | None = None
    after: float | None = None
    control: float | None = None
    fall: float | None = None
    bound: float | None = _doc("greedy lowest JS(aug || val) that adding the repair's k "
                               "candidates per class could reach (a diagnostic; the true "
                               "minimum is at most this); null without candidates")
    concepts: int | None = _doc("validation concepts compared")
    skipped: str | None = _doc("why a class has no figures")
    lower: float | None = _doc("proven lower bound: no choice of the repair's k candidates "
                               "per class gives a lower JS(aug || val) (Frank-Wolfe "
                               "certificate on the convex relaxation); null without candidates")


@dataclass(kw_only=True)
class ClassFigures(Figures):
    """:class:`Figures` within one class (JSON key ``"class"``)."""

    class_: str

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["class"] = d.pop("class_")
        return d

    @classmethod
    def from_json(cls, d: dict) -> ClassFigures:
        d = dict(d)
        return cls(class_=d.pop("class"), **d)


@dataclass
class RepairAlignment:
    """The concept alignment of one stored AACA repair beside its matched control; the
    figures are None when ``error`` says why there are none."""

    run: str
    control: str | None
    variant: str | None
    source: str | None
    description: str = ""
    added: int | None = None
    tagger: str | None = _doc("how the images were tagged with concepts")
    error: str | None = _doc("why this repair has no figures")
    control_error: str | None = None
    bound_k: int | None = _doc("the budget (images per class) of the bound")
    bound_method: str | None = _doc("how the bound is computed (greedy)")
    bound_skipped: str | None = _doc("why there is no bound")
    lower_method: str | None = _doc("how the lower bound is computed")
    overall: Figures | None = None
    classes: list[ClassFigures] | None = None

    def to_json(self) -> dict:
        """The JSON of the cache file: the fields by name, a class's name as ``"class"``."""
        d = dataclasses.asdict(self)
        if self.classes is not None:
            d["classes"] = [c.to_json() for c in self.classes]
        return d

    @classmethod
    def from_json(cls, d: dict) -> RepairAlignment:
        """The inverse of :meth:`to_json`; keys left out (older cache files leave out the
        None ones) are None."""
        d = dict(d)
        if d.get("overall") is not None:
            d["overall"] = Figures(**d["overall"])
        if d.get("classes") is not None:
            d["classes"] = [ClassFigures.from_json(c) for c in d["classes"]]
        return cls(**d)


@dataclass
class Alignment:
    """Every stored AACA repair of ``base_run``, oldest first."""

    base_run: str
    jsd: str = field(metadata={"doc": "what the figures are: JS divergence in bits"})
    repairs: list[RepairAlignment]
    detail: str | None = _doc("why there is nothing to show, and how to make a repair")
