"""Load a user's model from a spec string into a :class:`ModelAdapter`.

Spec forms (see ``docs/models.md``):

* a built-in name (``small-cnn``, ``efficientnet-lite0``), optionally with ``weights``;
* a TorchScript file (``torch.jit.save``);
* a ``torch.export`` file (``torch.export.save``, usually ``.pt2``), unflattened so
  forward hooks reach its layers;
* an entry point ``package.module:function`` building the architecture, plus ``weights``
  (a ``state_dict`` file);
* a pickled whole model (``torch.save(model)``), only with ``allow_pickle=True``:
  unpickling runs arbitrary code from the file.

Example
-------
>>> ad = load_model("small-cnn", classes=["cat", "dog"])
>>> ad.input_size, ad.layer_name, ad.head is not None
(32, 'features', True)
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from pydantic import BaseModel, Field, field_validator
from torch import nn

from slicelens.errors import ModelError
from slicelens.models.adapter import ModelAdapter
from slicelens.models.builtin import BUILTINS, build_model, builtin_info
from slicelens.models.normalize import canonical, preprocessor_hints
from slicelens.utils import resolve_device

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class ModelSpec(BaseModel):
    """How to load a model; stored in run records so a run can reload it."""

    spec: str = Field(..., description="built-in name, TorchScript / torch.export file, "
                      "or entry point package.module:function")
    weights: str | None = Field(None, description="state_dict file for a built-in or an entry point")
    layer: str | None = Field(None, description="layer to explain (default: the last conv block)")
    normalize: str | None = Field(
        None, description="input normalisation: imagenet, none, or MEAN,STD of [0, 1] pixels "
        "(2 numbers, or 3 means then 3 stds) (default: the built-in's, a "
        "preprocessor_config.json next to the model, else none)")
    input_size: int | None = Field(None, ge=8, le=4096,
                                   description="square input side in pixels (default: the built-in's, "
                                   "a torch.export's example input, a preprocessor_config.json, or "
                                   "the data's when all images share one size)")
    allow_pickle: bool = Field(False, description="allow loading a pickled whole model "
                               "(runs code from the file: only for files you trust)")

    @field_validator("normalize")
    @classmethod
    def _known_normalize(cls, v):
        try:
            return None if v is None else canonical(v)
        except ModelError as e:
            raise ValueError(str(e)) from None


def load_model(spec: str, *, classes, input_size: int | None = None, weights: str | None = None,
               layer: str | None = None, normalize=None, allow_pickle: bool = False,
               device=None, data_size: int | None = None) -> ModelAdapter:
    """Load ``spec`` and wrap it in a :class:`ModelAdapter` checked against ``classes``.

    Parameters
    ----------
    spec : str
        Built-in name, model file, or entry point ``package.module:function``.
    classes : sequence of str
        The model's classes in output order.
    input_size : int, optional
        Default: the built-in's, a ``torch.export`` file's example input, a
        ``preprocessor_config.json``, else ``data_size``.
    weights : path, optional
        ``state_dict`` file (loaded with ``weights_only=True`` unless ``allow_pickle``).
    layer, normalize, device
        Passed to :class:`ModelAdapter`; ``normalize`` defaults to the built-in's, else a
        ``preprocessor_config.json`` beside the model or weights file, else ``"none"``.
    allow_pickle : bool
        Allow unpickling a whole model (or a weights file needing arbitrary objects).
    data_size : int, optional
        The data's image side when all images share one square size (the last resort).

    Raises
    ------
    ModelError
        Missing file, bad entry point, weights not matching the architecture, a model
        whose outputs differ from ``classes``.
    """
    classes = list(classes)
    if spec in BUILTINS:
        info = builtin_info(spec)
        input_size = input_size or info["input_size"]
        normalize = normalize or info["normalize"]
        module = build_model(spec, len(classes), input_size, pretrained=weights is None)
    elif _ENTRY_POINT.match(spec) and not os.path.exists(spec):
        module = _from_entry_point(spec, len(classes))
    else:
        module, hints = _from_file(spec, allow_pickle)
        input_size = input_size or hints.get("input_size")
    if spec not in BUILTINS:
        hints = preprocessor_hints(spec if os.path.exists(spec) else None, weights)
        input_size = input_size or hints.get("input_size")
        normalize = normalize or hints.get("normalize")
    if weights is not None:
        _load_weights(module, weights, allow_pickle)
    input_size = input_size or data_size
    if input_size is None:
        raise ModelError(f"model {spec}: the input size is not known (not given, not in the "
                         "model file, and the images do not all share one square size); "
                         "pass --input-size")
    try:
        adapter = ModelAdapter(module, classes, input_size=input_size, layer=layer,
                               normalize=normalize or "none", device=resolve_device(device))
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure on the probe batch is the model's
        raise ModelError(f"model {spec} fails on a probe batch of shape (2, 3, {input_size}, "
                         f"{input_size}): {str(e).splitlines()[0] if str(e) else type(e).__name__}. "
                         "Check --input-size; export torch.export models with a dynamic batch "
                         "dimension") from None
    adapter.check_classes()
    return adapter


def save_model(module: nn.Module, path) -> Path:
    """Write ``module.state_dict()`` to ``path`` atomically; return the path."""
    from slicelens.atomic import atomic_open

    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(module.state_dict(), f)
    return path


def _from_entry_point(spec: str, num_classes: int) -> nn.Module:
    mod_name, fn_name = spec.split(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ModelError(f"entry point {spec}: cannot import module {mod_name!r} ({e})") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise ModelError(f"entry point {spec}: module {mod_name!r} has no callable {fn_name!r}")
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    try:
        module = fn(num_classes=num_classes) if "num_classes" in params else fn()
    except Exception as e:  # noqa: BLE001 - user code; report which entry point failed
        raise ModelError(f"entry point {spec} raised {type(e).__name__}: {e}") from None
    if not isinstance(module, nn.Module):
        raise ModelError(f"entry point {spec} returned {type(module).__name__}, not a torch nn.Module")
    return module


def _from_file(spec: str, allow_pickle: bool) -> tuple[nn.Module, dict]:
    """``(module, hints)``; ``hints`` may hold ``input_size`` (from export example inputs)."""
    path = Path(spec)
    if not path.is_file():
        raise ModelError(f"model file {spec} not found (and {spec!r} is neither a built-in "
                         f"model ({', '.join(BUILTINS)}) nor an entry point package.module:function)")
    loaders = [_load_jit, _load_export]
    if path.suffix == ".pt2":
        loaders.reverse()
    for load in loaders:
        try:
            return load(path)
        except ModelError:
            raise
        except Exception:  # noqa: BLE001 - not this format; try the next one
            continue
    return _load_pickled(path, allow_pickle), {}


def _load_jit(path: Path) -> tuple[nn.Module, dict]:
    with warnings.catch_warnings():  # TorchScript is deprecated, yet users still ship it
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu"), {}


def _load_export(path: Path) -> tuple[nn.Module, dict]:
    ep = torch.export.load(str(path))
    shape = export_input_shape(ep)
    if shape is not None and isinstance(shape[0], int):
        raise ModelError(
            f"model file {path} was exported with a fixed batch of {shape[0]}, so it cannot run "
            "slicelens' batches; export it again with a dynamic batch: torch.export.export(model, "
            "(x,), dynamic_shapes=({0: torch.export.Dim('batch')},))")
    hints = {}
    if shape is not None and len(shape) == 4 and isinstance(shape[3], int) and shape[2] == shape[3]:
        hints["input_size"] = shape[3]
    return torch.export.unflatten(ep), hints


def export_input_shape(ep) -> tuple | None:
    """Shape of the first user input of an ``ExportedProgram`` (ints, or SymInts if dynamic)."""
    kind = torch.export.graph_signature.InputKind.USER_INPUT
    names = [s.arg.name for s in ep.graph_signature.input_specs if s.kind == kind]
    for node in ep.graph.nodes:
        if node.op == "placeholder" and names and node.name == names[0]:
            val = node.meta.get("val")
            return tuple(val.shape) if isinstance(val, torch.Tensor) else None
    return None


def _load_pickled(path: Path, allow_pickle: bool) -> nn.Module:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError:
        raise ModelError(
            f"model file {path} is a pickled Python object, not TorchScript or torch.export. "
            "Loading it runs code stored in the file; if you trust it, pass --allow-pickle "
            "(allow_pickle=True). Safer: export it (torch.jit.script / torch.export) or pass "
            "an entry point with a state_dict") from None
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"model file {path} cannot be read as TorchScript, torch.export or a "
                         f"torch.save file: {type(e).__name__}: {e}") from None
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, dict):
        raise ModelError(f"model file {path} holds weights (a state_dict), not a model; pass an "
                         "entry point package.module:function as the model and this file as --weights")
    raise ModelError(f"model file {path} holds a {type(obj).__name__}, not a torch model")


def _load_weights(module: nn.Module, weights: str, allow_pickle: bool) -> None:
    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"weights file {weights} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError:
        raise ModelError(f"weights file {weights} needs unpickling arbitrary objects; save "
                         "model.state_dict() instead, or pass --allow-pickle if you trust it") from None
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"weights file {weights} cannot be read: {type(e).__name__}: {e}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, dict):
        raise ModelError(f"weights file {weights} holds a {type(state).__name__}, not a state_dict")
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines()[1:3]]
        raise ModelError(f"weights file {weights} does not match the model: {' '.join(lines)}") from None
