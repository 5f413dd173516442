"""The module a retraining starts from: the run's architecture, from scratch or its weights.

Used by ``slicelens.pipeline.retrain`` (as ``_initial_module``) and by JTT's
identification model (:mod:`slicelens.repair.jtt`).
"""

from __future__ import annotations


def initial_module(spec, classes, init: str):
    """(module, the start actually used): a model file that cannot be rebuilt from scratch
    starts from the run's weights, with a warning, and the record says ``finetune``."""
    import warnings

    from slicelens.models import build_model, load_model
    from slicelens.models.builtin import BUILTINS

    if init == "finetune" or spec.spec not in BUILTINS:
        if init == "scratch" and ":" not in spec.spec:
            # a TorchScript / torch.export / pickled file holds no constructor to rebuild
            warnings.warn(f"model {spec.spec} cannot be rebuilt from scratch (the file holds "
                          "no constructor); retraining starts from the run's weights instead",
                          UserWarning, stacklevel=2)
            init = "finetune"
        adapter = load_model(**spec.model_dump(), classes=classes)
        module = adapter.module
        if init == "scratch":
            for m in module.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        return module, init
    # scratch built-in: same architecture; pretrained backbones keep their ImageNet weights
    return build_model(spec.spec, len(classes), spec.input_size, pretrained=True), init
