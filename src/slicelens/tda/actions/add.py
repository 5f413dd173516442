"""``add``: "collect more data like this".

With an unlabeled pool and an oracle for its labels (a person, or the hidden labels in a
benchmark), the ``ratio * |group|`` pool samples nearest to the group (cosine on ``F``)
join training with their revealed labels. Without them, upweighting the group by
``1 + ratio`` is the proxy (the study itself takes upweighting as the approximation of
adding data, Sec. 4.4.2).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from slicelens.tda.actions.base import Action, Change, register_action


class AddParams(BaseModel):
    add_ratio: float = Field(1.0, gt=0, description="'add' brings ratio x group size new samples "
                             "(from the pool, else as the weight proxy 1 + ratio)")
    max_add: int = Field(500, ge=1, description="most pool samples one 'add' brings")


def nearest_pool(group_f: np.ndarray, pool_f: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` pool samples closest (cosine) to any group member."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1, metric="cosine").fit(group_f)
    d = nn.kneighbors(pool_f, return_distance=True)[0][:, 0]
    return np.argsort(d, kind="stable")[:m]


@register_action("add")
class Add(Action):
    order = 40
    Params = AddParams

    def change(self, rows, group_pos, problem, baseline, params, pool):
        if not pool or len(pool["pos"]) == 0:
            f = 1.0 + params.add_ratio
            return Change(self.name, rows, factor=f, detail=f"proxy: weight x{f:g} (no labelled pool)")
        m = int(min(np.ceil(params.add_ratio * len(group_pos)), params.max_add, len(pool["pos"])))
        pick = nearest_pool(problem.features[group_pos], problem.features[pool["pos"]], m)
        return Change(self.name, rows[:0], add_pos=pool["pos"][pick], add_labels=pool["labels"][pick],
                      detail=f"{m} nearest pool samples, oracle labels")

    def label(self, row):
        return f"add {len(row.add)} from pool" if row.add else f"add (proxy x{row.factor:g})"
