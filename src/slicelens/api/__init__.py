"""The public Python API (re-exported by ``import slicelens``): workspaces, runs, slices
as DataFrames, runs from predictions, the HTML report and exports. See docs/python.md."""

from slicelens.api.predictions import from_predictions
from slicelens.api.slices import Slices, SliceView
from slicelens.api.workspace import Run, Workspace

__all__ = ["Run", "SliceView", "Slices", "Workspace", "from_predictions"]
