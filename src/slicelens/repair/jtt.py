"""JTT, Just Train Twice (Liu et al. 2021): the label-free baseline.

1. An identification model of the same architecture is trained from scratch for a few
   epochs (``id_epochs``) with plain ERM;
2. the training samples it gets wrong (its error set) are upweighted by ``up`` in the
   final retraining.

No marks and no group labels are read: JTT is what a user gets without saying anything.
Early stopping on validation accuracy (the paper tunes on validation *group* labels,
which a user does not have). The identification model is trained inside ``plan``, the
one strategy that does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from slicelens.repair.base import RepairStrategy, register_repair
from slicelens.repair.plan import TrainingPlan

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


class JTTParams(BaseModel):
    """Options of JTT."""

    id_epochs: int = Field(1, ge=1, description="epochs of the identification model (JTT's T)")
    up: float = Field(20.0, gt=0, description="weight of the identification model's errors")
    id_seed: int = Field(0, description="seed of the identification model")


@register_repair("jtt")
class JTT(RepairStrategy):
    """Just Train Twice: upweight the errors of a briefly trained model (no marks needed)."""

    Params = JTTParams

    def _plan(self, workspace: Workspace, run: Run, p: JTTParams) -> TrainingPlan:
        from slicelens.models import ModelSpec, TrainConfig, TrainData, fit, predict_logits
        from slicelens.models.initial import initial_module
        from slicelens.repair.trainset import training_set
        from slicelens.utils import seed_everything

        rec = run.record.model.to_json()
        spec = ModelSpec.model_validate({k: v for k, v in rec.items() if k in ModelSpec.model_fields})
        x, y, _, ids = training_set(run.dataset(), TrainingPlan(), run.record.input_size)
        seed_everything(p.id_seed)
        module, _ = initial_module(spec, run.classes, "scratch")
        fit(module, TrainData(x, y), None, TrainConfig(epochs=p.id_epochs, seed=p.id_seed),
            normalize=spec.normalize)
        wrong = predict_logits(module, x, normalize=spec.normalize).argmax(1).numpy() != y.numpy()
        return TrainingPlan(strategy=self.name, params=p.model_dump(),
                            weights={str(i): p.up for i in ids[wrong]},
                            description=(f"JTT: {int(wrong.sum())} errors of a {p.id_epochs}-epoch "
                                         f"identification model upweighted x{p.up}"))
