"""Human feedback: marks on slices (core / spurious / wrong labels) and spuriousness
propagation from a few marks to every slice (AttributionScanner Sec. III-E(2))."""

from slicelens.feedback.annotations import (
    SLICE_LABELS,
    annotate_slice,
    edit_mark,
    list_marks,
    mark_history,
    redo_mark,
    resolve_marks,
    slice_marks,
    undo_mark,
)
from slicelens.feedback.propagation import PropagationParams, current_spuriousness, spuriousness

__all__ = ["SLICE_LABELS", "PropagationParams", "annotate_slice", "current_spuriousness",
           "edit_mark", "list_marks", "mark_history", "redo_mark", "resolve_marks",
           "slice_marks", "spuriousness", "undo_mark"]
