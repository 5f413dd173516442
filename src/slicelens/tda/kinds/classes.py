"""Kinds by class: training samples by label, by predicted label, by confusion cell."""

from __future__ import annotations

from slicelens.tda.kinds.base import CandidateKind, register_kind


@register_kind("label")
class ByLabel(CandidateKind):
    order, label = 10, "the training samples of one class"

    def groups(self, ctx):
        lab, cls = ctx.problem.labels[ctx.train], ctx.problem.classes
        return [ctx.group(f"label {cls[c]}", self.name, lab == c) for c in range(len(cls))]


@register_kind("pred")
class ByPrediction(CandidateKind):
    order, label = 20, "the training samples the model predicts as one class"

    def groups(self, ctx):
        pred, cls = ctx.problem.preds[ctx.train], ctx.problem.classes
        return [ctx.group(f"predicted {cls[c]}", self.name, pred == c) for c in range(len(cls))]


@register_kind("confusion")
class ByConfusion(CandidateKind):
    order, label = 30, "the training samples of one (label, prediction) cell"

    def groups(self, ctx):
        lab, pred = ctx.problem.labels[ctx.train], ctx.problem.preds[ctx.train]
        cls = ctx.problem.classes
        return [ctx.group(f"label {cls[a]}, predicted {cls[b]}", self.name, (lab == a) & (pred == b))
                for a in range(len(cls)) for b in range(len(cls))]
