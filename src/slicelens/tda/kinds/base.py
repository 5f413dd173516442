"""The candidate-group kinds of training-data attribution: what a kind is, and its registry.

A kind is a registered class that owns how its training groups are formed
(:meth:`CandidateKind.groups`) and what they are (``label``, one line for menus and help),
so adding one is one module of ``slicelens.tda.kinds`` (found by ``KIND_FAMILY.discover``).
The needfinding study (Sec. 4.5, Sec. 5.2) asks for groups "that make sense to users
(e.g. based on ground truth or predicted class)".

Example
-------
>>> g = TrainingGroup("label a", "label", np.array(["s1", "s2"]))
>>> g.size
2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from slicelens.errors import SliceLensError
from slicelens.registry import Family


@dataclass
class TrainingGroup:
    """A candidate group of training samples (``ids`` are labelled train samples)."""

    name: str
    kind: str
    ids: np.ndarray

    def __post_init__(self):
        self.ids = np.asarray(self.ids, str)
        if self.kind not in KIND_FAMILY.discover():
            raise SliceLensError(f"training group kind must be one of {tuple(KIND_FAMILY.names())}, "
                                 f"got {self.kind!r}")

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "ids": self.ids.tolist()}


@dataclass
class CandidateContext:
    """What a kind may read to form its groups.

    Attributes
    ----------
    problem : HeadProblem
    error : ErrorGroup
    slice_sets : sequence of SliceSet
    train_assign : dict slicer -> int array, optional
    attributes : AttributeMatrix, optional
    k : int
        Neighbours per error (``knn``).
    sample_ids : str array, optional
        Which training samples (``sample``; default all).
    """

    problem: Any
    error: Any
    slice_sets: Any = ()
    train_assign: dict | None = None
    attributes: Any = None
    k: int = 10
    sample_ids: Any = None

    @property
    def train(self) -> np.ndarray:
        """Problem positions of the labelled training samples."""
        return self.problem.split_index("train")

    def group(self, name: str, kind: str, mask: np.ndarray) -> TrainingGroup:
        """The training samples selected by a boolean ``mask`` over :attr:`train`."""
        return TrainingGroup(name, kind, self.problem.ids[self.train[mask]])


class CandidateKind:
    """Base of every kind.

    Attributes
    ----------
    name : str
        Registry name (set by ``@register_kind``).
    order : int
        Position in the list of kinds (and in the candidate list).
    auto : bool
        Part of the default candidates (``AUTO_KINDS``).
    min_size : bool
        Whether groups below ``min_group`` are dropped (single samples are exempt).
    label : str
        What a group of this kind is, in words.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 0
    auto: ClassVar[bool] = True
    min_size: ClassVar[bool] = True
    label: ClassVar[str] = ""

    def groups(self, ctx: CandidateContext) -> list[TrainingGroup]:  # pragma: no cover
        raise NotImplementedError


KINDS_REGISTRY: dict[str, type[CandidateKind]] = {}
#: The kind family: every module of ``slicelens.tda.kinds``.
KIND_FAMILY = Family("candidate kind", "slicelens.tda.kinds", base=CandidateKind,
                     registry=KINDS_REGISTRY)
#: Class decorator adding a kind under ``name``.
register_kind = KIND_FAMILY.register
