"""TrainingPlan and apply_plan: the plan's changes reach training, and a new run results."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slicelens.demo.run import DemoRun, run_demo
from slicelens.errors import SliceLensError
from slicelens.models import TrainConfig
from slicelens.pipeline.retrain import apply_plan, noise_augment, training_set
from slicelens.repair.plan import TrainingPlan
from slicelens.store import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("retrain") / "ws")
    return run_demo(ws, DemoRun.fast(), echo=lambda *_: None)


def test_plan_round_trip_and_validation(tmp_path):
    p = TrainingPlan(strategy="x", remove=["a"], relabel={"b": 1}, weights={"c": 2.5}, add={"d": 0})
    q = TrainingPlan.load(p.save(tmp_path / "p.json"))
    assert q == p and q.summary() == "x: remove 1, relabel 1, reweight 1, add 1"
    with pytest.raises(SliceLensError, match="weights"):
        TrainingPlan(weights={"a": -1.0})


def test_training_set_applies_every_change(demo):
    ds = demo.dataset
    tr = ds.split_indices("train")
    pool = ds.split_indices("pool")
    a, b, c = ds.ids[tr[:3]]
    new_label = 1 - int(ds.labels[tr[1]])
    plan = TrainingPlan(remove=[a], relabel={b: new_label}, weights={c: 3.0},
                        add={ds.ids[pool[0]]: 1})
    x, y, w, ids = training_set(ds, plan, 24)
    assert a not in ids and len(ids) == len(tr) - 1 + 1
    assert int(y[list(ids).index(b)]) == new_label
    assert float(w[list(ids).index(c)]) == 3.0
    assert ids[-1] == ds.ids[pool[0]] and int(y[-1]) == 1
    assert x.dtype == torch.uint8 and x.shape[1:] == (3, 24, 24)
    with pytest.raises(SliceLensError, match="not labelled training"):
        training_set(ds, TrainingPlan(remove=["nope"]), 24)


def test_noise_lands_only_inside_masks(tmp_path):
    ids = np.array(["s0", "s1", "s2"])
    masks = np.zeros((1, 8, 8), np.float32)
    masks[0, :4] = 1.0  # top half of s1 only
    np.savez(tmp_path / "m.npz", ids=np.array(["s1"]), masks=masks)
    plan = TrainingPlan(noise_masks=str(tmp_path / "m.npz"), noise_sigma=0.3)
    aug = noise_augment(plan, ids, 8)
    x = torch.full((3, 3, 8, 8), 0.5)
    out = aug(x.clone(), torch.tensor([0, 1, 2]))
    assert torch.equal(out[0], x[0]) and torch.equal(out[2], x[2])
    assert torch.equal(out[1, :, 4:], x[1, :, 4:])
    assert (out[1, :, :4] != 0.5).float().mean() > 0.9


@pytest.mark.slow
def test_apply_plan_makes_a_new_run(demo):
    ds = demo.dataset
    tr = ds.split_indices("train")
    plan = TrainingPlan(strategy="test-remove", remove=list(ds.ids[tr[:50]]))
    new = apply_plan(demo.workspace, demo.run, plan, TrainConfig(epochs=1, seed=0))
    assert new.is_complete and new.id != demo.run.id
    assert new.record["base_run"] == demo.run.id
    assert new.record["plan"]["remove"] == plan.remove
    assert new.record["model"]["weights"] != demo.run.record["model"]["weights"]
    assert len(new.samples) == len(demo.run.samples)


def test_weights_names_are_claimed_so_concurrent_repairs_never_collide(tmp_path):
    """Two repairs at once each claim their own models/repair-<name>-N.pt before training
    (issue: both wrote repair-corm-1.pt and one model was lost)."""
    from concurrent.futures import ThreadPoolExecutor

    from slicelens.pipeline.retrain import _claim_weights_path

    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: _claim_weights_path(tmp_path / "models", "repair-corm"),
                              range(16)))
    assert len(set(paths)) == 16 and all(p.exists() for p in paths)
    assert sorted(p.name for p in paths)[0] == "repair-corm-1.pt"


def test_a_failed_retraining_frees_its_claimed_name(demo, monkeypatch):
    import slicelens.pipeline.retrain as retrain

    def boom(*_a, **_k):
        raise RuntimeError("training died")

    monkeypatch.setattr(retrain, "_retrain", boom)
    models = demo.workspace.root / "models"
    before = set(models.glob("repair-boom-*.pt"))
    with pytest.raises(RuntimeError, match="training died"):
        apply_plan(demo.workspace, demo.run, TrainingPlan(strategy="boom"), TrainConfig(epochs=1))
    assert set(models.glob("repair-boom-*.pt")) == before


def test_interrupted_repair_leaves_no_half_run_no_model_and_no_plan_folder(demo, monkeypatch):
    """Ctrl-C while the repaired run is extracted: the incomplete run, the model file and
    the plan's folder go; the base run and others are untouched."""
    import json

    import slicelens.pipeline.extract as pe
    from slicelens.feedback import annotate_slice
    from slicelens.pipeline.repair import run_repair
    from slicelens.pipeline.slices import find_slices

    ws = demo.workspace

    def interrupted(workspace, source, spec, *a, **k):
        _, path = ws.new_run_dir("half")
        (path / "record.json").write_text(json.dumps({"status": "running",
                                                      "model": {"weights": str(spec.weights)}}))
        raise KeyboardInterrupt

    ss = find_slices(demo.run, "attribution")
    annotate_slice(ws, demo.run, "attribution", ss.slices[0].id, "spurious", "t", "t")
    runs_before = {r.id for r in ws.runs(include_incomplete=True)}
    plans_before = set((ws.root / "plans").glob("*")) if (ws.root / "plans").exists() else set()
    models_before = set((ws.root / "models").glob("repair-corm-*.pt"))
    monkeypatch.setattr(pe, "extract_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_repair(ws, demo.run, "corm", {"source": "marks"}, TrainConfig(epochs=1))
    assert {r.id for r in ws.runs(include_incomplete=True)} == runs_before
    assert set((ws.root / "plans").glob("*")) == plans_before
    assert set((ws.root / "models").glob("repair-corm-*.pt")) == models_before
