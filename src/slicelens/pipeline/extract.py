"""Run the one-pass extraction on a data source and a model, into a workspace run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slicelens.store.workspace import Workspace


def extract_run(workspace: Workspace, source, model, cfg=None, *, classes=None, skip_bad=False,
                name: str = "extract", resume: str | None = None):
    """Extract everything the later stages need into a new (or resumed) run.

    Parameters
    ----------
    workspace : Workspace
    source : path
        A manifest (CSV / Parquet) or an image folder.
    model : ModelSpec or dict
        How to load the model (spec, weights, layer, normalize, input_size, allow_pickle).
    cfg : ExtractConfig, optional
    classes : list of str or path, optional
        The model's classes in output order (default: sorted label names).
    skip_bad : bool
        Skip unreadable images (listed in ``bad_inputs.csv`` in the run) instead of
        stopping before any work.
    resume : str, optional
        Id of an interrupted run to resume.

    Returns
    -------
    Run
    """
    from slicelens.data import load_dataset
    from slicelens.errors import ModelError
    from slicelens.extract import ExtractConfig, extract
    from slicelens.models import ModelSpec, load_model
    from slicelens.models.builtin import BUILTINS
    from slicelens.store.artifacts import artifact_path
    from slicelens.store.atomic import write_bytes
    from slicelens.store.workspace import require_workspace

    ws = require_workspace(workspace, "extract_run")
    cfg = cfg or ExtractConfig()
    spec = model if isinstance(model, ModelSpec) else ModelSpec.model_validate(model)
    if spec.spec in BUILTINS and spec.weights is None:
        # a built-in's classification head is new and untrained without weights: its
        # predictions, and every slice found on them, would be noise
        raise ModelError(f"built-in model {spec.spec!r} needs --weights (a state_dict, e.g. "
                         "from `slicelens train`); its classification head is untrained")
    classes_list = _read_classes(classes)
    dataset = load_dataset(source, classes=classes_list, skip_bad=skip_bad)
    data_size = dataset.common_size() if spec.input_size is None and spec.spec not in BUILTINS else None
    adapter = load_model(**spec.model_dump(), classes=dataset.classes, data_size=data_size)
    if resume:
        run_dir = ws.run_path(resume)
    else:
        _, run_dir = ws.new_run_dir(name)
    try:
        report = getattr(dataset, "bad_inputs", None)
        if report is not None and len(report.rows):
            write_bytes(artifact_path(run_dir, "bad_inputs"), report.to_csv().encode())
        data_spec = {"source": str(Path(source).resolve()), "skip_bad": skip_bad,
                     "classes": dataset.classes}
        if dataset.notes:  # e.g. the validation split made for a folder without split folders
            data_spec["notes"] = list(dataset.notes)
        return extract(dataset, adapter, run_dir, cfg, data_spec=data_spec,
                       model_spec=spec.model_dump(mode="json"))
    except BaseException:
        if not resume:
            _remove_unstarted(Path(run_dir))
        raise


def _remove_unstarted(run_dir: Path) -> None:
    """Remove a run folder this call made when extraction never started (no record):
    e.g. ``--splits pool`` with no pool rows must not leave an empty run behind."""
    import shutil

    from slicelens.store.artifacts import artifact_path

    if run_dir.is_dir() and not artifact_path(run_dir, "record").exists() \
            and not artifact_path(run_dir, "chunks").exists():
        shutil.rmtree(run_dir, ignore_errors=True)


def _read_classes(classes):
    if classes is None or isinstance(classes, list | tuple):
        return classes
    path = Path(classes)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
