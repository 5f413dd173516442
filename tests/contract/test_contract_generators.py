"""The generator contract (HiBug Eq. 2's data generation), over every registered generator:
parameters validated on construction without I/O, and, for generators that run offline,
``generate(prompts, counts, ctx, seed)`` gives ``sum(counts)`` uint8 images of the asked
size with the prompts' labels, the same for the same seed. A generator that needs a model
on disk is listed in ``NEEDS_MODEL`` with the test that covers it."""

from __future__ import annotations

import numpy as np
import pytest

from slicelens.attributes.base import Attribute, AttributeSpec
from slicelens.attributes.matrix import AttributeMatrix, from_codes
from slicelens.data import from_arrays
from slicelens.errors import SliceLensError
from slicelens.repair.generators import GENERATOR_FAMILY, GenerationContext, PromptSpec

NAMES = GENERATOR_FAMILY.names()
OFFLINE = {"compositor"}
NEEDS_MODEL = {"diffusers": "a diffusers pipeline on disk (tests/test_attributes_backends.py)"}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from conftest import write_synthetic_run

    n = 40
    imgs = np.zeros((n, 16, 16, 3), np.uint8)
    bg = np.arange(n) % 2
    imgs[bg == 0], imgs[bg == 1] = (40, 160, 40), (170, 40, 40)
    imgs[:, 6:10, 6:10] = 250
    label = np.arange(n) // 20
    run = write_synthetic_run(tmp_path_factory.mktemp("gen") / "runs" / "run-0001-synthetic",
                              label, label, ["train"] * n)
    ids = run.samples["id"].to_numpy(str)
    ds = from_arrays(imgs, label, ["a", "b"], splits="train", ids=ids)
    m = AttributeMatrix.concat([from_codes(ids, "background colour", ["green", "red"], bg,
                                           np.ones(n))])
    spec = AttributeSpec([Attribute("background colour", backend="stats",
                                    measure="background_colour")])
    return GenerationContext(run, ds, 16, m, spec)


def test_every_generator_says_how_it_is_tested():
    assert set(NAMES) == OFFLINE | set(NEEDS_MODEL)


@pytest.mark.parametrize("name", NAMES)
def test_constructed_without_io_and_validated(name):
    schema = GENERATOR_FAMILY.schema(name)
    gen = GENERATOR_FAMILY.create(name)          # defaults valid, nothing loaded
    assert callable(gen.generate)
    numeric = [p for p in schema if p["type"] in ("int", "float")]
    if numeric:
        with pytest.raises(SliceLensError, match=numeric[0]["name"]):
            GENERATOR_FAMILY.create(name, **{numeric[0]["name"]: "not a number"})


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_is_refused(name):
    known = ", ".join(sorted(p["name"] for p in GENERATOR_FAMILY.schema(name))) or "none"
    with pytest.raises(SliceLensError, match=rf"unknown parameter 'no_such_option' of generator "
                                             rf"'{name}'; known: {known}"):
        GENERATOR_FAMILY.create(name, no_such_option=1)


@pytest.mark.parametrize("name", sorted(OFFLINE))
def test_generate_is_typed_labelled_and_seeded(name, ctx):
    gen = GENERATOR_FAMILY.create(name)
    prompts = [PromptSpec(0, {"background colour": "red"}), PromptSpec(1, {})]
    images, labels = gen.generate(prompts, [3, 2], ctx, seed=0)
    assert images.dtype == np.uint8 and images.shape == (5, 16, 16, 3)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 0, 0, 1, 1]
    again, _ = GENERATOR_FAMILY.create(name).generate(prompts, [3, 2], ctx, seed=0)
    assert np.array_equal(images, again)
