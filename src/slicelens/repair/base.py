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

Modules of ``slicelens.repair`` (and :data:`OTHER_MODULES`) are imported by
:func:`load_repairs` / :func:`get_repair`, so a strategy registers itself by being defined
in one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from slicelens.errors import SliceLensError
from slicelens.registry import registrar

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

REPAIRS: dict[str, type[RepairStrategy]] = {}
#: Modules outside ``slicelens.repair`` that define strategies.
OTHER_MODULES = ("slicelens.tda.strategy",)


#: Class decorator adding a strategy to :data:`REPAIRS` under ``name``.
register_repair = registrar(REPAIRS, "repair strategy")


class RepairStrategy:
    """Base class: ``Params`` (pydantic, the single declaration of the options) and ``_plan``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = BaseModel

    def plan(self, workspace: Workspace, run: Run, **params):
        """Validate ``params`` against ``Params`` and return a ``TrainingPlan``.

        An unknown parameter is an error that lists the known ones (a typo never falls
        back silently to a default).
        """
        from slicelens.params import validate

        unknown = sorted(set(params) - set(self.Params.model_fields))
        if unknown:
            raise SliceLensError(f"unknown parameter {unknown[0]!r} of repair strategy "
                                 f"{self.name!r}; known: {', '.join(sorted(self.Params.model_fields))}")
        return self._plan(workspace, run, validate(self.Params, params))

    def _plan(self, workspace: Workspace, run: Run, p):  # pragma: no cover - abstract
        raise NotImplementedError


def load_repairs() -> dict[str, type[RepairStrategy]]:
    """Import every module of ``slicelens.repair`` and :data:`OTHER_MODULES` (running their
    decorators); return REPAIRS."""
    import importlib
    import pkgutil

    import slicelens.repair as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"slicelens.repair.{mod.name}")
    for name in OTHER_MODULES:
        importlib.import_module(name)
    return REPAIRS


def get_repair(name: str) -> RepairStrategy:
    """A strategy by registry name; an unknown name lists the known ones."""
    load_repairs()
    if name not in REPAIRS:
        raise SliceLensError(f"unknown repair strategy {name!r}; choose one of {sorted(REPAIRS)}")
    return REPAIRS[name]()
