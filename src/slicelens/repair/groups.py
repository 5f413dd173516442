"""Pseudo-groups: people's marks turned into a group label for every sample.

Group-robust training (group-balanced reweighting, Group DRO, DFR) needs a group per
training sample; the true groups (class x background on the demo, class x place on
Waterbirds) are what a user does not have. slicelens makes *pseudo-groups* from what a
person said instead:

- a slice marked **spurious** (or, with ``source="propagation"``, a slice whose
  propagated spuriousness is above ``threshold``) puts its members in the "spurious"
  half of their class: group ``2 * label + 1``; every other sample is in group
  ``2 * label`` (class x spurious-or-not);
- a slice marked **core** stays in the plain half (the mark says its cue is right);
- a slice marked **wrong labels** puts its members in group ``-1``: left out of the
  balanced repairs' training data, never counted as a group.

Samples of every split get a pseudo-group: the slice set's own members on the split it
was fitted on (usually ``val``), the stored assignment (``find_slices``) elsewhere.

**Small groups are merged.** A marked slice usually holds a few members of other
classes; as pseudo-groups of their own, 3 or 5 validation samples would decide every
worst-group selection (one sample moves the score by 0.2-0.3) and take enormous balanced
weights. A class whose spurious half has fewer than ``min_spurious`` validation members
(default: 2.5% of the labelled validation samples, clipped to [5, 20]; 20 on the demo)
therefore has no spurious pseudo-group: those samples stay in the rest of their
class, in every split. The summary lists the merged classes.

Every repair strategy in :mod:`slicelens.repair` that needs groups reads one
:class:`PseudoGroups`; the true groups are never read (only evaluation does).

Examples
--------
>>> pg = PseudoGroups(ids=np.array(["a", "b", "c", "d"]), split=np.array(["train"] * 4),
...                   label=np.array([0, 0, 1, 1]), spurious=np.array([False, True, False, False]),
...                   excluded=np.zeros(4, bool), slices=("s-1",), source="marks",
...                   classes=("cat", "dog"))
>>> pg.group.tolist(), pg.names()[1]
([0, 1, 2, 2], 'cat | spurious slices')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class PseudoGroupParams(BaseModel):
    """Where the pseudo-groups come from (shared by every group-based strategy)."""

    slicer: str = Field("auto", description="slice set whose marks make the pseudo-groups (auto: the stored slice set holding the newest mark, else the run's preferred one; feedback.annotations.marked_slicer)")
    source: Literal["marks", "propagation"] = Field(
        "marks", description="spurious slices: those a person marked, or those whose "
        "spuriousness (marks first, else propagated) is above threshold")
    threshold: float = Field(0.5, ge=0, lt=1, description="propagated spuriousness above which "
                             "an unmarked slice counts as spurious (source=propagation)")
    select_by: Literal["worst_group", "accuracy"] = Field(
        "worst_group", description="early stopping / model selection on validation: the worst "
        "pseudo-group's accuracy, or plain accuracy")
    min_spurious: int | None = Field(
        None, ge=1, description="a class's spurious pseudo-group needs this many validation "
        "members, else it is merged into the rest of the class (default: 2.5% of the labelled "
        "validation samples, at least 5, at most 20)")


@dataclass(frozen=True)
class PseudoGroups:
    """A pseudo-group for every labelled sample of a run (see the module docstring).

    Attributes
    ----------
    ids, split : ndarray of str (n,)
    label : int array (n,)
    spurious : bool array (n,)
        In a slice taken as spurious.
    excluded : bool array (n,)
        In a slice marked wrong labels (group -1).
    slices : tuple of str
        The slices taken as spurious.
    source : str
    classes : tuple of str
    merged : tuple of str
        Classes whose spurious half was too small and stayed whole (``min_spurious``).
    """

    ids: np.ndarray
    split: np.ndarray
    label: np.ndarray
    spurious: np.ndarray
    excluded: np.ndarray
    slices: tuple[str, ...]
    source: str
    classes: tuple[str, ...]
    merged: tuple[str, ...] = ()

    @property
    def group(self) -> np.ndarray:
        """int array (n,): ``2 * label + spurious``, -1 for excluded samples."""
        g = 2 * self.label.astype(np.int64) + self.spurious.astype(np.int64)
        return np.where(self.excluded, -1, g)

    def names(self) -> list[str]:
        """Group index -> name (``"<class> | spurious slices"`` / ``"<class> | rest"``)."""
        return [f"{c} | {kind}" for c in self.classes for kind in ("rest", "spurious slices")]

    def of(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids (k,), group (k,)) of one split."""
        keep = self.split == split
        return self.ids[keep], self.group[keep]

    def mapping(self, split: str) -> dict[str, int]:
        """Sample id -> pseudo-group for ``split`` (excluded samples left out)."""
        ids, g = self.of(split)
        return {str(i): int(k) for i, k in zip(ids, g, strict=True) if k >= 0}

    def counts(self) -> pd.DataFrame:
        """Samples per split and pseudo-group (the table a repair prints and records)."""
        names = self.names()
        df = pd.DataFrame({"split": self.split, "group": self.group})
        df = df[df["group"] >= 0].groupby(["split", "group"]).size().rename("n").reset_index()
        df["name"] = [names[g] for g in df["group"]]
        return df

    def summary(self) -> dict:
        """JSON-able description: source, slices, counts per split and group."""
        return {"source": self.source, "slices": list(self.slices),
                "counts": self.counts().to_dict("records"),
                "excluded": int(self.excluded.sum()), "merged_classes": list(self.merged)}


def pseudo_groups(workspace: Workspace, run: Run, p: PseudoGroupParams) -> PseudoGroups:
    """Pseudo-groups of ``run``'s labelled samples from the marks on ``p.slicer``.

    Raises
    ------
    SliceLensError
        When no slice counts as spurious (nothing to balance): the message says to mark one.
    """
    from slicelens.feedback.annotations import marked_slicer
    from slicelens.feedback.propagation import current_spuriousness
    from slicelens.slicing.base import SliceSet
    from slicelens.slicing.runio import assign_all

    if p.slicer == "auto":
        p = p.model_copy(update={"slicer": marked_slicer(workspace, run)})
    table = current_spuriousness(workspace, run, p.slicer)
    chosen = require_spurious(table, p.slicer, p.source, p.threshold)
    wrong = table.loc[table["mark"] == "wrong_labels", "slice_id"].tolist()
    slice_set = SliceSet.load(run.path, p.slicer)
    index = {s.id: i for i, s in enumerate(slice_set.slices)}
    per_split = assign_all(run, slice_set)
    samples = run.samples
    split = samples["split"].to_numpy(str)
    assigned = np.full(len(samples), -1, dtype=np.int64)
    for name, labels in per_split.items():
        assigned[split == name] = labels
    labelled = samples["label"].to_numpy() >= 0
    label = samples["label"].to_numpy(np.int64)
    spurious = np.isin(assigned, [index[s] for s in chosen])
    excluded = np.isin(assigned, [index[s] for s in wrong])
    merged = []
    n_val = int(((split == "val") & labelled).sum())
    min_spurious = p.min_spurious or int(np.clip(round(0.025 * n_val), 5, 20))
    for c in np.unique(label[labelled]):
        if ((split == "val") & (label == c) & spurious & ~excluded).sum() < min_spurious:
            spurious &= label != c
            merged.append(run.classes[int(c)])
    if not spurious[labelled & (split == "val")].any():
        raise SliceLensError(
            f"the slices taken as spurious ({', '.join(chosen)}) hold fewer than "
            f"{min_spurious} validation samples of any class; mark more slices spurious or "
            "lower min_spurious")
    return PseudoGroups(ids=samples["id"].to_numpy(str)[labelled], split=split[labelled],
                        label=label[labelled], spurious=spurious[labelled],
                        excluded=excluded[labelled], slices=tuple(chosen), source=p.source,
                        classes=tuple(run.classes), merged=tuple(merged))


def spurious_slice_ids(table: pd.DataFrame, source: str, threshold: float) -> list[str]:
    """Slice ids taken as spurious: human ``spurious`` marks, or (``propagation``) every
    slice whose spuriousness is strictly above ``threshold`` (a human mark wins; NaN never
    counts).

    Examples
    --------
    >>> t = pd.DataFrame({"slice_id": ["a", "b", "c"], "spuriousness": [1.0, 0.7, 0.2],
    ...                   "source": ["human", "propagated", "propagated"], "mark": ["spurious", "", ""]})
    >>> spurious_slice_ids(t, "marks", 0.5), spurious_slice_ids(t, "propagation", 0.5)
    (['a'], ['a', 'b'])
    """
    if source == "marks":
        keep = (table["source"] == "human") & (table["mark"] == "spurious")
    else:
        keep = table["spuriousness"].to_numpy(dtype=float) > threshold
    return table.loc[keep, "slice_id"].tolist()


def require_spurious(table: pd.DataFrame, slicer: str, source: str, threshold: float) -> list[str]:
    """:func:`spurious_slice_ids`, or an error that says to mark a slice spurious first."""
    chosen = spurious_slice_ids(table, source, threshold)
    if not chosen:
        raise SliceLensError(
            f"no slice of {slicer!r} is spurious by {source} (threshold {threshold}); "
            "mark a slice spurious first (slicelens annotate --label spurious)")
    return chosen


def balanced_weights(group: np.ndarray) -> np.ndarray:
    """Group-balanced sample weights ``n / (G * n_g)`` (each non-empty group gets the same
    total weight; group -1 gets 0), float32 (n,).

    Examples
    --------
    >>> [round(float(v), 3) for v in balanced_weights(np.array([0, 0, 0, 1, -1]))]
    [0.667, 0.667, 0.667, 2.0, 0.0]
    """
    g = np.asarray(group)
    ok = g >= 0
    out = np.zeros(len(g), np.float32)
    if not ok.any():
        return out
    values, inv, counts = np.unique(g[ok], return_inverse=True, return_counts=True)
    out[ok] = ok.sum() / (len(values) * counts[inv])
    return out


def selection_fields(pg: PseudoGroups, p: PseudoGroupParams) -> dict:
    """The plan fields every group strategy shares: the pseudo-groups of the training and
    validation samples, and the early-stopping rule."""
    return {"groups": {**pg.mapping("train"), **pg.mapping("val")}, "select_by": p.select_by}
