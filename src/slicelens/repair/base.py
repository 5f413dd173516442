"""The repair-strategy family: one verb, one registry.

A repair strategy looks at a run (and the human input about it) and says how to change
the training data: ``plan(workspace, run, **params) -> TrainingPlan``. It never trains;
``slicelens.pipeline.retrain.apply_plan`` carries every plan out the same way, so the
strategies are compared on equal terms.

Adding one::

    @register_repair("my-strategy")
    class MyStrategy(RepairStrategy):
        class Params(BaseModel):
            budget: int = 100
        def _plan(self, workspace, run, p) -> TrainingPlan:
            return TrainingPlan(strategy=self.name, params=p.model_dump(), ...)

Every module of ``slicelens.repair`` is imported by :func:`load_repairs` /
:func:`get_repair` (``REPAIR_FAMILY.discover``, the one discovery rule of every family),
so a strategy registers itself by being defined in one of them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from slicelens.registry import Family

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

REPAIRS: dict[str, type[RepairStrategy]] = {}
#: The repair-strategy family: every module of ``slicelens.repair`` is searched.
REPAIR_FAMILY = Family("repair strategy", "slicelens.repair", registry=REPAIRS)
#: Class decorator adding a strategy to :data:`REPAIRS` under ``name``.
register_repair = REPAIR_FAMILY.register


class RepairStrategy:
    """Base class: ``Params`` (pydantic, the single declaration of the options) and ``_plan``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = BaseModel

    def plan(self, workspace: Workspace, run: Run, **params):
        """Validate ``params`` against ``Params`` and return a ``TrainingPlan``.

        An unknown parameter is an error that lists the known ones (a typo never falls
        back silently to a default). A workspace given as a path is a TypeError (only the
        shells open workspaces); a strategy that reads none may be given None.
        """
        from slicelens.params import validate_params
        from slicelens.store.workspace import require_workspace

        if isinstance(workspace, str | os.PathLike):
            require_workspace(workspace, f"repair strategy {self.name!r}")
        p = validate_params(self.Params, params, f"repair strategy {self.name!r}")
        if getattr(p, "slicer", None) == "auto":  # the strategies that read a slice set's marks
            from slicelens.feedback.annotations import marked_slicer

            p = p.model_copy(update={"slicer": marked_slicer(workspace, run)})
        return self._plan(workspace, run, p)

    def _plan(self, workspace: Workspace, run: Run, p):  # pragma: no cover - abstract
        raise NotImplementedError


REPAIR_FAMILY.base = RepairStrategy


def load_repairs() -> dict[str, type[RepairStrategy]]:
    """Import every module of ``slicelens.repair`` (running their decorators); return REPAIRS."""
    return REPAIR_FAMILY.discover()


def get_repair(name: str) -> RepairStrategy:
    """A strategy by registry name; an unknown name lists the known ones."""
    return REPAIR_FAMILY.create(name)
