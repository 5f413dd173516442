"""Models: loading a user's model, the built-in models, and the training loop."""

from slicelens.models.adapter import LinearHead, ModelAdapter
from slicelens.models.builtin import build_model, builtin_info
from slicelens.models.loading import ModelSpec, load_model, save_model
from slicelens.models.train import TrainConfig, TrainData, TrainResult, fit, predict_logits

__all__ = [
    "LinearHead", "ModelAdapter", "ModelSpec", "TrainConfig", "TrainData", "TrainResult",
    "build_model", "builtin_info", "fit", "load_model", "predict_logits", "save_model",
]
