"""Group-balanced reweighting over pseudo-groups.

The classic fix for a spurious correlation when groups are known (Sagawa et al. 2020,
"upweighting"; Idrissi et al. 2022, "SUBG/RWG"): every group gets the same total weight
in the loss, ``w_i = n / (G * n_g)``. slicelens uses the pseudo-groups people's marks
make (:mod:`slicelens.repair.groups`), never the true groups, and stops early on the
worst pseudo-group's validation accuracy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.groups import (
    PseudoGroupParams,
    balanced_weights,
    pseudo_groups,
    selection_fields,
)
from slicelens.repair.plan import TrainingPlan

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class BalanceParams(PseudoGroupParams):
    """Options of group-balanced reweighting."""

    power: float = Field(1.0, ge=0, le=1, description="weights n_g^-power (1: fully "
                         "balanced, 0: unchanged)")


@register_repair("group-balance")
class GroupBalance(RepairStrategy):
    """Group-balanced reweighting of the training split over the marks' pseudo-groups."""

    Params = BalanceParams

    def _plan(self, workspace: Workspace, run: Run, p: BalanceParams) -> TrainingPlan:
        pg = pseudo_groups(workspace, run, p)
        ids, group = pg.of("train")
        w = balanced_weights(group) ** p.power if p.power != 1 else balanced_weights(group)
        w[group < 0] = 0.0
        return TrainingPlan(
            strategy=self.name, params={**p.model_dump(), "pseudo_groups": pg.summary()},
            description=(f"group-balanced reweighting over {len(set(group[group >= 0]))} "
                         f"pseudo-groups from {len(pg.slices)} spurious slices ({p.source}): "
                         f"{', '.join(pg.slices)}"),
            weights={str(i): float(x) for i, x in zip(ids, w, strict=True)},
            **selection_fields(pg, p))
