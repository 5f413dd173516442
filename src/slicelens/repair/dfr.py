"""DFR: last-layer retraining on a pseudo-group-balanced held-out part of validation.

Kirichenko et al. 2023 (Deep Feature Reweighting): a model trained with ERM already
learns the core features; its *last layer* is what leans on the spurious ones. Refitting
only the last layer on held-out data in which the groups are balanced removes most of
the reliance, in seconds. The paper balances by the true groups; slicelens balances by
the pseudo-groups people's marks make (:mod:`slicelens.repair.groups`):

1. the validation split is cut in two, stratified by pseudo-group (``holdout`` share
   for fitting, the rest for selection);
2. the head is fitted as an L1 logistic regression on the stored pooled features of the
   first part, with group-balanced sample weights (``n / (G n_g)``) raised to a power
   ``p`` (``weighting="auto"`` tries 0, 0.5 and 1: pseudo-groups are noisy, and full
   balancing can overweight a few mislabelled members);
3. the regularisation strength (and ``p``) is chosen by the worst pseudo-group's
   accuracy on the second part: model selection without group labels.

The matched control refits the head the same way on the unchanged training split.
Departure from the paper: one fit per C instead of an ensemble over random subsets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from slicelens.errors import SliceLensError
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


class DFRParams(PseudoGroupParams):
    """Options of DFR on pseudo-groups."""

    holdout: float = Field(0.5, gt=0, lt=1, description="share of validation the head is "
                           "fitted on (the rest chooses the regularisation)")
    weighting: Literal["auto", "full", "none"] = Field(
        "auto", description="weights on the fitted part: group-balanced (full), weight 1 "
        "(none), or chosen with C by the worst pseudo-group (auto: n_g^-p for p in 0, 0.5, 1)")
    cut_seed: int = Field(0, description="seed of the validation cut")


@register_repair("dfr")
class DFR(RepairStrategy):
    """Last-layer retraining on a pseudo-group-balanced half of validation (DFR)."""

    Params = DFRParams

    def _plan(self, workspace: Workspace, run: Run, p: DFRParams) -> TrainingPlan:
        pg = pseudo_groups(workspace, run, p)
        ids, group = pg.of("val")
        keep = group >= 0
        ids, group = ids[keep], group[keep]
        fit_rows = split_stratified(group, p.holdout, p.cut_seed)
        if not fit_rows.any() or fit_rows.all():
            raise SliceLensError(f"the validation split ({len(ids)} labelled samples) is too "
                                 "small to cut in two for DFR")
        w = balanced_weights(group[fit_rows])
        powers = {"auto": [0.0, 0.5, 1.0], "full": [1.0], "none": [0.0]}[p.weighting]
        return TrainingPlan(
            strategy=self.name, params={**p.model_dump(), "pseudo_groups": pg.summary()},
            description=(f"DFR: last layer refitted on {int(fit_rows.sum())} validation samples "
                         f"balanced over the pseudo-groups of {len(pg.slices)} spurious slices "
                         f"({p.source}: {', '.join(pg.slices)}); {int((~fit_rows).sum())} "
                         "choose the regularisation"),
            head_only=True, head_data={str(i): float(x) for i, x in
                                       zip(ids[fit_rows], w, strict=True)}, head_powers=powers,
            val_ids=[str(i) for i in ids[~fit_rows]], **selection_fields(pg, p))


def split_stratified(group: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """Bool (n,): a random ``share`` of each group (at least one sample of a group of two
    or more goes to each side).

    Examples
    --------
    >>> m = split_stratified(np.array([0] * 10 + [1] * 4), 0.5)
    >>> int(m[:10].sum()), int(m[10:].sum())
    (5, 2)
    """
    rng = np.random.default_rng(seed)
    out = np.zeros(len(group), bool)
    for g in np.unique(group):
        rows = rng.permutation(np.flatnonzero(group == g))
        k = int(round(share * len(rows)))
        if len(rows) >= 2:
            k = min(max(k, 1), len(rows) - 1)
        out[rows[:k]] = True
    return out
