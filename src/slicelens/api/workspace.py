"""The objects a notebook works with: a :class:`Workspace` whose runs are :class:`Run`
objects that find, list, mark, report and export their slices.

Example
-------
>>> import slicelens as sl
>>> ws = sl.Workspace("slicelens-workspace")                          # doctest: +SKIP
>>> run = ws.run()                  # the analysed base run, not a repair  # doctest: +SKIP
>>> run.find_slices().to_dataframe()                                  # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd

from slicelens.store import run as _run
from slicelens.store import workspace as _ws


class Run(_run.Run):
    """A complete run with the methods of the public API (see ``docs/python.md``).

    Everything it returns is computed from the run's stored files; DataFrames name
    classes, not integers.
    """

    @property
    def workspace(self) -> Workspace:
        """The workspace this run lives in."""
        from slicelens.store.paths import workspace_of

        return Workspace(workspace_of(self.path), create=False)

    def to_dataframe(self, split: str | None = None) -> pd.DataFrame:
        """Every sample (or one split's): id, path, split, label, pred, confidence, loss,
        correct, with class names."""
        from slicelens.api.frames import sample_frame

        rows = None
        if split is not None:
            rows = (self.samples["split"] == split).to_numpy().nonzero()[0]
        return sample_frame(self, rows)

    # -- slices ----------------------------------------------------------------------
    def find_slices(self, slicer: str = "error-aware", split: str = "val", **params):
        """Find, rank and store the slices of ``slicer`` (``slicelens slices``).

        Parameters
        ----------
        slicer : str
            A registered slicer: ``"error-aware"`` (the default,
            :data:`slicelens.slicing.base.DEFAULT_SLICER`), the paper's ``"attribution"``
            (both need attribution features), ``"error-clustering"`` (works on any run), ...
        split : str
        **params
            The slicer's parameters (``slicelens slices --help``), e.g. ``n_slices=12``.

        Returns
        -------
        Slices
        """
        from slicelens.api.slices import Slices
        from slicelens.pipeline.slices import find_slices

        return Slices(self, find_slices(self, slicer, params, split=split))

    def check_training_labels(self, **params):
        """Groups of training samples whose labels a held-out head, their neighbours and
        their look-alikes by shape all reject (the label check ``slicelens slices`` runs beside the slicer; the
        ``wrong-labels`` slicer on the training split, stored as that slice set).

        ``**params``: the wrong-labels slicer's parameters, e.g. ``n_slices=4``. The
        suspect groups are the slices typed ``wrong_labels`` (the last one is the
        consistent rest).

        Returns
        -------
        Slices
        """
        from slicelens.api.slices import Slices
        from slicelens.pipeline.slices import check_training_labels

        return Slices(self, check_training_labels(self, params))

    def slices(self, slicer: str | None = None):
        """The stored slices of ``slicer`` (no recomputation); ``slicelens slices --list``.

        ``None``: the run's preferred stored set (:func:`slicelens.slicing.runio.preferred_slicer`).
        """
        from slicelens.api.slices import Slices
        from slicelens.errors import WorkspaceError
        from slicelens.pipeline.slices import load_slices
        from slicelens.slicing.runio import preferred_slicer

        slicer = slicer or preferred_slicer(self)

        try:
            return Slices(self, load_slices(self, slicer))
        except (WorkspaceError, FileNotFoundError):
            have = self.stored_slicers()
            raise WorkspaceError(f"run {self.id} has no stored {slicer!r} slices; stored: "
                                 f"{', '.join(have) if have else 'none'} (find them with "
                                 f"run.find_slices({slicer!r}))") from None

    def stored_slicers(self) -> list[str]:
        """Names of the slice sets stored in this run."""
        return self.artifact_names("slices")

    # -- marks -----------------------------------------------------------------------
    def annotate(self, slice: str, label: str, description: str = "", *,
                 author: str = "anonymous", slicer: str | None = None):
        """Mark a slice ``core``, ``spurious`` or ``wrong_labels`` (stored with history).

        ``slice`` is an address: ``"attribution-03"`` or ``"attribution:attribution-03"``.
        Returns the stored :class:`~slicelens.store.db.Annotation`.
        """
        from slicelens.feedback import annotate_slice
        from slicelens.slicing.address import parse_slice_address

        slicer, sid = parse_slice_address(slice, slicer)
        return annotate_slice(self.workspace, self, slicer, sid, label, description, author)

    def marks(self, slicer: str | None = None, include_undone: bool = False) -> pd.DataFrame:
        """The marks on this run's slices, one row each (oldest first)."""
        from slicelens.api.marks import mark_frame

        return mark_frame(self, slicer, include_undone)

    def marks_in_force(self, slicer: str) -> dict[str, str]:
        """Current slice id -> label of the marks in force on ``slicer``'s slices (marks
        follow their images to new slice ids)."""
        from slicelens.api.marks import marks_in_force

        return marks_in_force(self, slicer)

    # -- other analyses ----------------------------------------------------------------
    def wrong_labels(self, score: str = "margin") -> pd.DataFrame:
        """Training samples ranked by how likely their label is wrong (``slicelens tda
        --wrong-labels``); works without a model."""
        from slicelens.api.frames import with_names
        from slicelens.pipeline.tda import wrong_label_ranking

        return with_names(wrong_label_ranking(self, score=score), self.classes)

    def assign_attributes(self, backend: str = "default", **kwargs):
        """Fill the run's attribute matrix (``slicelens attributes assign``).

        ``backend="metadata"`` takes the attributes from the data's own columns (a
        manifest's extra columns, or the extra columns given to ``from_predictions``):
        the way to attribute bug slices without a model, whose maps the image-statistics
        backend needs. Returns the :class:`~slicelens.attributes.matrix.AttributeMatrix`.
        """
        from slicelens.pipeline.attributes import assign_attributes

        if backend == "metadata" and "spec" not in kwargs:
            from slicelens.attributes.assign_metadata import metadata_attributes
            from slicelens.attributes.base import AttributeSpec
            from slicelens.errors import DataError

            attributes = metadata_attributes(self.dataset())
            if not attributes:
                raise DataError(f"run {self.id}: the data has no metadata column that can "
                                "define slices (2 to 12 values, or numbers)", field="metadata")
            kwargs["spec"] = AttributeSpec(attributes, source="metadata")
        return assign_attributes(self, backend, **kwargs)

    def bugs(self, split: str = "val", **params):
        """Attribute bug slices in words (``slicelens bugs``; needs the attribute matrix
        from ``slicelens attributes assign``)."""
        from slicelens.api.slices import Slices
        from slicelens.pipeline.attributes import find_attribute_bugs

        return Slices(self, find_attribute_bugs(self, params, split))

    def report(self, path="report.html", *, top: int = 6, per_slice: int = 8):
        """Write one self-contained HTML report (``slicelens report``); returns its path."""
        from slicelens.export.html import write_report

        return write_report(self, path, top=top, per_slice=per_slice)

    def export(self, folder, formats=("csv",), fiftyone: bool = False) -> list:
        """Write slices, members, marks, bugs and TDA rows as tables (``slicelens export``);
        returns the files written."""
        from slicelens.export.tables import export_run

        return export_run(self, folder, formats=formats, fiftyone=fiftyone)


class Workspace(_ws.Workspace):
    """A slicelens workspace whose runs are :class:`Run` objects.

    Examples
    --------
    >>> import tempfile, slicelens as sl
    >>> ws = sl.Workspace(tempfile.mkdtemp() + "/ws")
    >>> ws.runs()
    []
    """

    run_class = Run
