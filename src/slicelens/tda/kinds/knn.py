"""Kind ``knn``: the nearest training neighbours of the errors (all, and per label)."""

from __future__ import annotations

import numpy as np

from slicelens.tda.kinds.base import CandidateKind, TrainingGroup, register_kind


def knn_groups(problem, error, k: int) -> list[TrainingGroup]:
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


@register_kind("knn")
class NearestNeighbours(CandidateKind):
    order, label = 60, "the nearest training neighbours of the errors"

    def groups(self, ctx):
        return knn_groups(ctx.problem, ctx.error, ctx.k)
