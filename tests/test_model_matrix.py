"""Compatibility matrix: every common architecture in every format (docs/models.md's table).

For each cell: the adapter's logits equal the model's own (``atol=1e-4``), the explained
layer is the documented one, its maps equal captum's ``LayerGradCam`` on that layer of the
eager model (``relu_attributions=True``; ``rtol=1e-3``, ``atol=1e-5`` x the map's
maximum), and (slow) one epoch of training runs on the loaded model and its weights
reload into the same format. The shipped EfficientNet-Lite0 (64 px) has its own slow cells.
"""

from __future__ import annotations

import warnings

import fixtures_archs as fa  # tests/ is on sys.path under pytest
import pytest
import torch
from torch import nn

from slicelens.extract.methods import attribute_images
from slicelens.models import TrainConfig, TrainData, fit, load_model, save_model
from slicelens.models.outputs import as_logits, first_tensor, grid_to_tokens, token_grid

captum_attr = pytest.importorskip("captum.attr")
ABC = ["a", "b", "c"]
SIZE = 16

#: architecture -> (builder, {format: documented layer}, closed-form CAM expected)
ARCHS = {
    "resnet": (fa.resnet_style, dict.fromkeys(("entry", "script", "export"), "layer2"), True),
    "vgg": (fa.vgg_style, dict.fromkeys(("entry", "script", "export"), "features"), False),
    "mobilenetv3": (fa.mobilenetv3_style, dict.fromkeys(("entry", "script", "export"), "features"), False),
    # F.relu follows `features` in forward: no pooled-linear head on `features`, GradCAM
    "densenet": (fa.densenet_style, dict.fromkeys(("entry", "script", "export"), "features"), False),
    "normalized-inside": (fa.normalized_inside, dict.fromkeys(("entry", "script", "export"), "body"), True),
}
try:
    import transformers  # noqa: F401
    # GradCAM on the last block's input: ViT's CLS head ignores the last block's patch
    # tokens. transformers models only trace; the trace's `vit` call is cut open.
    ARCHS["vit"] = (fa.tiny_vit, dict.fromkeys(("entry", "script", "export"), "vit.layers.0"), False)
except ImportError:  # pragma: no cover - transformers is an optional dependency
    pass
CELLS = [(a, f) for a in ARCHS for f in ("entry", "script", "export")]


def _build(arch):
    torch.manual_seed(0)
    m = ARCHS[arch][0]().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, as in a trained model
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    return m


def _save(m, arch, fmt, tmp_path) -> dict:
    x = torch.rand(2, 3, SIZE, SIZE)
    if fmt == "entry":
        return {"spec": f"fixtures_archs:{ARCHS[arch][0].__name__}",
                "weights": str(save_model(m, tmp_path / "w.pt")), "input_size": SIZE}
    if fmt == "script":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ts = torch.jit.script(m)
            except Exception:  # noqa: BLE001 - not scriptable (transformers): trace it
                ts = torch.jit.trace(m, (x,), strict=False)
        ts.save(str(tmp_path / "m.ts"))
        return {"spec": str(tmp_path / "m.ts"), "input_size": SIZE}
    ep = torch.export.export(m, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, tmp_path / "m.pt2")
    return {"spec": str(tmp_path / "m.pt2")}  # the input size comes from the example input


def _captum_maps(m, layer, x, targets, tokens: bool):
    """captum's LayerGradCam on ``layer`` of the eager model; tokens rerouted through a grid."""
    forward = lambda inp: as_logits(m(inp))  # noqa: E731
    target = dict(m.named_modules())[layer]
    if not tokens:
        return captum_attr.LayerGradCam(forward, target).attribute(
            x, target=targets, relu_attributions=True)[:, 0]
    grid = nn.Identity()

    def reroute(_m, _i, out):
        t = first_tensor(out)
        A, prefix = token_grid(t)
        tokens = grid_to_tokens(t, grid(A), prefix)
        return tokens if isinstance(out, torch.Tensor) else type(out)([tokens, *out[1:]])

    handle = target.register_forward_hook(reroute)
    try:
        return captum_attr.LayerGradCam(forward, grid).attribute(
            x, target=targets, relu_attributions=True)[:, 0]
    finally:
        handle.remove()


@pytest.mark.parametrize("arch, fmt", CELLS)
def test_cell(arch, fmt, tmp_path):
    m = _build(arch)
    ad = load_model(**_save(m, arch, fmt, tmp_path), classes=ABC)
    layer, cam = ARCHS[arch][1][fmt], ARCHS[arch][2]
    assert ad.layer_name == layer and ad.input_size == SIZE
    assert (ad.head is not None) == cam
    x = torch.rand(6, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        own = as_logits(m(x))
    torch.testing.assert_close(ad.logits(x), own, atol=1e-4, rtol=1e-4)
    targets = torch.arange(len(x)) % 3  # every class, so some maps are non-zero
    ours = attribute_images(ad, x, targets)
    ref = _captum_maps(m, layer, x, targets, tokens=arch == "vit").detach()
    assert ours.shape == ref.shape and ref.abs().sum() > 0
    torch.testing.assert_close(ours, ref, rtol=1e-3, atol=1e-5 * float(ref.abs().max()))


@pytest.mark.slow
@pytest.mark.parametrize("arch, fmt", CELLS)
def test_cell_trains_one_epoch_and_reloads(arch, fmt, tmp_path):
    m = _build(arch)
    spec = _save(m, arch, fmt, tmp_path)
    module = load_model(**spec, classes=ABC).module
    g = torch.Generator().manual_seed(0)
    data = TrainData(torch.rand(12, 3, SIZE, SIZE, generator=g), torch.arange(12) % 3)
    before = [p.detach().clone() for p in module.parameters()]
    fit(module, data, cfg=TrainConfig(epochs=1, batch_size=6, lr=1e-2))
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))
    weights = save_model(module, tmp_path / "trained.pt")
    again = load_model(**{**spec, "weights": str(weights)}, classes=ABC)
    x = torch.rand(3, 3, SIZE, SIZE)
    torch.testing.assert_close(again.logits(x), as_logits(module.eval()(x)), atol=1e-5, rtol=1e-5)


#: the shipped EfficientNet-Lite0 (built-in name + state_dict, traced, exported) at 64 px:
#: format -> (documented layer, closed-form CAM). Its package's code does not script, and
#: a trace records its memory-efficient swish as a function, not a module call, so the
#: TorchScript cell explains `_bn1` (the map before that swish) with GradCAM.
LITE0 = {"builtin": ("_swish", True), "trace": ("_bn1", False), "export": ("_swish", True)}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(LITE0))
def test_efficientnet_lite0_cell(fmt, tmp_path):
    from slicelens.models import build_model
    from slicelens.models.normalize import Normalize, parse_normalize

    torch.manual_seed(0)
    m = build_model("efficientnet-lite0", 3, 64).eval()
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    if fmt == "builtin":
        spec = {"spec": "efficientnet-lite0", "weights": str(save_model(m, tmp_path / "w.pt")),
                "input_size": 64}
        inputs = Normalize(*parse_normalize("imagenet"))(x)  # the built-in's own normalisation
    elif fmt == "trace":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.trace(m, (x[:2],)).save(str(tmp_path / "m.ts"))
        spec, inputs = {"spec": str(tmp_path / "m.ts"), "input_size": 64}, x
    else:
        ep = torch.export.export(m, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},))
        torch.export.save(ep, tmp_path / "m.pt2")
        spec, inputs = {"spec": str(tmp_path / "m.pt2")}, x
    ad = load_model(**spec, classes=ABC)
    layer, cam = LITE0[fmt]
    assert ad.layer_name == layer and (ad.head is not None) == cam
    with torch.no_grad():
        own = m(inputs)
    torch.testing.assert_close(ad.logits(x), own, atol=1e-4, rtol=1e-4)
    targets = torch.arange(len(x)) % 3
    ref = _captum_maps(m, layer, inputs, targets, tokens=False).detach()
    torch.testing.assert_close(attribute_images(ad, x, targets), ref, rtol=1e-3,
                               atol=1e-5 * float(ref.abs().max()))


@pytest.mark.slow
@pytest.mark.parametrize("arch, fmt", CELLS)
def test_cell_is_repaired_through_the_repair_pipeline(arch, fmt, tmp_path):
    """Extract a run from image files, then a one-epoch repair through ``apply_plan``; a
    file that holds no constructor (TorchScript, torch.export) starts from the run's
    weights, and the new run's record says so."""
    import numpy as np
    from PIL import Image

    from slicelens.models import ModelSpec
    from slicelens.pipeline.extract import extract_run
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.repair.plan import TrainingPlan
    from slicelens.store import Workspace

    rng = np.random.default_rng(0)
    rows = ["path,label,split"]
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png,{ABC[i % 3]},{('train', 'train', 'val', 'test')[i % 4]}")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    ws = Workspace(tmp_path / "ws")
    spec = ModelSpec.model_validate(_save(_build(arch), arch, fmt, tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # near-chance accuracy of a random model
        run = extract_run(ws, tmp_path / "manifest.csv", spec, classes=ABC, name="cell")
        new = apply_plan(ws, run, TrainingPlan(strategy="cell", weights={run.samples["id"][0]: 2.0}),
                         TrainConfig(epochs=1, batch_size=6), init="scratch")
    assert new.is_complete and new.record["base_run"] == run.id
    assert new.record["init"] == ("scratch" if fmt == "entry" else "finetune")
    assert len(new.samples) == len(run.samples)
