"""One extraction run: a directory of arrays, a sample table and the record to replay it.

Layout of ``runs/<run_id>/``::

    record.json       status ("running" | "complete"), config (data, model, extract), shapes
    samples.parquet   id, label, split, pred, confidence, loss, correct (one row per sample)
    logits.npy        float32 (n, C)
    probs.npy         float32 (n, C)
    features.npy      float32 (n, d)      F = mean_hw(A)
    fw.npy            float32 (n, d)      F_W, AttributionScanner Eq. 1
    maps.npy          float16 (n, m, k)   attribution maps, each summing to 1
    chunks/           partial results while running (deleted when complete)
    slices/ attributes/ tda/ evaluations/ mosaic/ plan.json
                      what the parts computed from it (slicelens.store.artifacts)
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from slicelens.errors import WorkspaceError
from slicelens.store import artifacts
from slicelens.store.atomic import write_json
from slicelens.store.paths import resolve, workspace_of
from slicelens.store.record import RunRecord, parse_record, read_record

T = TypeVar("T")

ARRAYS = ("logits", "probs", "features", "fw", "maps")
#: The arrays a run made without a model (``slicelens.from_predictions``) has; the others
#: (F_W and the attribution maps) need the model's gradients.
MODEL_FREE_ARRAYS = ("logits", "probs", "features")


class Run:
    """Read access to a finished run (cheap to construct; files are read on demand).

    Parameters
    ----------
    path : str or Path
        The run directory.

    Examples
    --------
    >>> run = Workspace("slicelens-workspace").latest_run()   # doctest: +SKIP
    >>> run.samples.head(); run.array("fw").shape             # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def id(self) -> str:
        """The run id (its directory name)."""
        return self.path.name

    @property
    def record(self) -> RunRecord:
        """The run record (``record.json``), re-read and validated on each access.

        Its file paths are valid where the workspace is now, even if it was moved or
        copied since the run was written (:func:`slicelens.store.paths.resolve`). A field
        of the wrong type is a DataError naming the file and the field.
        """
        path = self.artifact_path("record")
        return parse_record(resolve(read_record(path), workspace_of(self.path)), path)

    def update_record(self, **fields: Any) -> RunRecord:
        """Set ``fields`` in ``record.json`` (validated, written atomically); returns the
        new record. Paths are kept as stored (not resolved against a moved workspace)."""
        path = self.artifact_path("record")
        record = parse_record({**read_record(path), **fields}, path)
        write_json(path, record.to_json())
        return record

    @property
    def is_complete(self) -> bool:
        """True once extraction finished and every artifact is in place."""
        try:
            status = self.record.status
        except WorkspaceError:
            return False
        return status == "complete" and all(
            (self.path / f).exists() for f in ("samples.parquet",
                                               *[a + ".npy" for a in self.stored_arrays]))

    @property
    def has_model(self) -> bool:
        """False for a run made from predictions alone (no attribution maps, no F_W)."""
        return not self.record.model_free

    @property
    def stored_arrays(self) -> tuple[str, ...]:
        """The arrays this run holds (all of ``ARRAYS`` unless it was made without a model)."""
        return ARRAYS if self.has_model else MODEL_FREE_ARRAYS

    @property
    def is_derived(self) -> bool:
        """True for a repair, retraining or matched-control run (made from another run)."""
        try:
            return self.record.is_derived
        except WorkspaceError:
            return False

    def _require_complete(self) -> None:
        if not self.is_complete:
            raise WorkspaceError(
                f"run {self.id} is incomplete (extraction was interrupted); run the same "
                "extraction again (same data, model and config) into it to resume")

    @property
    def classes(self) -> list[str]:
        """Class names in the model's output order."""
        return list(self.record.classes)

    @cached_property
    def samples(self) -> pd.DataFrame:
        """One row per sample: id, label, split, pred, confidence, loss, correct.

        ``loss`` is NaN and ``correct`` is NA for unlabeled samples (label -1).
        """
        self._require_complete()
        return pd.read_parquet(self.path / "samples.parquet")

    def array(self, name: str) -> np.ndarray:
        """A memory-mapped, read-only artifact: logits, probs, features, fw or maps."""
        if name not in ARRAYS:
            raise WorkspaceError(f"unknown array {name!r}; runs store {', '.join(ARRAYS)}")
        if name not in self.stored_arrays:
            raise WorkspaceError(f"run {self.id} was made from predictions without a model: "
                                 f"{name!r} (attribution) needs a model; extract a run with "
                                 "`slicelens extract --model ...` for attribution slices, "
                                 "heatmaps, the mosaic and CoRM")
        self._require_complete()
        return np.load(self.path / f"{name}.npy", mmap_mode="r")

    # -- artifacts: what the parts stored beside the run (slicelens.store.artifacts) -------
    def artifact_path(self, kind: str, name: str | None = None) -> Path:
        """Where artifact ``kind`` (named ``name``) of this run is (whether or not it exists),
        e.g. ``run.artifact_path("slices", "attribution")``."""
        return artifacts.artifact_path(self.path, kind, name)

    def artifact_names(self, kind: str) -> list[str]:
        """Names of the stored artifacts of ``kind``, e.g. the slicers with a slice set."""
        return artifacts.artifact_names(self.path, kind)

    def has_artifact(self, kind: str, name: str | None = None) -> bool:
        """True when artifact ``kind`` (named ``name``) is stored."""
        return self.artifact_path(kind, name).exists()

    def artifact(self, kind: artifacts.ArtifactKind[T], name: str | None = None) -> T:
        """Artifact ``name`` of ``kind``, typed by the part that declared the kind, e.g.
        ``run.artifact(SLICES, "attribution")`` with ``slicelens.slicing.runio.SLICES`` is a
        ``SliceSet``. The accessors below are the same reads, untyped (the store cannot name
        the parts' types)."""
        return kind.read(self, name)

    def slice_set(self, slicer: str) -> Any:
        """The :class:`~slicelens.slicing.base.SliceSet` stored for ``slicer``
        (WorkspaceError naming the stored ones when there is none)."""
        return artifacts.read(self, "slices", slicer)

    def slice_sets(self) -> list[Any]:
        """Every stored slice set, by slicer name."""
        return [self.slice_set(name) for name in self.artifact_names("slices")]

    def assignments(self, slicer: str) -> dict[str, np.ndarray]:
        """Slice index of every sample of ``slicer``'s slice set, per split (-1: none)."""
        return artifacts.read(self, "assignments", slicer)

    def attribute_spec(self) -> Any:
        """The stored :class:`~slicelens.attributes.base.AttributeSpec`, or None."""
        return artifacts.read(self, "attribute_spec")

    def attribute_matrix(self) -> Any:
        """The stored :class:`~slicelens.attributes.matrix.AttributeMatrix`, or None."""
        return artifacts.read(self, "attribute_matrix")

    def tda_results(self) -> dict[str, Any]:
        """Stored training-data attributions (:class:`~slicelens.tda.result.TDAResult`)
        by name (the error group's slug)."""
        return {name: artifacts.read(self, "tda", name) for name in self.artifact_names("tda")}

    def plan(self) -> Any:
        """The :class:`~slicelens.repair.plan.TrainingPlan` this run was trained with (a
        repair or control run), or None."""
        return artifacts.read(self, "plan")

    def evaluations(self) -> dict[str, Any]:
        """Stored comparisons with a baseline
        (:class:`~slicelens.evaluate.report.EvaluationReport`) by baseline run id."""
        return {name: artifacts.read(self, "evaluation", name)
                for name in self.artifact_names("evaluation")}

    def evaluation(self, baseline_id: str) -> Any:
        """The stored comparison with ``baseline_id``, or None."""
        return artifacts.read(self, "evaluation", baseline_id)

    def dataset(self):
        """Reload the :class:`ImageDataset` this run was extracted from."""
        from slicelens.data import load_dataset

        record = self.record
        data, classes = record.data, record.classes
        source = data.source
        if source == "<arrays>":
            raise WorkspaceError(f"run {self.id} was extracted from in-memory arrays, "
                                 "which cannot be reloaded; pass the dataset yourself")
        if not Path(source).exists():
            raise WorkspaceError(f"run {self.id}: its data {source} is missing (data root "
                                 f"{data.root or Path(source).parent}); put the data back there, "
                                 "or copy it into the workspace before moving it")
        return load_dataset(source, classes=classes, skip_bad=data.skip_bad)

    def adapter(self):
        """Reload the model adapter this run was extracted with.

        When the record holds ``weights_sha256`` (written at extraction), the weights file
        must still have that hash: another file at the same path (retrained, copied over,
        or a relative path that resolves elsewhere) is a :class:`ModelError`, not a model
        that silently gives other logits.
        """
        record = self.record
        if not self.has_model:
            from slicelens.errors import ModelError

            raise ModelError(f"run {self.id} was made from predictions without a model; "
                             "this step needs the model (extract a run with --model)")
        from slicelens.models import load_model

        check_weights(record, self.id)
        return load_model(**record.model.to_json())


def sha256_file(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def weights_hash(model_spec: dict) -> str | None:
    """SHA-256 of the weights file named in a model spec (None when it names none)."""
    weights = model_spec.get("weights")
    if not weights or not Path(weights).is_file():
        return None
    return sha256_file(weights)


def check_weights(record: RunRecord, run_id: str) -> None:
    """Raise :class:`ModelError` when the run's weights file no longer has the hash the
    run was extracted with (records without a stored hash are not checked)."""
    from slicelens.errors import ModelError

    want = record.weights_sha256
    weights = record.model.weights
    if not want or not weights:
        return
    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"run {run_id} was extracted with weights {weights}, which is not "
                         f"a file from {Path.cwd()}; restore it (sha256 {want[:16]}...)")
    have = sha256_file(path)
    if have != want:
        raise ModelError(f"weights file {path.resolve()} has sha256 {have[:16]}..., but run "
                         f"{run_id} was extracted with {want[:16]}...: it is another model "
                         "(retrained or replaced); restore the original file, or extract a "
                         "new run with these weights")
