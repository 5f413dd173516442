"""The planted-bug demo builder: determinism, planted rates, hidden pool labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slicelens.data import load_dataset
from slicelens.demo.data import DemoConfig, build_demo, class_names
from slicelens.errors import DataError
from slicelens.evaluate.groups import (
    average_accuracy,
    group_accuracy,
    load_ground_truth,
    worst_group_accuracy,
)
from slicelens.params import validate

SMALL = dict(image_size=16, n_train=400, n_val=60, n_test=200, n_pool=60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cfg = DemoConfig(**SMALL)
    return cfg, build_demo(tmp_path_factory.mktemp("demo"), cfg)


def test_same_seed_same_bytes(tmp_path, demo):
    cfg, paths = demo
    again = build_demo(tmp_path / "again", cfg)
    for name in ("manifest.csv", "ground_truth.csv", "images/train/00007.png", "images/pool/00700.png"):
        assert (paths.root / name).read_bytes() == (again.root / name).read_bytes()
    other = build_demo(tmp_path / "other", cfg.model_copy(update={"seed": 1}))
    assert other.ground_truth.read_bytes() != paths.ground_truth.read_bytes()


def test_planted_rates_in_ground_truth(demo):
    cfg, paths = demo
    gt = load_ground_truth(paths.ground_truth)
    train, test = gt[gt.split == "train"], gt[gt.split == "test"]
    home = {"0-4": "grass", "5-9": "brick"}
    at_home = lambda df: (df.background == df.true_label.map(home)).mean()  # noqa: E731
    assert at_home(train) == pytest.approx(0.95, abs=0.01)
    assert at_home(test) == pytest.approx(0.5, abs=0.01)
    usual = (train.digit == 3).mean()
    assert (train.digit == cfg.rare_digit).mean() / usual == pytest.approx(0.05, abs=0.03)
    assert (test.digit == cfg.rare_digit).mean() == pytest.approx(0.1, abs=0.01)
    assert train[train.digit == 7].flipped.mean() == pytest.approx(0.3, abs=0.03)
    assert not gt[gt.split != "train"].flipped.any()
    assert gt.rare.equals(gt.digit == cfg.rare_digit)
    assert (gt.group == gt.true_label + "|" + gt.background).all()
    assert gt.digit_scale.between(*cfg.digit_scale).all()
    assert gt.digit_x.between(0, 1).all() and gt.digit_y.between(0, 1).all()
    sizes = gt.split.value_counts()
    assert sizes.to_dict() == {"train": 400, "test": 200, "val": 60, "pool": 60}


def test_manifest_hides_pool_labels_and_flips_train_labels(demo):
    _, paths = demo
    m = pd.read_csv(paths.manifest, keep_default_na=False)
    gt = load_ground_truth(paths.ground_truth)
    assert m.columns.tolist() == ["path", "label", "split"]
    assert (m[m.split == "pool"].label == "").all()
    assert gt.loc[m[m.split == "pool"].path, "true_label"].isin(["0-4", "5-9"]).all()
    lab = m[m.split != "pool"].set_index("path").label
    flipped = gt.loc[lab.index, "flipped"]
    assert (lab[flipped] != gt.loc[lab.index, "true_label"][flipped]).all()
    assert (lab[~flipped] == gt.loc[lab.index, "true_label"][~flipped]).all()


def test_demo_loads_through_load_dataset(demo):
    _, paths = demo
    ds = load_dataset(paths.manifest)
    gt = load_ground_truth(paths.ground_truth)
    assert ds.classes == ["0-4", "5-9"] and set(ds.ids) == set(gt.index)
    assert (ds.labels[ds.splits == "pool"] == -1).all()
    assert ds.load_uint8([0, 1]).shape == (2, 16, 16, 3)


def test_core_masks_are_the_digit_ink_the_evaluation_always_used(demo):
    """The demo's evaluation reference (core_masks.npz) holds, for every image, exactly
    the mask evaluation used to rebuild from the ground truth's geometry."""
    from slicelens.demo.masks import DESCRIPTION, demo_digit_masks
    from slicelens.evaluate.reference import CORE_MASKS, load_core_masks

    _, paths = demo
    ds = load_dataset(paths.manifest)
    gt = load_ground_truth(paths.ground_truth).loc[ds.ids]
    masks, what = load_core_masks(paths.root / CORE_MASKS, np.asarray(ds.ids), 16)
    images = ds.load_uint8(np.arange(len(ds)), 16)
    rebuilt = demo_digit_masks(images, gt["digit_scale"], gt["digit_x"], gt["digit_y"])
    assert what == DESCRIPTION and masks.shape == (len(ds), 16, 16)
    assert (masks == rebuilt).all() and masks.any(axis=(1, 2)).mean() > 0.8


def test_split_source_digits_are_disjoint_when_counts_allow(demo):
    gt = load_ground_truth(demo[1].ground_truth)
    by = gt.groupby("split").source_index.apply(set)
    assert not by["train"] & by["test"] and not by["val"] & by["pool"]


def test_digits_task_and_sklearn_source(tmp_path):
    cfg = DemoConfig(task="digits", digits_source="sklearn8x8", digits=[1, 3, 7, 8],
                     rare_digit=3, flip_digit=7, flip_to=1, backgrounds=["gravel", "coffee", "moon"],
                     image_size=12, n_train=120, n_val=0, n_test=40, n_pool=0)
    paths = build_demo(tmp_path, cfg)
    gt = load_ground_truth(paths.ground_truth)
    assert class_names(cfg) == ["1", "3", "7", "8"]
    m = pd.read_csv(paths.manifest, dtype=str).set_index("path")
    assert set(m.loc[gt.index[gt.flipped], "label"]) == {"1"}
    assert set(gt.background) == {"gravel", "coffee", "moon"}


def test_bugs_can_be_switched_off(tmp_path):
    cfg = DemoConfig(**SMALL, rare_digit=None, flip_digit=None, correlation=0.5)
    gt = load_ground_truth(build_demo(tmp_path, cfg).ground_truth)
    assert not gt.flipped.any() and not gt.rare.any()
    train = gt[gt.split == "train"]
    assert (train.digit == 4).sum() == (train.digit == 3).sum()


@pytest.mark.parametrize("bad", [
    {"task": "binary", "digits": [0, 1]}, {"rare_digit": 11}, {"backgrounds": ["grass"]},
    {"backgrounds": ["grass", "lava"]}, {"correlation": 1.5}, {"digit_scale": (0.9, 0.2)},
    {"task": "digits", "flip_to": 7},
])
def test_config_is_validated(bad):
    with pytest.raises(Exception, match="invalid DemoConfig"):
        validate(DemoConfig, bad)


def test_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="not a demo"):
        build_demo(tmp_path, DemoConfig(**SMALL))


def test_group_metrics_hand_computed():
    correct = np.array([True, False, True, True, False])
    groups = np.array(["a|x", "a|x", "b|y", "b|y", "c|z"])
    table = group_accuracy(correct, groups)
    assert table.to_dict("list") == {"group": ["a|x", "b|y", "c|z"], "n": [2, 2, 1],
                                     "accuracy": [0.5, 1.0, 0.0]}
    assert worst_group_accuracy(correct, groups) == ("c|z", 0.0)
    assert average_accuracy(correct) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        group_accuracy(correct, groups[:2])


def test_same_seed_same_trained_model(tmp_path):
    """Training is reproducible: the initial weights are seeded too, not only the order
    (the demo's model once came out 0.69 or 0.63 on the same seed)."""
    import torch

    from slicelens.models import TrainConfig
    from slicelens.pipeline.train import TrainJob, train_model
    from slicelens.store import Workspace

    paths = build_demo(tmp_path / "d", DemoConfig(n_train=80, n_val=20, n_test=10, n_pool=0,
                                                  image_size=16))
    ds = load_dataset(paths.manifest)
    torch.manual_seed(123)  # whatever ran before must not matter
    weights = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        spec, _ = train_model(Workspace(tmp_path / "ws"), ds, TrainJob(input_size=16, name=name),
                              TrainConfig(epochs=1, seed=seed))
        torch.rand(3)  # consume the global generator between trainings
        weights.append(torch.load(spec.weights, weights_only=True))
    same = [torch.equal(weights[0][k], weights[1][k]) for k in weights[0]]
    other = [torch.equal(weights[0][k], weights[2][k]) for k in weights[0]]
    assert all(same) and not all(other)
