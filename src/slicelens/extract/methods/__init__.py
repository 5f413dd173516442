"""Attribution methods over the adapter's explained layer (a family, see ``base``).

``cam`` / ``gradcam`` live in :mod:`~slicelens.extract.methods.gradcam`; a new method is
one module of this package (found by ``METHOD_FAMILY.discover``). The names below stay
importable from ``slicelens.extract.methods``.
"""

from slicelens.extract.methods.base import (
    METHOD_FAMILY,
    METHODS,
    AttributionMethod,
    attribute_images,
    get_method,
    method_names,
    normalize_sum1,
    register_method,
    upsample,
)
from slicelens.extract.methods.gradcam import CAM, GradCAM

__all__ = ["CAM", "METHODS", "METHOD_FAMILY", "AttributionMethod", "GradCAM", "attribute_images",
           "get_method", "method_names", "normalize_sum1", "register_method", "upsample"]
