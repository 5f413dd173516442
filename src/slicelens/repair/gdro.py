"""Group DRO over pseudo-groups (Sagawa et al. 2020).

Minimises the worst group's expected loss with online group weights: each batch, the
weight of group ``g`` is multiplied by ``exp(eta * loss_g)`` and the loss is the weighted
sum of group losses (:func:`slicelens.models.train.gdro_loss`). The groups are the
pseudo-groups people's marks make (:mod:`slicelens.repair.groups`); early stopping on the
worst pseudo-group's validation accuracy. The paper's strong L2 penalty is left to
``--weight-decay``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.groups import PseudoGroupParams, pseudo_groups, selection_fields
from slicelens.repair.plan import TrainingPlan

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class GDROParams(PseudoGroupParams):
    """Options of Group DRO."""

    eta: float = Field(0.01, gt=0, description="step size of the online group weights")


@register_repair("gdro")
class GroupDRO(RepairStrategy):
    """Group DRO (online worst-group objective) over the marks' pseudo-groups."""

    Params = GDROParams

    def _plan(self, workspace: Workspace, run: Run, p: GDROParams) -> TrainingPlan:
        pg = pseudo_groups(workspace, run, p)
        fields = selection_fields(pg, p)
        return TrainingPlan(
            strategy=self.name, params={**p.model_dump(), "pseudo_groups": pg.summary()},
            description=(f"Group DRO (eta {p.eta}) over the pseudo-groups of "
                         f"{len(pg.slices)} spurious slices ({p.source}): {', '.join(pg.slices)}"),
            objective="gdro", gdro_eta=p.eta, **fields)
