"""Extraction: one forward pass per batch gives predictions, features and attribution maps."""

from slicelens.extract.extractor import ExtractConfig, extract
from slicelens.extract.methods import METHODS, attribute_images

__all__ = ["METHODS", "ExtractConfig", "attribute_images", "extract"]
