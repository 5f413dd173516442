"""Groups that training-data attribution talks about, named so that a person understands.

The needfinding study (Sec. 4.5 "Group attribution preferences", Sec. 5.2 "User-centred
group attribution") asks to attribute a GROUP of similar errors to GROUPS of training
samples "that make sense to users (e.g. based on ground truth or predicted class)".

* :class:`ErrorGroup` - the errors to explain: a slice, a confusion cell ("true 0-4,
  predicted 5-9", the paper's App. C.3 error groups) or a list of ids.
* :class:`TrainingGroup` - a candidate cause in the train split: by label, by predicted
  label, by confusion cell, by slice, by attribute value (alone and within a label), the
  nearest training neighbours of the errors (all, and per label), and single samples.
  Each kind is a registered class of ``slicelens.tda.kinds`` (``KIND_FAMILY``) that forms
  its groups; :func:`candidate_groups` asks the requested ones in their order.

Example
-------
>>> g = TrainingGroup("label a", "label", np.array(["s1", "s2"]))
>>> g.size
2
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from slicelens.errors import DataError, SliceLensError
from slicelens.tda.kinds.attribute import attribute_groups
from slicelens.tda.kinds.base import KIND_FAMILY, CandidateContext, TrainingGroup
from slicelens.tda.kinds.knn import knn_groups
from slicelens.tda.kinds.slice import slice_groups
from slicelens.tda.params import AUTO_KINDS, KINDS

__all__ = ["ErrorGroup", "TrainingGroup", "attribute_groups", "candidate_groups",
           "confusion_error_group", "ids_error_group", "knn_groups", "slice_error_group",
           "slice_groups", "worst_confusion_cell"]


@dataclass
class ErrorGroup:
    """Samples whose errors are to be explained.

    Attributes
    ----------
    name : str
        Readable, e.g. ``"true 0-4, predicted 5-9 (val)"``.
    ids : str array (k,)
    kind : {"slice", "confusion", "ids"}
    source : dict
        How it was chosen (slicer and slice id, classes, file), for the record.
    """

    name: str
    ids: np.ndarray
    kind: str = "ids"
    source: dict = field(default_factory=dict)

    def __post_init__(self):
        self.ids = np.asarray(self.ids, str)
        if self.ids.size == 0:
            raise SliceLensError(f"error group {self.name!r} is empty")

    def to_json(self) -> dict:
        return {"name": self.name, "ids": self.ids.tolist(), "kind": self.kind, "source": self.source}


# -- error groups --------------------------------------------------------------------
def confusion_error_group(problem, spec: str, split: str = "val") -> ErrorGroup:
    """The samples of ``split`` with true class A predicted as B, from ``"A->B"``.

    Class names or indices are accepted (``"0-4->5-9"``, ``"0->1"``).
    """
    if "->" not in spec:
        raise DataError(f"a confusion cell is 'TRUE->PREDICTED', got {spec!r}", field="confusion")
    a, b = (_class_index(problem.classes, s.strip()) for s in spec.rsplit("->", 1))
    pos = problem.split_index(split)
    hit = pos[(problem.labels[pos] == a) & (problem.preds[pos] == b)]
    name = f"true {problem.classes[a]}, predicted {problem.classes[b]} ({split})"
    if hit.size == 0:
        raise SliceLensError(f"no {split} samples in the cell {name}")
    return ErrorGroup(name, problem.ids[hit], "confusion",
                      {"true": problem.classes[a], "pred": problem.classes[b], "split": split})


def slice_error_group(problem, slice_set, slice_id: str, errors_only: bool = True) -> ErrorGroup:
    """The (misclassified, by default) members of one slice of a slice set."""
    s = slice_set.by_id(slice_id)
    pos = problem.positions(s.members)
    pos = pos[problem.labels[pos] >= 0]
    if errors_only:
        pos = pos[problem.preds[pos] != problem.labels[pos]]
    if pos.size == 0:
        raise SliceLensError(f"slice {slice_set.slicer}:{slice_id} has no labelled "
                             f"{'misclassified ' if errors_only else ''}members")
    desc = f": {s.description}" if s.description else ""
    return ErrorGroup(f"slice {slice_set.slicer}:{slice_id}{' errors' if errors_only else ''}{desc}",
                      problem.ids[pos], "slice", {"slicer": slice_set.slicer, "slice_id": slice_id,
                                                  "errors_only": errors_only})


def ids_error_group(problem, ids, name: str | None = None) -> ErrorGroup:
    """An error group from sample ids (checked against the run; must be labelled)."""
    pos = problem.positions(ids)
    if (problem.labels[pos] < 0).any():
        bad = problem.ids[pos[problem.labels[pos] < 0][0]]
        raise DataError(f"sample {bad!r} has no label; errors need one", field="id")
    return ErrorGroup(name or f"{len(pos)} chosen samples", problem.ids[pos], "ids")


def worst_confusion_cell(problem, split: str = "val") -> str:
    """``"A->B"`` of the largest off-diagonal confusion cell (App. C.3's choice of errors)."""
    pos = problem.split_index(split)
    wrong = pos[problem.preds[pos] != problem.labels[pos]]
    if wrong.size == 0:
        raise SliceLensError(f"the model makes no errors on {split}")
    C = problem.n_classes
    cells = np.bincount(problem.labels[wrong] * C + problem.preds[wrong], minlength=C * C)
    a, b = divmod(int(cells.argmax()), C)
    return f"{problem.classes[a]}->{problem.classes[b]}"


def _class_index(classes: list[str], s: str) -> int:
    if s in classes:
        return classes.index(s)
    if s.isdigit() and int(s) < len(classes):
        return int(s)
    raise DataError(f"unknown class {s!r}; classes are {classes}", field="confusion")


# -- candidate training groups -------------------------------------------------------------
def candidate_groups(problem, error: ErrorGroup, kinds=AUTO_KINDS, *, slice_sets=(),
                     train_assign: dict | None = None, attributes=None, k: int = 10,
                     min_size: int = 5, sample_ids=None) -> list[TrainingGroup]:
    """Candidate training groups of the requested kinds (groups below ``min_size`` are
    dropped, except single samples; duplicates by membership are dropped).

    Parameters
    ----------
    problem : HeadProblem
    error : ErrorGroup
    kinds : iterable of str
        Out of ``KINDS``.
    slice_sets : sequence of SliceSet
        For ``"slice"`` groups (training samples placed in the slices, see
        :func:`slice_groups`, which also explains ``train_assign``).
    attributes : AttributeMatrix, optional
        For ``"attribute"`` groups (HiBug's attribute matrix).
    k : int
        Neighbours per error for ``"knn"``.
    sample_ids : str array, optional
        For ``"sample"``: which training samples (default: all).
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SliceLensError(f"unknown candidate kind {sorted(unknown)[0]!r}; choose from {KINDS}")
    ctx = CandidateContext(problem, error, slice_sets, train_assign, attributes, k, sample_ids)
    out: list[TrainingGroup] = []
    for name in KIND_FAMILY.names():
        if name in kinds:
            out += KIND_FAMILY.create(name).groups(ctx)
    seen, keep = set(), []
    for g in out:
        key = tuple(sorted(g.ids))
        if key in seen or g.size == 0 or (KIND_FAMILY.get(g.kind).min_size and g.size < min_size):
            continue
        seen.add(key)
        keep.append(g)
    return keep
