"""The one-file examples of docs/architecture.md ("Adding to a family") run as written.

Each ```python block of that section is executed as the module its heading names (e.g.
``src/slicelens/slicing/slicer_confusion.py`` -> ``slicelens.slicing.slicer_confusion``),
which registers the member; the test checks the file would be found by its family's
discovery rule (it sits in the family's package), puts the member through the family's
basic checks, and unregisters it again.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"


def examples() -> dict[str, tuple[str, str]]:
    """Module path (``src/slicelens/...py``) -> (family word, code) of each example."""
    text = PAGE.read_text().split("## Adding to a family: one file each", 1)[1]
    out = {}
    for m in re.finditer(r"\*\*An? ([^*]+)\*\*: `(src/slicelens/[^`]+\.py)`.*?```python\n(.*?)```",
                         text, re.S):
        out[m.group(2)] = (m.group(1), m.group(3))
    return out


EXAMPLES = examples()


def test_the_page_shows_the_four_examples():
    assert sorted(w for w, _ in EXAMPLES.values()) == [
        "TDA action", "attribution method", "repair strategy", "slicer"]


@pytest.fixture
def load():
    """Execute an example as its module; unregister its members afterwards."""
    from contract_families import all_families

    fams = all_families()
    for f in fams.values():  # discovered first: a snapshot taken before discovery would
        f.discover()         # drop the built-in members that a test discovers meanwhile
    before = {k: dict(f.registry) for k, f in fams.items()}
    added = []

    def run(path: str):
        name = path[len("src/"):-len(".py")].replace("/", ".")
        pkg = name.rpartition(".")[0]
        fam = [f for f in fams.values() if f.package == pkg]
        assert fam, f"{path} is in no family's package: no discovery rule would find it"
        mod = types.ModuleType(name)
        mod.__file__ = str(ROOT / path)
        sys.modules[name] = mod
        added.append(name)
        exec(compile(EXAMPLES[path][1], path, "exec"), mod.__dict__)
        return mod
    yield run
    for k, f in fams.items():
        f.registry.clear()
        f.registry.update(before[k])
    for name in added:
        sys.modules.pop(name, None)


def _path(word):
    return next(p for p, (w, _) in EXAMPLES.items() if w == word)


def test_slicer_example(load, tmp_path):
    from test_slicing_support import write_run

    from slicelens.slicing.base import SLICER_FAMILY, get_slicer

    load(_path("slicer"))
    run = write_run(tmp_path / "runs" / "run-0001-synth")
    s = get_slicer("confusion").fit(run, "val")
    assert s.slices_ and SLICER_FAMILY.schema("confusion") == []
    cells = {(int(a), int(b)) for a, b in run.samples.query("split == 'val'")[["label", "pred"]].values}
    assert len(s.slices_) == len(cells)
    out = s.assign(run, "test")
    assert out.shape == ((run.samples.split == "test").sum(),) and (out >= 0).all()


def test_attribution_method_example(load):
    import torch

    from slicelens.extract import ExtractConfig
    from slicelens.extract.methods import get_method, method_names
    from slicelens.models.adapter import ModelAdapter
    from slicelens.models.builtin import SmallCNN

    load(_path("attribution method"))
    assert "activation" in method_names() and ExtractConfig(method="activation").method == "activation"
    torch.manual_seed(0)
    adapter = ModelAdapter(SmallCNN(2, width=4).eval(), ["a", "b"], input_size=16)
    maps = get_method("activation", adapter).attribute_images(
        adapter, torch.rand(3, 3, 16, 16), torch.tensor([0, 1, 0]), normalize=True)
    assert maps.shape == (3, 4, 4)
    torch.testing.assert_close(maps.sum((1, 2)), torch.ones(3))


def test_repair_strategy_example(load, tmp_path):
    from conftest import write_synthetic_run

    from slicelens.repair.base import REPAIR_FAMILY, get_repair

    load(_path("repair strategy"))
    label = np.array([0, 1, 0, 1, 0, 1])
    pred = np.array([0, 0, 0, 1, 1, 1])
    run = write_synthetic_run(tmp_path / "run-0001-s", label, pred, ["train"] * 4 + ["val"] * 2)
    plan = get_repair("upweight-errors").plan(None, run, up=3.0)
    assert plan.weights == {"s0001": 3.0} and plan.strategy == "upweight-errors"
    assert [p["name"] for p in REPAIR_FAMILY.schema("upweight-errors")] == ["up"]


def test_tda_action_example(load):
    from pydantic import create_model
    from test_tda_result import planted

    from slicelens.tda.actions import ACTION_FAMILY, make_change
    from slicelens.tda.groups import TrainingGroup
    from slicelens.tda.params import ActionParams
    from slicelens.tda.problem import fit_baseline
    from slicelens.tda.report import summary_rows
    from slicelens.tda.result import TDARow, to_plan

    mod = load(_path("TDA action"))
    names = ACTION_FAMILY.names()
    assert names.index("downweight") == names.index("upweight") + 1
    # the params tda.params would join had the file been there when it was imported
    params = create_model("P", __base__=(mod.DownweightParams, ActionParams))(downweight=0.25)
    pb, flipped = planted(n=60, flip=10)
    base = fit_baseline(pb, 0.01)
    c = make_change("downweight", np.flatnonzero(flipped), pb, base, params)
    assert c.factor == 0.25 and len(c.rows) == 10
    row = TDARow(TrainingGroup("flipped", "label", pb.ids[flipped]), "downweight", "loss",
                 factor=c.factor, detail=c.detail)
    assert set(to_plan(row).weights.values()) == {0.25}
    assert summary_rows([row])[0]["action"] == "downweight x0.25"
