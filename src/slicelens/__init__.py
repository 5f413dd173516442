"""slicelens: find where an image classifier fails and why, and repair it.

The loop is ``extract -> discover -> explain -> annotate -> propagate -> attribute ->
repair -> evaluate``; each stage lives in its own sub-package (see ``docs/``). The names
below are the public Python API (``docs/python.md``); they are imported on first use, so
``import slicelens`` stays fast (no torch).

Examples
--------
>>> import slicelens as sl
>>> sorted(sl.__all__)[:3]
['Run', 'SliceLensError', 'SliceView']
>>> ws = sl.Workspace("slicelens-workspace")                    # doctest: +SKIP
>>> slices = ws.run().find_slices()                             # doctest: +SKIP
>>> slices.to_dataframe()                                       # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from slicelens.errors import SliceLensError

__version__ = "0.1.0"

#: public name -> module it lives in (imported lazily by __getattr__)
_LAZY = {
    "Workspace": "slicelens.api.workspace",
    "Run": "slicelens.api.workspace",
    "Slices": "slicelens.api.slices",
    "SliceView": "slicelens.api.slices",
    "from_predictions": "slicelens.api.predictions",
    "from_arrays": "slicelens.data.arrays",
    "load_dataset": "slicelens.data",
    "extract_run": "slicelens.pipeline.extract",
    "show": "slicelens.show",
    "write_report": "slicelens.export.html",
    "export_run": "slicelens.export.tables",
}

__all__ = ["SliceLensError", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'slicelens' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
