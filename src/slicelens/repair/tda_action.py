"""The repair strategy ``tda-action``: the best row of a training-data attribution as a plan.

``get_repair("tda-action").plan(workspace, run, error_group="0-4->5-9")`` attributes the
errors (``slicelens.tda.analysis.attribute_errors``) and returns the TrainingPlan of the
row ranked ``rank`` (default the best), so the repair loop and its comparisons run it like
any other strategy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.tda.params import TDAParams

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class TDAActionParams(TDAParams):
    """``TDAParams`` plus which errors to fix and which row to plan."""

    error_group: str = Field(..., description="errors to fix: 'TRUE->PRED' or 'SLICER:ID'")
    rank: int = Field(1, ge=1, description="row of the ranked table to plan")
    oracle: str | None = Field(None, description="CSV of pool labels (id,label) for 'add'")


@register_repair("tda-action")
class TDAAction(RepairStrategy):
    """Plan the ``rank``-th row of the attribution of ``error_group``."""

    Params = TDAActionParams

    def _plan(self, workspace: Workspace, run: Run, p):
        from slicelens.tda.analysis import attribute_errors, read_oracle
        from slicelens.tda.result import to_plan

        oracle = read_oracle(p.oracle, run.classes) if p.oracle else None
        tda = TDAParams.model_validate(p.model_dump(include=set(TDAParams.model_fields)))
        res = attribute_errors(run, p.error_group, params=tda, oracle=oracle)
        return to_plan(res.row(p.rank))
