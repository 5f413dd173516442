"""Groups that training-data attribution talks about, named so that a person understands.

The needfinding study (Sec. 4.5 "Group attribution preferences", Sec. 5.2 "User-centred
group attribution") asks to attribute a GROUP of similar errors to GROUPS of training
samples "that make sense to users (e.g. based on ground truth or predicted class)".

* :class:`ErrorGroup` - the errors to explain: a slice, a confusion cell ("true 0-4,
  predicted 5-9", the paper's App. C.3 error groups) or a list of ids.
* :class:`TrainingGroup` - a candidate cause in the train split: by label, by predicted
  label, by confusion cell, by slice, by attribute value (alone and within a label), the
  nearest training neighbours of the errors (all, and per label), and single samples.

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
from slicelens.tda.params import AUTO_KINDS, KINDS


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


@dataclass
class TrainingGroup:
    """A candidate group of training samples (``ids`` are labelled train samples)."""

    name: str
    kind: str
    ids: np.ndarray

    def __post_init__(self):
        self.ids = np.asarray(self.ids, str)
        if self.kind not in KINDS:
            raise SliceLensError(f"training group kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "ids": self.ids.tolist()}


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
    train = problem.split_index("train")
    lab, pred, cls = problem.labels[train], problem.preds[train], problem.classes
    out: list[TrainingGroup] = []

    def add(name, kind, mask):
        out.append(TrainingGroup(name, kind, problem.ids[train[mask]]))

    if "label" in kinds:
        for c in range(len(cls)):
            add(f"label {cls[c]}", "label", lab == c)
    if "pred" in kinds:
        for c in range(len(cls)):
            add(f"predicted {cls[c]}", "pred", pred == c)
    if "confusion" in kinds:
        for a in range(len(cls)):
            for b in range(len(cls)):
                add(f"label {cls[a]}, predicted {cls[b]}", "confusion", (lab == a) & (pred == b))
    if "slice" in kinds:
        out += slice_groups(problem, slice_sets, train_assign)
    if "attribute" in kinds and attributes is not None:
        out += attribute_groups(problem, attributes)
    if "knn" in kinds:
        out += knn_groups(problem, error, k)
    if "sample" in kinds:
        ids = problem.ids[train] if sample_ids is None else np.asarray(sample_ids, str)
        out += [TrainingGroup(f"sample {i}", "sample", np.asarray([i], str)) for i in ids]
    seen, keep = set(), []
    for g in out:
        key = tuple(sorted(g.ids))
        if key in seen or g.size == 0 or (g.kind != "sample" and g.size < min_size):
            continue
        seen.add(key)
        keep.append(g)
    return keep


def knn_groups(problem, error: ErrorGroup, k: int) -> list[TrainingGroup]:
    """The ``k`` nearest training samples of each error (cosine on ``F``), and per label."""
    from sklearn.neighbors import NearestNeighbors

    train = problem.split_index("train")
    k = min(k, len(train))
    nn = NearestNeighbors(n_neighbors=k, metric="cosine").fit(problem.features[train])
    hits = np.unique(nn.kneighbors(problem.features[problem.positions(error.ids)],
                                   return_distance=False))
    pos = train[hits]
    base = f"{k} nearest training neighbours of each error"
    groups = [TrainingGroup(base, "knn", problem.ids[pos])]
    for c, name in enumerate(problem.classes):
        sel = pos[problem.labels[pos] == c]
        groups.append(TrainingGroup(f"{base}, labelled {name}", "knn", problem.ids[sel]))
    return groups


def slice_groups(problem, slice_sets, train_assign: dict | None = None) -> list[TrainingGroup]:
    """Training samples placed in each slice of each slice set.

    Parameters
    ----------
    slice_sets : sequence of SliceSet
    train_assign : dict slicer -> int array, optional
        Slice index of each labelled training sample (order of
        ``problem.split_index("train")``), as the slicer's own ``assign`` gave it
        (``slicelens.pipeline.slices.assign_all``). Missing: a slice set fitted on the
        train split uses its own labels; otherwise a training sample joins the slice of
        its nearest fitted sample in attribution space ``F_W`` (1-NN, Euclidean).
    """
    from sklearn.neighbors import NearestNeighbors

    train = problem.split_index("train")
    space = problem.fw if problem.fw is not None else problem.features
    out = []
    for ss in slice_sets:
        if train_assign and ss.slicer in train_assign:
            assign = np.asarray(train_assign[ss.slicer])
        elif ss.split == "train":
            where = dict(zip(problem.positions(ss.sample_ids), ss.labels, strict=True))
            assign = np.array([where.get(p, -1) for p in train])
        else:
            fitted = problem.positions(ss.sample_ids)
            nn = NearestNeighbors(n_neighbors=1).fit(space[fitted])
            assign = np.asarray(ss.labels)[nn.kneighbors(space[train], return_distance=False)[:, 0]]
        for j, s in enumerate(ss.slices):
            desc = f" ({s.description})" if s.description else ""
            out.append(TrainingGroup(f"slice {ss.slicer}:{s.id}{desc}", "slice",
                                     problem.ids[train[assign == j]]))
    return out


def attribute_groups(problem, matrix) -> list[TrainingGroup]:
    """Training samples by attribute value, and by attribute value within each label."""
    train = problem.split_index("train")
    codes, _ = matrix.codes(problem.ids[train])
    lab = problem.labels[train]
    out = []
    for j, a in enumerate(matrix.attributes):
        for v, value in enumerate(matrix.values[a]):
            hit = codes[:, j] == v
            out.append(TrainingGroup(f"{a} = {value}", "attribute", problem.ids[train[hit]]))
            for c, name in enumerate(problem.classes):
                out.append(TrainingGroup(f"label {name}, {a} = {value}", "attribute",
                                         problem.ids[train[hit & (lab == c)]]))
    return out
