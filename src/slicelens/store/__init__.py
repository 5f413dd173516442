"""Persistence: the workspace, runs, atomic artifact writes and the annotation database."""

from slicelens.store.db import Annotation, AnnotationStore
from slicelens.store.run import Run
from slicelens.store.workspace import Workspace, as_workspace, require_workspace

__all__ = ["Annotation", "AnnotationStore", "Run", "Workspace", "as_workspace", "require_workspace"]
