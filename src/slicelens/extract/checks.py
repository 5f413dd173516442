"""Checks on what a model returns during extraction."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np

from slicelens.errors import ModelError
from slicelens.store.artifacts import artifact_path


def check_finite(part: dict, ids: np.ndarray, model_spec: dict, run_dir: Path,
                  fresh: bool) -> None:
    """Refuse NaN / inf model outputs: argmax of NaN logits is class 0 for every image,
    which would make a run whose predictions and accuracy look plausible and are not.

    Parameters
    ----------
    part : dict of ndarray
        One batch from ``extract_batch``: ``logits`` (b, C) and ``fw`` (b, d) are checked.
    ids : ndarray of str, shape (b,)
        The batch's sample ids (the first bad one is named).
    model_spec : dict
        ``spec`` and ``weights`` name the model in the error.
    run_dir : Path
    fresh : bool
        True when this extraction started the run and stored nothing yet: the run's
        record is then removed, and the folder when empty (no run is written).

    Raises
    ------
    ModelError
    """
    bad = ~(np.isfinite(part["logits"]).all(axis=1) & np.isfinite(part["fw"]).all(axis=1))
    if not bad.any():
        return
    if fresh:
        artifact_path(run_dir, "record").unlink(missing_ok=True)
        shutil.rmtree(artifact_path(run_dir, "chunks"), ignore_errors=True)
        artifact_path(run_dir, "data").unlink(missing_ok=True)  # in-memory images saved for the run
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # only when empty: never delete what the caller put there
    name = model_spec.get("spec", "?")
    weights = model_spec.get("weights")
    raise ModelError(
        f"model {name!r}{f' (weights {weights})' if weights else ''} returned non-finite "
        f"outputs (NaN or inf logits or features) for {int(bad.sum())} of {len(bad)} images "
        f"of a batch, first {str(ids[bad][0])!r}; "
        + ("no run was written" if fresh else f"the run in {run_dir} stays incomplete"))
