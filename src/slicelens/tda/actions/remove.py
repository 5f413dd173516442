"""``remove``: drop the group from training (weights 0)."""

from __future__ import annotations

from slicelens.tda.actions.base import Action, Change, register_action


@register_action("remove")
class Remove(Action):
    order = 10

    def change(self, rows, group_pos, problem, baseline, params, pool):
        return Change(self.name, rows, factor=0.0, detail="drop")

    def fill_plan(self, row, plan, ids):
        plan.remove = ids
