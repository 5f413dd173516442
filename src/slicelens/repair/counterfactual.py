"""Counterfactual augmentation from the attribution masks of spurious slices.

In a slice a person marked spurious, the model's attribution map points at the cue it
should not use (the background, a watermark). For the training images of such slices,
the attributed region is replaced, each batch afresh, by the same region of an image of
another class (:func:`slicelens.pipeline.augment.swap_augment`): the cue then appears
with every label and stops predicting any. As for CoRM, the same share of every class
is swapped (``balance``), so "swapped" is no label shortcut itself; masks come from the
base run's maps exactly as CoRM's (:func:`slicelens.repair.corm.corm_masks`).
Early stopping on the worst pseudo-group's validation accuracy.

Ours, not a paper's method: AttributionScanner's CoRM adds noise to the region instead,
which leaves the region's mean colour (and so a colour cue) in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from slicelens.errors import SliceLensError
from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.groups import PseudoGroupParams, pseudo_groups, selection_fields
from slicelens.repair.plan import TrainingPlan, new_plan_dir

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class CounterfactualParams(PseudoGroupParams):
    """Options of counterfactual augmentation."""

    mask_threshold: float = Field(0.5, ge=0, le=1, description="share of a map's maximum "
                                  "that is swapped (0: soft mask = the normalised map)")
    dilate: int = Field(1, ge=0, description="pixels the binary masks grow")
    balance: bool = Field(True, description="swap the same share of every class")
    balance_seed: int = Field(0, description="seed of the balancing draw")


@register_repair("counterfactual")
class Counterfactual(RepairStrategy):
    """Swap the attributed region of spurious slices' training images across classes."""

    Params = CounterfactualParams

    def _plan(self, workspace: Workspace, run: Run, p: CounterfactualParams) -> TrainingPlan:
        from slicelens.repair.corm import balance_by_label, corm_masks
        from slicelens.store.atomic import save_npz

        pg = pseudo_groups(workspace, run, p)
        ids, masks = corm_masks(run, p.slicer, list(pg.slices), p)
        if not len(ids):
            raise SliceLensError(f"no training image falls into the spurious slices {pg.slices}")
        n_slice = len(ids)
        if p.balance:
            ids, masks = balance_by_label(ids, masks, run.samples, p.balance_seed)
        folder = new_plan_dir(workspace, "counterfactual")
        save_npz(folder / "swap_masks.npz", ids=ids, masks=masks)
        plan = TrainingPlan(
            strategy=self.name, params={**p.model_dump(), "pseudo_groups": pg.summary()},
            description=(f"counterfactual swaps of the attributed region of {n_slice} training "
                         f"images in {len(pg.slices)} spurious slices ({p.source}: "
                         f"{', '.join(pg.slices)}); {len(ids) - n_slice} more for class balance"),
            swap_masks=str(folder / "swap_masks.npz"), **selection_fields(pg, p))
        plan.save(folder / "plan.json")
        return plan
