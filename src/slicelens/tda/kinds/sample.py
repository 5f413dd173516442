"""Kind ``sample``: single training samples (not a default candidate: one group each)."""

from __future__ import annotations

import numpy as np

from slicelens.tda.kinds.base import CandidateKind, TrainingGroup, register_kind


@register_kind("sample")
class SingleSample(CandidateKind):
    order, label = 70, "one training sample"
    auto = False
    min_size = False

    def groups(self, ctx):
        ids = ctx.problem.ids[ctx.train] if ctx.sample_ids is None else np.asarray(ctx.sample_ids, str)
        return [TrainingGroup(f"sample {i}", self.name, np.asarray([i], str)) for i in ids]
