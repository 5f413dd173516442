"""Kind ``slice``: the training samples placed in each slice of each slice set."""

from __future__ import annotations

import numpy as np

from slicelens.tda.kinds.base import CandidateKind, TrainingGroup, register_kind


def slice_groups(problem, slice_sets, train_assign: dict | None = None) -> list[TrainingGroup]:
    """Training samples placed in each slice of each slice set.

    Parameters
    ----------
    slice_sets : sequence of SliceSet
    train_assign : dict slicer -> int array, optional
        Slice index of each labelled training sample (order of
        ``problem.split_index("train")``), as the slicer's own ``assign`` gave it
        (``slicelens.slicing.runio.assign_all``). Missing: a slice set fitted on the
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


@register_kind("slice")
class BySlice(CandidateKind):
    order, label = 40, "the training samples placed in one slice"

    def groups(self, ctx):
        return slice_groups(ctx.problem, ctx.slice_sets, ctx.train_assign)
