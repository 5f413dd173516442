"""Model loading (every spec form and its errors), built-ins, and the training loop."""

from __future__ import annotations

import math

import fixtures_models  # tests/ is on sys.path under pytest
import pytest
import torch

from slicelens.errors import ModelError
from slicelens.models import (
    ModelSpec,
    TrainConfig,
    TrainData,
    build_model,
    fit,
    load_model,
    predict_logits,
    save_model,
)
from slicelens.models.adapter import ModelAdapter
from slicelens.models.builtin import SmallCNN, builtin_info

AB = ["a", "b"]


def _tiny(num_classes=2):
    torch.manual_seed(0)
    return fixtures_models.tiny_net(num_classes).eval()


# -- loading ------------------------------------------------------------------------
def test_builtin_defaults_and_weights(tmp_path):
    ad = load_model("small-cnn", classes=AB)
    assert (ad.input_size, ad.layer_name, ad.head is not None) == (32, "features", True)
    m = SmallCNN(2)
    save_model(m, tmp_path / "w.pt")
    ad = load_model("small-cnn", classes=AB, weights=str(tmp_path / "w.pt"), input_size=24)
    x = torch.rand(3, 3, 24, 24)
    torch.testing.assert_close(ad.logits(x), m.eval()(x))
    assert builtin_info("efficientnet-lite0")["normalize"] == "imagenet"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_scripted_and_traced(tmp_path):
    m = _tiny()
    x = torch.rand(3, 3, 16, 16)
    for name, ts in [("s.ts", torch.jit.script(m)), ("t.ts", torch.jit.trace(m, x))]:
        ts.save(str(tmp_path / name))
        ad = load_model(str(tmp_path / name), classes=AB, input_size=16)
        assert ad.mode == "split" and ad.head is not None and ad.layer_name == "1"
        torch.testing.assert_close(ad.logits(x), m(x))


def test_torch_export_file(tmp_path):
    m = _tiny()
    ep = torch.export.export(m, (torch.rand(2, 3, 16, 16),),
                             dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, tmp_path / "m.pt2")
    ad = load_model(str(tmp_path / "m.pt2"), classes=AB, input_size=16)
    assert ad.mode == "hook" and ad.head is not None
    x = torch.rand(5, 3, 16, 16)
    A, logits = ad.forward_parts(x)
    assert A.shape == (5, 4, 16, 16)
    torch.testing.assert_close(logits, m(x))


def test_entry_point_with_weights_and_layer(tmp_path):
    m = _tiny(3)
    save_model(m, tmp_path / "w.pt")
    ad = load_model("fixtures_models:tiny_net", classes=list("abc"), input_size=16,
                    weights=str(tmp_path / "w.pt"), layer="0")
    assert ad.layer_name == "0" and ad.head is None  # the conv output is before the ReLU
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(ad.logits(x), m(x))
    assert load_model("fixtures_models:tiny_net", classes=AB, input_size=16).layer_name == "1"


def test_pickle_refused_then_allowed(tmp_path):
    m = _tiny()
    torch.save(m, tmp_path / "whole.pt")
    with pytest.raises(ModelError, match="allow-pickle"):
        load_model(str(tmp_path / "whole.pt"), classes=AB, input_size=16)
    ad = load_model(str(tmp_path / "whole.pt"), classes=AB, input_size=16, allow_pickle=True)
    assert ad.head is not None


@pytest.mark.parametrize("kwargs, needle", [
    ({"spec": "nope/model.ts", "input_size": 16}, "nope/model.ts"),
    ({"spec": "no_such_mod:net", "input_size": 16}, "no_such_mod"),
    ({"spec": "fixtures_models:nothing", "input_size": 16}, "'nothing'"),
    ({"spec": "fixtures_models:broken_net", "input_size": 16}, "broken on purpose"),
    ({"spec": "fixtures_models:tiny_net"}, "input-size"),
    ({"spec": "small-cnn", "weights": "missing.pt"}, "missing.pt"),
    ({"spec": "small-cnn", "layer": "nope"}, "nope"),
])
def test_load_errors_name_the_culprit(kwargs, needle):
    with pytest.raises(ModelError, match=needle.replace(".", r"\.")):
        load_model(classes=AB, **kwargs)


def test_key_mismatch_and_class_mismatch(tmp_path):
    save_model(fixtures_models.mlp_head_net(), tmp_path / "mlp.pt")
    with pytest.raises(ModelError, match="mlp.pt.*does not match"):
        load_model("fixtures_models:tiny_net", classes=AB, input_size=16, weights=str(tmp_path / "mlp.pt"))
    torch.jit.script(_tiny(3)).save(str(tmp_path / "three.ts"))
    with pytest.raises(ModelError, match="3 outputs but the dataset has 2 classes"):
        load_model(str(tmp_path / "three.ts"), classes=AB, input_size=16)
    with pytest.raises(ModelError, match="state_dict"):  # weights passed as the model
        load_model(str(tmp_path / "mlp.pt"), classes=AB, input_size=16)


def test_head_detection():
    assert ModelAdapter(fixtures_models.mlp_head_net(), AB, input_size=16).head is None
    ad = load_model("efficientnet-lite0", classes=AB, input_size=64)
    assert ad.head is not None and ad.head.name == "_fc" and ad.head.weight.shape == (2, 1280)


def test_efficientnet_pretrained_weights_load():
    torch.manual_seed(0)
    pre = build_model("efficientnet-lite0", 2, 64).eval()
    rnd = build_model("efficientnet-lite0", 2, 64, pretrained=False).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(pre.extract_features(x), rnd.extract_features(x))
    trainable = [n for n, p in pre.named_parameters() if p.requires_grad]
    assert trainable == ["_fc.weight", "_fc.bias"]


def test_model_spec_round_trip():
    spec = ModelSpec(spec="small-cnn", input_size=24)
    ad = load_model(**spec.model_dump(), classes=AB)
    assert ad.input_size == 24 and ModelSpec.model_validate(spec.model_dump(mode="json")) == spec


# -- training -------------------------------------------------------------------------
def _problem(n=96, size=12, seed=0):
    """Class 1 has a bright red channel: separable in one conv."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 3, size, size, generator=g) * 0.5
    x[y == 1, 0] += 0.5
    return TrainData(x, y)


def _small(seed=0):
    torch.manual_seed(seed)
    return SmallCNN(2, width=4)


CFG = TrainConfig(epochs=4, batch_size=16, lr=1e-2, patience=2)


def test_fit_learns_and_is_deterministic(tmp_path):
    tr, va = _problem(), _problem(48, seed=1)
    m1 = _small()
    r1 = fit(m1, tr, va, CFG, checkpoint_dir=tmp_path / "ck")
    assert r1.history[-1]["train_loss"] < r1.history[0]["train_loss"]
    assert r1.best_val_acc > 0.8
    assert r1.checkpoint == tmp_path / "ck" / "best.pt" and r1.checkpoint.is_file()
    torch.testing.assert_close(torch.load(r1.checkpoint, weights_only=True)["fc.weight"], m1.fc.weight)
    m2 = _small()
    r2 = fit(m2, tr, va, CFG)
    assert r1.history == r2.history
    torch.testing.assert_close(m1.state_dict(), m2.state_dict())


def test_uint8_nhwc_input_matches_float():
    tr = _problem()
    u8 = (tr.x * 255).round().to(torch.uint8)
    r_f = fit(_small(), TrainData(u8.float() / 255, tr.y), cfg=CFG.model_copy(update={"epochs": 1}))
    r_u = fit(_small(), TrainData(u8.permute(0, 2, 3, 1).contiguous(), tr.y),
              cfg=CFG.model_copy(update={"epochs": 1}))
    assert r_f.history[0]["train_loss"] == pytest.approx(r_u.history[0]["train_loss"], rel=1e-5)
    assert math.isnan(r_u.best_val_acc) and r_u.best_epoch == 1


def test_early_stopping_restores_best():
    tr = _problem()
    va = TrainData(tr.x, 1 - tr.y)  # validation labels flipped: accuracy falls as it learns
    m = _small()
    r = fit(m, tr, va, TrainConfig(epochs=30, batch_size=16, lr=1e-2, patience=2))
    assert len(r.history) < 30 and len(r.history) == r.best_epoch + 2
    acc = (predict_logits(m, va.x).argmax(1) == va.y).float().mean().item()
    assert acc == pytest.approx(r.best_val_acc)


def test_sample_weights_change_the_result():
    tr = _problem()
    w = (tr.y == 0).float()  # class 1 carries no weight: the model predicts only class 0
    m = _small()
    fit(m, TrainData(tr.x, tr.y, weight=w), cfg=CFG)
    assert (predict_logits(m, tr.x).argmax(1) == 0).all()


def test_augment_called_with_batch_indices():
    tr = _problem(40)
    seen = []

    def augment(xb, idx):
        torch.testing.assert_close(xb, tr.x[idx])
        seen.append(idx.clone())
        return xb

    fit(_small(), TrainData(tr.x, tr.y, augment=augment), cfg=TrainConfig(epochs=2, batch_size=16))
    assert [len(i) for i in seen] == [16, 16, 8] * 2
    assert sorted(torch.cat(seen[:3]).tolist()) == list(range(40))


def test_frozen_backbone_trains_head_on_cached_features():
    tr, va = _problem(64, size=16), _problem(32, size=16, seed=1)
    torch.manual_seed(0)
    m = SmallCNN(2, width=4)
    for name, p in m.named_parameters():
        p.requires_grad_(name.startswith("fc."))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    calls = []
    orig = m.features.forward
    m.features.forward = lambda x: calls.append(len(x)) or orig(x)
    r = fit(m, tr, va, TrainConfig(epochs=5, batch_size=16, lr=5e-2, hflip=True))
    # features computed once per set (train, flipped train, val), besides 2-image probes
    assert [c for c in calls if c != 2] == [64, 64, 32]
    assert not torch.equal(m.fc.weight, before["fc.weight"])
    for k, v in m.state_dict().items():  # backbone and its BatchNorm statistics untouched
        if not k.startswith("fc."):
            torch.testing.assert_close(v, before[k])
    assert r.best_val_acc >= 0.5
