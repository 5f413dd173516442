"""Kind ``attribute``: training samples by attribute value, alone and within a label
(HiBug's attribute matrix)."""

from __future__ import annotations

from slicelens.tda.kinds.base import CandidateKind, TrainingGroup, register_kind


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


@register_kind("attribute")
class ByAttribute(CandidateKind):
    order, label = 50, "the training samples with one attribute value (within a label)"

    def groups(self, ctx):
        return [] if ctx.attributes is None else attribute_groups(ctx.problem, ctx.attributes)
