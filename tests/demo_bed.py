"""The fast demo's first three steps (data, a briefly trained model, the extracted run) as
a test bed: shared by the repair contract, the concept pipeline and the concurrent-repair
tests. Nothing here is a test."""

from __future__ import annotations

from pathlib import Path

from slicelens.demo import run as demo_run
from slicelens.demo.run import DemoRun, DemoState
from slicelens.models import TrainConfig
from slicelens.store import Workspace


def fast_demo_run(root: Path, epochs: int = 2) -> DemoState:
    """A workspace at ``root`` with the fast demo's data, a model trained ``epochs`` epochs
    (seed 0) and its extracted run (``state.run``)."""
    cfg = DemoRun.fast()
    cfg.train = TrainConfig(epochs=epochs, patience=epochs, seed=0)
    st = DemoState(workspace=Workspace(root), cfg=cfg, echo=lambda *_: None)
    for step in (demo_run.step_build_data, demo_run.step_train, demo_run.step_extract):
        step(st)
    return st
