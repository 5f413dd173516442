"""The attribution-method contract, over every registered method, on two tiny models: one
ending in global average pooling + linear (``adapter.head`` set) and one with a flattening
head (no closed form). A method either refuses a model with a ModelError in ``check`` or
gives non-negative, finite, detached float32 maps on the layer's grid, deterministic, that
sum to 1 when normalised, upsample to the asked size, and leave the model untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from slicelens.errors import ModelError
from slicelens.extract.methods import METHOD_FAMILY, get_method, method_names
from slicelens.models.adapter import ModelAdapter
from slicelens.models.builtin import SmallCNN

NAMES = METHOD_FAMILY.names()
CLASSES = ["a", "b", "c"]


def _flat_head() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * 4 * 4, 3))


@pytest.fixture(scope="module")
def beds():
    torch.manual_seed(0)
    pooled = ModelAdapter(SmallCNN(3, width=4).eval(), CLASSES, input_size=16)
    flat = ModelAdapter(_flat_head().eval(), CLASSES, input_size=16)
    assert pooled.head is not None and flat.head is None
    x = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    return {"pooled": pooled, "flat": flat}, x, torch.tensor([0, 1, 2, 0, 1])


def _method(name, adapter):
    try:
        return get_method(name, adapter)
    except ModelError as e:
        pytest.skip(f"{name} does not apply to this model: {e}")


def test_auto_and_every_method_are_choices():
    assert method_names() == ["auto", *NAMES] and {"cam", "gradcam"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_method_applies_to_one_bed_at_least(name, beds):
    ok = []
    for adapter in beds[0].values():
        try:
            get_method(name, adapter)
            ok.append(adapter)
        except ModelError:
            pass
    assert ok, f"method {name!r} explains neither test model"


@pytest.mark.parametrize("bed", ["pooled", "flat"])
@pytest.mark.parametrize("name", NAMES)
def test_maps_shape_range_and_determinism(name, bed, beds):
    adapters, x, t = beds
    adapter = adapters[bed]
    m = _method(name, adapter)
    before = {k: v.clone() for k, v in adapter.module.state_dict().items()}
    maps = m.attribute_images(adapter, x, t)
    A, _ = adapter.forward_parts(x)
    assert maps.shape == (len(x), *A.shape[2:]) and maps.dtype == torch.float32
    assert not maps.requires_grad and torch.isfinite(maps).all() and (maps >= 0).all()
    assert torch.equal(maps, m.attribute_images(adapter, x, t))
    norm = m.attribute_images(adapter, x, t, normalize=True)
    torch.testing.assert_close(norm.sum((1, 2)), torch.ones(len(x)))
    assert m.attribute_images(adapter, x, t, size=16).shape == (len(x), 16, 16)
    after = adapter.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in adapter.module.parameters())
