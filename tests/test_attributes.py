"""Attribute specs, the attribute matrix and the offline backends (stats, metadata, ImageNet)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_attributes_fixtures import make_run

from slicelens.attributes import ASSIGNERS, PROPOSERS, TAGGERS, AttributeMatrix, AttributeSpec
from slicelens.attributes.assign_stats import PALETTE, measure_batch, quantile_bins
from slicelens.attributes.base import Attribute, get_backend, load_backends
from slicelens.attributes.matrix import from_codes
from slicelens.data.arrays import from_arrays
from slicelens.errors import DataError
from slicelens.pipeline.attributes import assign_attributes, histograms, load_spec


def test_registries_are_complete_and_uniform():
    load_backends()
    assert {"builtin", "user", "llm"} <= set(PROPOSERS)
    assert {"stats", "imagenet", "metadata", "clip", "vqa", "region-stats", "clusters"} <= set(
        ASSIGNERS)
    assert {"imagenet", "vqa"} <= set(TAGGERS)
    for cls in ASSIGNERS.values():
        assert callable(cls.assign) and callable(cls.supports) and cls.Params is not None
    for cls in TAGGERS.values():
        assert callable(cls.tag)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_spec_round_trip(tmp_path, suffix):
    spec = get_backend(PROPOSERS, "builtin", object="digit").propose("digits")
    path = spec.save(tmp_path / f"spec{suffix}")
    back = AttributeSpec.load(path)
    assert back.to_json() == spec.to_json()
    assert back.get("object size").values == ["small", "medium", "large"]


def test_user_spec_accepts_names_and_names_bad_fields(tmp_path):
    (tmp_path / "a.yaml").write_text("attributes:\n- gender\n- name: hair colour\n  values: [black, brown]\n")
    spec = get_backend(PROPOSERS, "user", path=str(tmp_path / "a.yaml")).propose()
    assert spec.names == ["gender", "hair colour"] and spec.get("hair colour").values == ["black", "brown"]
    (tmp_path / "b.yaml").write_text("attributes:\n- name: x\n  colour: red\n")
    with pytest.raises(DataError, match="field 'colour'"):
        AttributeSpec.load(tmp_path / "b.yaml")
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(DataError, match="c.json"):
        AttributeSpec.load(tmp_path / "c.json")
    with pytest.raises(DataError, match="listed twice"):
        AttributeSpec([Attribute("a"), Attribute("a")])


def test_matrix_codes_wide_histogram_and_storage(tmp_path):
    m = AttributeMatrix.concat([
        from_codes(["a", "b", "c"], "size", ["small", "large"], np.array([0, 1, -1]), np.array([.9, .6, .5])),
        from_codes(["a", "b", "c"], "bg", ["grass", "brick"], np.array([1, 1, 0]), np.ones(3))])
    codes, scores = m.codes(["c", "a", "zz"])
    assert codes.tolist() == [[-1, 0], [0, 1], [-1, -1]]
    assert scores[1, 0] == pytest.approx(0.9) and np.isnan(scores[0, 0])
    size = m.wide(["a", "c"])["size"]
    assert size.iloc[0] == "small" and pd.isna(size.iloc[1])
    h = m.histogram("bg")
    assert h.set_index("value")["n"].to_dict() == {"grass": 1, "brick": 2}
    m.save(tmp_path)
    back = AttributeMatrix.load(tmp_path)
    assert back.values == m.values and np.array_equal(back.codes(["a", "b", "c"])[0], m.codes(["a", "b", "c"])[0])


def test_quantile_bins_hand_computed():
    b, s = quantile_bins(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 3)
    assert b.tolist() == [0, 0, 1, 1, 2, 2]
    # ranks (i + .5) / 6; distance to the nearest inner edge (1/3, 2/3), score .5 + .5 min(1, 6 d)
    assert s[0] == pytest.approx(1.0) and s[2] == pytest.approx(0.5 + 0.5 * 6 * (2.5 / 6 - 1 / 3))


def _toy_images():
    """4 images: dark/bright, red/green background, small/large white object at left/right."""
    imgs = np.zeros((4, 32, 32, 3), np.uint8)
    imgs[0], imgs[1] = (150, 30, 30), (40, 150, 40)
    imgs[2], imgs[3] = (60, 10, 10), (200, 240, 200)
    imgs[0, 12:16, 2:6] = 255        # small, left
    imgs[1, 6:26, 16:30] = 255       # large, right
    imgs[2, 14:18, 14:18] = 255
    imgs[3, 14:18, 14:18] = 20
    return imgs


def test_image_statistics_measure_what_they_say():
    meas = measure_batch(_toy_images(), np.full((4, 4, 4), 1 / 16))
    names = list(PALETTE)
    assert names[meas["background_colour"][0]] == "red"
    assert names[meas["background_colour"][1]] == "green"
    assert names[meas["object_colour"][0]] == "white"
    assert meas["object_size"][1] > 10 * meas["object_size"][0]
    assert meas["position"][0, 0] < 0.25 < 0.7 < meas["position"][1, 0]
    assert meas["brightness"][3] > meas["brightness"][2]
    assert meas["attention_size"][0] == pytest.approx(13 / 16)  # uniform map: 80% mass in 13 cells


@pytest.fixture
def toy_run(tmp_path):
    imgs = np.concatenate([_toy_images()] * 5)  # row i is toy image i % 4
    n = len(imgs)
    label = np.arange(n) % 2
    run = make_run(tmp_path, label, label, ["val"] * n)
    meta = pd.DataFrame({"camera": np.where(np.arange(n) < 10, "A", "B"),
                         "secret": np.arange(n)})
    ds = from_arrays(imgs, label, ["a", "b"], splits="val", ids=run.samples["id"].to_numpy(str),
                     metadata=meta)
    ds.hidden_columns = ("secret",)
    return run, ds


def test_assign_attributes_stats_and_metadata_cached(toy_run):
    run, ds = toy_run
    spec = AttributeSpec([
        Attribute("background colour", backend="stats", measure="background_colour"),
        Attribute("object size", ["small", "medium", "large"], backend="stats", measure="object_size"),
        Attribute("camera", backend="metadata")], object="digit")
    m = assign_attributes(run, spec=spec, dataset=ds)
    w = m.wide(run.samples["id"])
    assert w["background colour"].iloc[0] == "red" and w["camera"].iloc[-1] == "B"
    assert (w["object size"].iloc[1::4] == "large").all()
    assert load_spec(run.path).names == spec.names
    assert histograms(run)["camera"][0]["n"] == 10
    # the cache answers without images
    assert assign_attributes(run, spec=spec, dataset=None).attributes == m.attributes
    with pytest.raises(DataError, match="hidden ground truth"):
        assign_attributes(run, spec=AttributeSpec([Attribute("secret", backend="metadata")]),
                          dataset=ds, force=True)


def test_stats_backend_refuses_unknown_measure(toy_run):
    run, ds = toy_run
    with pytest.raises(DataError, match="measure"):
        assign_attributes(run, spec=AttributeSpec([Attribute("mood", backend="stats", measure="mood")]),
                          dataset=ds)


def test_imagenet_zero_shot_math():
    from slicelens.attributes.assign_imagenet import imagenet_classes, zero_shot

    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet tissue"
    probs = np.zeros((3, 1000))
    probs[0, 10], probs[1, 20], probs[2, 10] = 0.9, 0.9, 0.1
    probs[2, 20] = 0.1
    w = np.zeros((2, 1000))
    w[0, 10], w[1, 20] = 1.0, 1.0
    code, score = zero_shot(probs, w)
    assert code[:2].tolist() == [0, 1]
    # lift = s / mean(s): value means (0.9+0.1)/3 each -> image 0: lift (2.7, 0) -> score 1
    assert score[0] == pytest.approx(1.0) and score[2] == pytest.approx(0.5)


def test_backend_params_go_to_the_backends_that_declare_them():
    """``--image-size`` on a plan mixing image and metadata backends reaches the image
    backend only; a parameter no backend of the plan declares is refused, naming it."""
    from slicelens.errors import SliceLensError
    from slicelens.pipeline.attributes import _params_per_backend

    plan = [(Attribute("brightness", backend="stats"), "stats"),
            (Attribute("camera", backend="metadata"), "metadata")]
    assert _params_per_backend(plan, {"image_size": 32}) == {"stats": {"image_size": 32},
                                                             "metadata": {}}
    with pytest.raises(SliceLensError, match="unknown parameter 'imagesize' of the attribute "
                                             "assigners 'stats', 'metadata'; known: .*image_size"):
        _params_per_backend(plan, {"imagesize": 32})
