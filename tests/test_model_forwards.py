"""Models whose forward is not a chain of children, non-linear heads, odd outputs, exports."""

from __future__ import annotations

import warnings

import fixtures_archs as fa  # tests/ is on sys.path under pytest
import pytest
import torch
from torch import nn

from slicelens.errors import ModelError
from slicelens.extract.methods import attribute_images
from slicelens.models import load_model
from slicelens.models.adapter import ModelAdapter

ABC = ["a", "b", "c"]


def _script(m, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(m).save(str(path))
    return str(path)


def test_torchscript_resnet_flatten_between_pool_and_fc(tmp_path):
    """The issue's failure: 'forward is not a chain of its children (mat1 and mat2 ...)'."""
    torch.manual_seed(0)
    m = fa.resnet_style().eval()
    ad = load_model(_script(m, tmp_path / "r.ts"), classes=ABC, input_size=20)
    assert ad.mode == "split" and ad.layer_name == "layer2" and ad.head.name == "fc"
    x = torch.rand(5, 3, 20, 20)
    A, logits = ad.forward_parts(x)
    torch.testing.assert_close(logits, m(x))
    assert A.shape == (5, 16, 10, 10)
    # closed-form CAM (verified head) equals GradCAM through the cut graph's tail
    t = logits.argmax(1)
    torch.testing.assert_close(attribute_images(ad, x, t, method="cam"),
                               attribute_images(ad, x, t, method="gradcam"), atol=1e-5, rtol=1e-4)


def test_torchscript_functional_relu_in_forward_and_dict_output(tmp_path):
    torch.manual_seed(0)
    for build, layer, head in [(fa.densenet_style, "features", None),
                               (fa.normalized_inside, "body", "head.1")]:
        m = build().eval()
        ad = load_model(_script(m, tmp_path / f"{layer}.ts"), classes=ABC, input_size=16)
        assert (ad.layer_name, ad.head and ad.head.name) == (layer, head)
        x = torch.rand(3, 3, 16, 16)
        ref = m(x)
        torch.testing.assert_close(ad.logits(x), ref["logits"] if isinstance(ref, dict) else ref)
        A, _ = ad.forward_parts(x)
        with torch.no_grad():  # the layer's own output: F.relu(..., inplace=True) after it left it alone
            torch.testing.assert_close(A, getattr(m, layer)(x if head is None else (x - 0.5) / 0.25))


def test_torchscript_nested_layer_and_unknown_layer(tmp_path):
    torch.manual_seed(0)
    m = fa.resnet_style().eval()
    path = _script(m, tmp_path / "r.ts")
    with pytest.raises(ModelError, match="layer1, layer2"):
        load_model(path, classes=ABC, input_size=16, layer="layer1.nope")
    # a layer inside a block: cut out of the block's own graph, then the block out of forward's
    ad = load_model(path, classes=ABC, input_size=16, layer="layer2.bn2")
    x = torch.rand(2, 3, 16, 16)
    A, logits = ad.forward_parts(x)
    with torch.no_grad():
        h = m.layer1(m.relu(m.bn1(m.conv1(x))))
        torch.testing.assert_close(A, m.layer2.bn2(m.layer2.conv2(m.layer2.relu(m.layer2.bn1(m.layer2.conv1(h))))))
    torch.testing.assert_close(logits, m(x))
    assert ad.head is None  # the residual sum and ReLU follow bn2


@pytest.mark.parametrize("wrap", [lambda lg: (lg, lg * 0), lambda lg: {"logits": lg, "aux": lg},
                                  lambda lg: [lg]])
def test_tuple_and_dict_outputs(wrap):
    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = fa.resnet_style()

        def forward(self, x):
            return wrap(self.net(x))

    torch.manual_seed(0)
    m = Wrapped().eval()
    ad = ModelAdapter(m, ABC, input_size=16)
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(ad.logits(x), m.net(x))
    assert ad.head is not None and ad.layer_name == "net.layer2"


def test_mlp_and_dropout_linear_heads():
    torch.manual_seed(0)
    assert ModelAdapter(fa.mobilenetv3_style(), ABC, input_size=16).head is None  # MLP head
    ad = ModelAdapter(fa.normalized_inside(), ABC, input_size=16)  # dropout + linear
    assert ad.head is not None and ad.head.name == "head.1"


def test_export_static_batch_is_one_clear_error(tmp_path):
    m = fa.densenet_style().eval()
    torch.export.save(torch.export.export(m, (torch.rand(2, 3, 16, 16),)), tmp_path / "s.pt2")
    with pytest.raises(ModelError, match=r"s\.pt2.*fixed batch of 2.*dynamic_shapes"):
        load_model(str(tmp_path / "s.pt2"), classes=ABC)


def test_export_input_size_from_example_inputs(tmp_path):
    m = fa.densenet_style().eval()
    ep = torch.export.export(m, (torch.rand(2, 3, 24, 24),),
                             dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, tmp_path / "d.pt2")
    ad = load_model(str(tmp_path / "d.pt2"), classes=ABC)
    assert ad.input_size == 24
    x = torch.rand(64, 3, 24, 24)
    torch.testing.assert_close(ad.logits(x), m(x))


def test_traced_vit_default_layer_reaches_the_cls_head(tmp_path):
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    m = fa.tiny_vit().eval()
    x = torch.rand(2, 3, 16, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(m, (x,), strict=False).save(str(tmp_path / "v.ts"))
    # `vit`'s output tokens (after the last block) do not reach the CLS head: the default
    # looks inside `vit`; naming that layer is a clear error
    assert load_model(str(tmp_path / "v.ts"), classes=ABC, input_size=16).layer_name == "vit.layers.0"
    with pytest.raises(ModelError, match="do not depend on layer 'vit'"):
        load_model(str(tmp_path / "v.ts"), classes=ABC, input_size=16, layer="vit")


def test_frozen_torchscript_is_a_clear_error(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.freeze(torch.jit.script(fa.resnet_style().eval())).save(str(tmp_path / "f.ts"))
    with pytest.raises(ModelError, match="calls no sub-modules.*torch.jit.freeze"):
        load_model(str(tmp_path / "f.ts"), classes=ABC, input_size=16)
