"""The marks of a run as a person reads them, for any run object (the public ``Run``'s
``marks`` / ``marks_in_force`` and the HTML report's sections call these; they sit below
``api.workspace`` and ``export`` so that neither imports the other to reach them).

Example
-------
>>> from slicelens.api.marks import marks_in_force
>>> marks_in_force(run, "attribution")          # doctest: +SKIP
{'attribution-03': 'spurious'}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

#: the columns of :func:`mark_frame`, in order
MARK_COLUMNS = ["id", "slicer", "slice", "label", "description", "author", "status", "created",
                "updated"]


def run_workspace(run: Run) -> Workspace:
    """The workspace ``run`` lives in (opened, never created)."""
    from slicelens.store.paths import workspace_of
    from slicelens.store.workspace import Workspace

    return Workspace(workspace_of(run.path), create=False)


def mark_frame(run: Run, slicer: str | None = None, include_undone: bool = False) -> pd.DataFrame:
    """The marks on ``run``'s slices, one row each (oldest first): :data:`MARK_COLUMNS`."""
    from slicelens.feedback import list_marks

    rows = [{"id": a.id, "slicer": a.scope, "slice": a.target_id, "label": a.label,
             "description": a.description, "author": a.author, "status": a.status,
             "created": a.created_at, "updated": a.updated_at}
            for a in list_marks(run_workspace(run), run, slicer, include_undone)]
    return pd.DataFrame(rows, columns=MARK_COLUMNS)


def marks_in_force(run: Run, slicer: str) -> dict[str, str]:
    """Current slice id -> label of the marks in force on ``slicer``'s slices of ``run``
    (marks follow their images to new slice ids)."""
    from slicelens.feedback import resolve_marks

    return {r.slice_id: r.annotation.label for r in resolve_marks(run_workspace(run), run, slicer)
            if r.slice_id is not None}
