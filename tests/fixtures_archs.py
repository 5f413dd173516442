"""Tiny hand-written models whose forward code mirrors the real architectures'.

Each mirrors what makes the real one hard to explain, at a width and input size that
run in milliseconds: ResNet flattens between pooling and ``fc``; VGG flattens into an MLP
head; MobileNetV3 has hardswish, squeeze-excitation and a ``Sequential`` classifier with
dropout; DenseNet applies ``F.relu`` and pooling in ``forward``; one model normalises its
own input; ViT is a transformers ``ViTForImageClassification`` built from a config.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNetStyle(nn.Module):
    """torchvision ResNet's forward: ``avgpool -> torch.flatten -> fc``."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class VGGStyle(nn.Module):
    """torchvision VGG: ``features -> avgpool -> flatten -> MLP classifier``."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(nn.Linear(64, 32), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(32, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class SqueezeExcitation(nn.Module):
    def __init__(self, c, squeeze):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)

    def forward(self, x):
        s = self.fc2(F.relu(self.fc1(self.avgpool(x))))
        return x * F.hardsigmoid(s)


class MobileNetV3Style(nn.Module):
    """torchvision MobileNetV3: hardswish, SE, ``classifier = Sequential(.., Dropout, Linear)``."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish()),
            nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False), nn.BatchNorm2d(8),
                          nn.Hardswish(), SqueezeExcitation(8, 4)),
            nn.Sequential(nn.Conv2d(8, 24, 1, bias=False), nn.BatchNorm2d(24), nn.Hardswish()))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(24, 16), nn.Hardswish(inplace=True),
                                        nn.Dropout(p=0.2, inplace=True), nn.Linear(16, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class DenseNetStyle(nn.Module):
    """torchvision DenseNet: ``F.relu`` and ``F.adaptive_avg_pool2d`` in ``forward``."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                      nn.ReLU(inplace=True), nn.Conv2d(8, 12, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(12))
        self.classifier = nn.Linear(12, num_classes)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(torch.flatten(out, 1))


class NormalizedInside(nn.Module):
    """A model that normalises its own input (mean 0.5, std 0.25) and returns a dict."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.25))
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                                  nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(8, num_classes))

    def forward(self, x):
        x = self.body((x - self.mean) / self.std)
        return {"logits": self.head(x.mean(dim=(2, 3)))}


def resnet_style(num_classes=3):
    return ResNetStyle(num_classes)


def vgg_style(num_classes=3):
    return VGGStyle(num_classes)


def mobilenetv3_style(num_classes=3):
    return MobileNetV3Style(num_classes)


def densenet_style(num_classes=3):
    return DenseNetStyle(num_classes)


def normalized_inside(num_classes=3):
    return NormalizedInside(num_classes)


def tiny_vit(num_classes=3):
    """transformers' ``ViTForImageClassification`` from a config: 16 px, 4 px patches."""
    from transformers import ViTConfig, ViTForImageClassification

    cfg = ViTConfig(image_size=16, patch_size=4, num_channels=3, hidden_size=16, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=32, num_labels=num_classes,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return ViTForImageClassification(cfg)
