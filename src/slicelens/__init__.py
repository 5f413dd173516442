"""slicelens: find where an image classifier fails and why, and repair it.

The loop is ``extract -> discover -> explain -> annotate -> propagate -> attribute ->
repair -> evaluate``; each stage lives in its own sub-package (see ``docs/``).
"""

from slicelens.errors import SliceLensError

__version__ = "0.1.0"
__all__ = ["SliceLensError", "__version__"]
