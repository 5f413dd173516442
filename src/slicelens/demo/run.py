"""``slicelens demo``: the whole loop on the planted-bug demo data.

Steps (each prints what it found):
1. build the planted-bug dataset (DESIGN.md "The demo data");
2. train the demo model;
3. extract everything into a workspace run;
4. show how much each planted bug hurts the model (from the hidden ground truth).
Later stages (slices, annotation, repair, evaluation) append their own steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from slicelens.demo.data import DemoConfig
from slicelens.extract import ExtractConfig
from slicelens.models import TrainConfig
from slicelens.utils import table

if TYPE_CHECKING:
    from slicelens.store.workspace import Workspace


class DemoRun(BaseModel):
    """Everything the demo does, in one replayable config."""

    data: DemoConfig = Field(default_factory=DemoConfig)
    model: str = Field("small-cnn", description="built-in model to train")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(epochs=15, patience=4))
    extract: ExtractConfig = Field(default_factory=ExtractConfig)

    @classmethod
    def fast(cls, seed: int = 0) -> DemoRun:
        """A tiny configuration for tests and smoke runs (seconds, not minutes)."""
        return cls(data=DemoConfig(n_train=600, n_val=200, n_test=200, n_pool=200,
                                   image_size=24, seed=seed),
                   train=TrainConfig(epochs=3, patience=2, seed=seed))

    @classmethod
    def from_options(cls, *, fast: bool = False, seed: int = 0, model: str | None = None,
                     epochs: int | None = None) -> DemoRun:
        """The config of ``slicelens demo [--fast] [--seed] [--model] [--epochs]``."""
        cfg = cls.fast(seed) if fast else cls()
        if not fast:
            cfg.data.seed = cfg.train.seed = seed
        if model:
            cfg.model = model
        if epochs:
            cfg.train.epochs = epochs
        return cfg


@dataclass
class DemoState:
    """What the demo steps hand to each other."""

    workspace: Workspace
    cfg: DemoRun
    echo: Callable = print
    # set by the steps, in order (build data -> train -> extract); Any until then
    paths: Any = None
    dataset: Any = None
    model_spec: Any = None
    run: Any = None
    results: dict = field(default_factory=dict)


def step_build_data(st: DemoState) -> None:
    from slicelens.data import load_dataset
    from slicelens.demo.data import build_demo

    st.paths = build_demo(Path(st.workspace.root) / "demo-data", st.cfg.data)
    st.dataset = load_dataset(st.paths.manifest)
    counts = {s: int((st.dataset.splits == s).sum()) for s in ("train", "val", "test", "pool")}
    st.echo(f"[1] demo data: {counts} images of {st.cfg.data.image_size}px, "
            f"classes {st.dataset.classes}\n    manifest {st.paths.manifest}")


def step_train(st: DemoState) -> None:
    from slicelens.pipeline.train import TrainJob, train_model

    job = TrainJob(model=st.cfg.model, input_size=st.cfg.data.image_size, name=f"demo-{st.cfg.model}")
    st.model_spec, result = train_model(st.workspace, st.dataset, job, st.cfg.train)
    st.results["train"] = {"best_epoch": result.best_epoch, "best_val_acc": result.best_val_acc}
    st.echo(f"[2] trained {st.cfg.model}: best epoch {result.best_epoch}, "
            f"validation accuracy {result.best_val_acc:.3f}")


def step_extract(st: DemoState) -> None:
    from slicelens.pipeline.extract import extract_run
    from slicelens.pipeline.report import print_run_summary

    st.run = extract_run(st.workspace, st.paths.manifest, st.model_spec, st.cfg.extract, name="demo")
    st.echo("[3] extraction")
    print_run_summary(st.run, echo=lambda s: st.echo("    " + s.replace("\n", "\n    ")))


def step_planted_bugs(st: DemoState) -> None:
    from slicelens.demo.planted import planted_bug_table
    from slicelens.evaluate.groups import load_ground_truth

    gt = load_ground_truth(st.paths.ground_truth)
    tab = planted_bug_table(st.run.samples, gt, rare_digit=st.cfg.data.rare_digit,
                            flip_digit=st.cfg.data.flip_digit)
    a = tab.attrs
    st.results["planted"] = {"average_accuracy": a["average_accuracy"],
                             "worst_group": a["worst_group"],
                             "worst_group_accuracy": a["worst_group_accuracy"],
                             "bugs": tab.to_dict("records")}
    st.echo(f"[4] planted bugs on the test split (ground truth, hidden from every slicer):\n"
            f"    average accuracy {a['average_accuracy']:.3f}, worst-group accuracy "
            f"{a['worst_group_accuracy']:.3f} ({a['worst_group']})")
    st.echo("    " + table(tab.to_dict("records")).replace("\n", "\n    "))


def _later(path: str) -> Callable[[DemoState], None]:
    """A step of a later stage, imported when it runs (keeps `slicelens --help` quick)."""
    def run(st: DemoState) -> None:
        import importlib

        mod, fn = path.split(":")
        getattr(importlib.import_module(f"slicelens.demo.{mod}"), fn)(st)
    run.__name__ = path
    return run


STEPS: list[Callable[[DemoState], None]] = [
    step_build_data, step_train, step_extract, step_planted_bugs,
    # AttributionScanner: slices, scripted annotation + propagation, CoRM, RCS
    _later("scanner:step_discover"), _later("scanner:step_slices"), _later("scanner:step_mosaic"),
    _later("scanner:step_annotate"),
    _later("scanner:step_repair"), _later("scanner:step_evaluate"),
    # HiBug: attributes, attribute-combination bugs, repair by selection and generation
    _later("hibug:step_hibug_attributes"), _later("hibug:step_hibug_bugs"),
    _later("hibug:step_hibug_select"), _later("hibug:step_hibug_generate"),
    # training-data attribution for the worst error group
    _later("tda:step_tda"),
    # AACA: concept annotation by a simulated crowd, repair by priority-selected debug images
    _later("aaca:step_aaca"),
]


def run_demo(workspace: Workspace, cfg: DemoRun | None = None, echo: Callable = print) -> DemoState:
    """Run every demo step in order; returns the state with the run and the figures."""
    from slicelens.store.workspace import require_workspace

    ws = require_workspace(workspace, "run_demo")
    st = DemoState(workspace=ws, cfg=cfg or DemoRun(), echo=echo)
    for step in STEPS:
        step(st)
    return st
