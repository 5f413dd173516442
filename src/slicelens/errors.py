"""Error types. Every error names the file, row or field that caused it."""

from __future__ import annotations


class SliceLensError(Exception):
    """Base class of every error slicelens raises on purpose.

    The CLI prints these as one clean line (no traceback) and exits with status 2.
    """


class DataError(SliceLensError):
    """Bad input data: a missing or corrupt file, an unknown split, a missing column.

    Parameters
    ----------
    message : str
        What is wrong, in words.
    file : str, optional
        The file at fault (a manifest, an image).
    row : int, optional
        1-based row of the manifest (header is row 1, so the first record is row 2).
    field : str, optional
        The column or field at fault.
    """

    def __init__(self, message: str, *, file=None, row=None, field=None):
        self.message, self.file, self.row, self.field = message, file, row, field
        self.problems: list = []  # every problem, when one error lists several (data.manifest)
        where = []
        if file is not None:
            where.append(f"file {file}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class ModelError(SliceLensError):
    """A model that cannot be loaded, or does not fit the dataset."""


class WorkspaceError(SliceLensError):
    """A workspace or run that is missing, incomplete or inconsistent."""


class ConflictError(WorkspaceError):
    """A change that conflicts with the current state: undoing an undone mark, redoing an
    active one, reusing an idempotency key for another request (HTTP 409)."""


class NotFittedError(SliceLensError, AttributeError):
    """A method used before ``fit`` (scikit-learn's convention)."""
