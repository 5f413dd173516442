"""The attribute-backend contract (HiBug Sec. 3.1), over every registered proposer, tagger
and assigner: parameters validated on construction without I/O (a required
one missing is an error naming it), the family's verb present,
and, for every backend that runs offline, its answer typed and aligned with the samples it
was asked about. A backend that needs a model on disk (or an endpoint) is listed in
``NEEDS_MODEL`` with the test file that covers it; a new backend must be put in one of
``OFFLINE`` or ``NEEDS_MODEL`` (the contract fails until its author says how to test it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slicelens.attributes.assign_region import region_attributes
from slicelens.attributes.base import FAMILIES, Attribute, AttributeSpec
from slicelens.attributes.matrix import AttributeMatrix
from slicelens.data import from_arrays
from slicelens.errors import SliceLensError

VERBS = {"proposer": ("propose",), "tagger": ("tag",), "assigner": ("assign", "supports")}
#: family -> backend -> the attributes it is asked about on the test bed
OFFLINE = {
    "proposer": {"builtin": None, "user": None},
    "assigner": {"stats": [Attribute("brightness", backend="stats", measure="brightness"),
                           Attribute("object size", ["small", "medium", "large"],
                                     backend="stats", measure="object_size")],
                 "metadata": [Attribute("camera", backend="metadata")],
                 # issue 13's offline taggers: feature clusters per class (named later),
                 # and image statistics of the explained region vs the rest
                 "clusters": [Attribute("kind", backend="clusters")],
                 "region-stats": region_attributes()},
}
NEEDS_MODEL = {
    "proposer": {"llm": "an OpenAI-compatible endpoint (tests/test_attributes_backends.py)"},
    "tagger": {"imagenet": "ImageNet weights (tests/test_attributes_backends.py)",
               "vqa": "BLIP weights on disk (tests/test_attributes_backends.py)"},
    "assigner": {"imagenet": "ImageNet weights (tests/test_attributes.py)",
                 "clip": "CLIP weights on disk (tests/test_attributes_backends.py)",
                 "vqa": "BLIP weights on disk (tests/test_attributes_backends.py)"},
}
MEMBERS = [(f, n) for f, fam in FAMILIES.items() for n in fam.names()]


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    from conftest import write_synthetic_run

    n = 24
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 60, (n, 16, 16, 3), dtype=np.uint8)
    imgs[:, 5:11, 5:11] = 230                 # a bright square object
    imgs[n // 2:] += 100                      # the second half is brighter
    label = np.arange(n) % 2
    root = tmp_path_factory.mktemp("attr")
    run = write_synthetic_run(root / "runs" / "run-0001-synthetic", label, label, ["val"] * n)
    ds = from_arrays(imgs, label, ["a", "b"], splits="val", ids=run.samples["id"].to_numpy(str),
                     metadata=pd.DataFrame({"camera": np.where(np.arange(n) < 10, "A", "B")}))
    spec = root / "spec.yaml"
    AttributeSpec([Attribute("camera", ["A", "B"], backend="metadata")]).save(spec)
    return run, ds, {"user": {"path": str(spec)}}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_backend_says_how_it_is_tested(family):
    listed = set(OFFLINE.get(family, {})) | set(NEEDS_MODEL.get(family, {}))
    assert set(FAMILIES[family].names()) == listed, (
        f"add each {family} to OFFLINE (with its test input) or NEEDS_MODEL (with the reason)")


@pytest.mark.parametrize(("family", "name"), MEMBERS, ids=[f"{f}:{n}" for f, n in MEMBERS])
def test_constructed_without_io_and_validated(family, name, bed):
    fam = FAMILIES[family]
    required = [p["name"] for p in fam.schema(name) if p["required"]]
    kw = bed[2].get(name, {})
    if required and not kw:
        with pytest.raises(SliceLensError, match=required[0]):
            fam.create(name)
        return
    b = fam.create(name, **kw)                   # no model is loaded here
    assert all(callable(getattr(b, v, None)) for v in VERBS[family])


@pytest.mark.parametrize("name", sorted(OFFLINE["proposer"]))
def test_offline_proposer_gives_a_spec(name, bed):
    spec = FAMILIES["proposer"].create(name, **bed[2].get(name, {})).propose("digits")
    assert isinstance(spec, AttributeSpec) and spec.attributes
    assert AttributeSpec.from_json(spec.to_json()).names == spec.names


@pytest.mark.parametrize("name", sorted(OFFLINE["assigner"]))
def test_offline_assigner_matrix_is_aligned(name, bed):
    run, ds, _ = bed
    attrs = OFFLINE["assigner"][name]
    a = FAMILIES["assigner"].create(name)
    assert all(a.supports(x) for x in attrs)
    rows = np.arange(0, len(run.samples), 2)
    m = a.assign(run, attrs, ds, rows)
    assert isinstance(m, AttributeMatrix) and m.attributes == [x.name for x in attrs]
    wide = m.wide(run.samples["id"].to_numpy(str)[rows])
    assert len(wide) == len(rows) and wide.notna().all().all()
    again = a.assign(run, attrs, ds, rows).wide(run.samples["id"].to_numpy(str)[rows])
    pd.testing.assert_frame_equal(wide, again)


@pytest.mark.parametrize(("family", "name"), MEMBERS, ids=[f"{f}:{n}" for f, n in MEMBERS])
def test_unknown_parameter_is_refused(family, name, bed):
    fam = FAMILIES[family]
    known = ", ".join(sorted(p["name"] for p in fam.schema(name))) or "none"
    with pytest.raises(SliceLensError, match=rf"unknown parameter 'no_such_option' of "
                                             rf"{fam.kind} '{name}'; known: {known}"):
        fam.create(name, **bed[2].get(name, {}), no_such_option=1)
