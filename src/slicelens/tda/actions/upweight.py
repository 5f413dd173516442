"""``upweight``: multiply the group's weights by ``upweight`` (App. C.4 uses 10)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from slicelens.tda.actions.base import Action, Change, register_action


class UpweightParams(BaseModel):
    upweight: float = Field(10.0, gt=1, description="weight factor of 'upweight' (App. C.4: 10)")


@register_action("upweight")
class Upweight(Action):
    order = 30
    Params = UpweightParams

    def change(self, rows, group_pos, problem, baseline, params, pool):
        return Change(self.name, rows, factor=params.upweight,
                      detail=f"weight x{params.upweight:g}")

    def label(self, row):
        return f"upweight x{row.factor:g}"
