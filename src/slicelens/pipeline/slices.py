"""Find, store, reload and draw slices of a run (what ``slicelens slices`` / ``mosaic`` call).

Files written under the run directory::

    slices/<slicer>.json          the SliceSet (slices, metrics incl. per split, params)
    slices/<slicer>.npz           fit-split sample ids, slice index, 2-D layout
    slices/<slicer>.assign.npz    slice index of every sample of the run (all splits)
    mosaic/<slicer>/<slice_id>.png, mosaic/<slicer>/mosaic.png
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from slicelens.errors import WorkspaceError
from slicelens.pipeline.describe import describe_slices, type_slices
from slicelens.slicing.base import DEFAULT_SLICER, SliceSet, get_slicer
from slicelens.slicing.metrics import slice_metrics
from slicelens.slicing.runio import (  # noqa: F401 - assign_all, load_slices re-exported
    assign_all,
    load_slices,
    save_assignments,
)

if TYPE_CHECKING:
    from slicelens.explain.mosaic import MosaicResult
    from slicelens.store.run import Run

#: Metrics kept per split in ``slice.metrics["by_split"]`` (the confusion stays fit-split only).
SPLIT_KEYS = ("size", "n_labeled", "accuracy", "acc_low", "acc_high", "errors", "confidence",
              "loss", "confusion_text")


def find_slices(run: Run, slicer: str = DEFAULT_SLICER, params: dict | None = None,
                split: str = "val") -> SliceSet:
    """Fit ``slicer`` on ``split`` of ``run``, assign every other split, rank and save.

    Parameters
    ----------
    run : Run
    slicer : str
        A name from ``SLICERS``.
    params : dict, optional
        The slicer's parameters (validated by its ``Params``).
    split : str, default "val"
        The split the slices are learned on.

    Returns
    -------
    SliceSet
        Ranked (slice 0 = most problematic); each slice's ``metrics["by_split"][s]``
        holds its metrics on split ``s`` (members assigned by ``slicer.assign``). Every
        slice has a bug type (or None) with evidence, and words when the run has an
        attribute matrix (:mod:`slicelens.pipeline.describe`).
    """
    from slicelens.utils import progress

    samples = run.samples
    others = [s for s in samples["split"].unique() if s != split]
    with progress(total=2 + len(others), desc=f"slices ({slicer})", unit="step") as bar:
        bar.set_postfix_str(f"fit on {split}")
        model = get_slicer(slicer, **(params or {})).fit(run, split)
        bar.update(1)
        slice_set = SliceSet.from_slicer(model, run.id)
        assigned = np.full(len(samples), -1, np.int64)
        fit_rows = np.flatnonzero(samples["split"].to_numpy() == split)
        assigned[fit_rows] = slice_set.labels
        for other in others:
            bar.set_postfix_str(f"assign {other}")
            assigned[np.flatnonzero(samples["split"].to_numpy() == other)] = model.assign(run, other)
            bar.update(1)
        bar.set_postfix_str("metrics, bug types, words")
        _add_split_metrics(slice_set, samples, assigned, run.classes)
        type_slices(run, slice_set, assigned)
        describe_slices(run, slice_set)
        slice_set.save(run.path)
        save_assignments(run, slice_set, samples, assigned)
        bar.update(1)
    return slice_set


#: the slicer of the training-label check, and the split it reads
LABEL_CHECK_SLICER, LABEL_CHECK_SPLIT = "wrong-labels", "train"
#: fewest labelled training samples for the label check (its 5-fold held-out head and
#: 10 neighbours need some per class)
LABEL_CHECK_MIN = 50


def label_check_skip(run: Run, split: str = LABEL_CHECK_SPLIT) -> str | None:
    """Why :func:`check_training_labels` cannot run on ``run`` (None when it can)."""
    samples = run.samples
    n = int(((samples["split"].to_numpy() == split) & (samples["label"].to_numpy() >= 0)).sum())
    if n < LABEL_CHECK_MIN:
        return (f"the run has {n} labelled {split!r} samples (the label check needs "
                f"{LABEL_CHECK_MIN})")
    missing = [a for a in ("features", "fw") if a not in run.stored_arrays]
    if missing:
        return (f"the run has no {' or '.join(missing)} array (a run extracted with its model "
                "has both; one made from predictions has not)")
    return None


def stored_label_check(run: Run, params: dict | None = None,
                       split: str = LABEL_CHECK_SPLIT) -> SliceSet | None:
    """The stored training-label check when it still holds: made on ``split`` (with
    ``params``, when given: without, whatever parameters the stored set was made with,
    so that a set a person fitted with their own parameters is not overwritten by the
    defaults) and after the run's samples and arrays were last written (a run's
    predictions and features do not change after extraction; words are kept current by
    :func:`redescribe_stored`). None otherwise."""
    from slicelens.slicing.slicer_wrong_labels import WrongLabelParams

    path = run.artifact_path("slices", LABEL_CHECK_SLICER)
    if not path.exists():
        return None
    inputs = [run.path / "samples.parquet", *(run.path / f"{a}.npy" for a in ("features", "fw"))]
    if any(f.exists() and f.stat().st_mtime_ns > path.stat().st_mtime_ns for f in inputs):
        return None
    ss = _load_stored(run, split)
    if ss is None or set(ss.params) != set(WrongLabelParams.model_fields):
        return None  # another split, or made by a version with other parameters
    if params is None:
        return ss
    return ss if ss.params == WrongLabelParams.model_validate(params).model_dump(mode="json") else None


def check_training_labels(run: Run, params: dict | None = None,
                          split: str = LABEL_CHECK_SPLIT, reuse: bool = True) -> SliceSet:
    """The wrong-label slices of the TRAINING split, stored like any slice set.

    A planted or real labelling error shows as failures at test time only when the model
    learned it; when the model resisted the wrong labels it makes no error there, and the
    bug is still in the data (it costs capacity and confidence, and the next model may
    learn it). So ``slicelens slices`` runs this check beside the slicer it was asked for:
    the :mod:`~slicelens.slicing.slicer_wrong_labels` slicer fitted on ``split``, i.e. the
    training samples whose label a held-out head, their neighbours and their look-alikes
    by shape all reject, grouped, typed ``wrong_labels``, described in words like any
    slice (the enrichment reads the rest of their given label's class). Stored as ``slices/wrong-labels``.

    ``reuse``: return the stored check when it still holds (:func:`stored_label_check`)
    instead of fitting it again. Without ``params`` a stored check is fitted again with
    the parameters it was made with (a person's choice is kept).

    Raises :class:`~slicelens.errors.WorkspaceError` with the reason of
    :func:`label_check_skip` when the run cannot be checked.
    """
    why = label_check_skip(run, split)
    if why:
        raise WorkspaceError(f"cannot check the training labels of run {run.id}: {why}")
    stored = stored_label_check(run, params, split) if reuse else None
    if stored is not None:
        return stored
    if params is None:  # fitted again with the parameters a person chose for the stored one
        params = _stored_params(run, split)
    return find_slices(run, LABEL_CHECK_SLICER, params, split=split)


def _stored_params(run: Run, split: str) -> dict | None:
    ss = _load_stored(run, split)
    return None if ss is None else dict(ss.params)


def _load_stored(run: Run, split: str) -> SliceSet | None:
    """The stored check if it reads and was made on ``split``, else None."""
    try:
        ss = load_slices(run, LABEL_CHECK_SLICER)
    except (WorkspaceError, OSError, ValueError):
        return None
    return ss if ss.split == split else None


def label_check_applies(slicer: str, split: str) -> bool:
    """Whether ``slicelens slices`` runs the label check beside ``slicer`` on ``split`` by
    default (not for the check itself, nor for slices learned on the training split)."""
    return slicer != LABEL_CHECK_SLICER and split != LABEL_CHECK_SPLIT


def run_label_check(run: Run) -> dict:
    """:func:`check_training_labels` as a job result: ``{"groups", "suspects",
    "slicer"}``, or ``{"skipped": why}`` when the run cannot be checked."""
    why = label_check_skip(run)
    if why:
        return {"skipped": why}
    sus = suspect_slices(check_training_labels(run))
    return {"slicer": LABEL_CHECK_SLICER, "groups": len(sus),
            "suspects": int(sum(s.size for s in sus))}


def suspect_slices(slice_set: SliceSet) -> list:
    """The slices of a label check that hold suspect labels (its last slice is the
    consistent rest)."""
    return [s for s in slice_set.slices if s.bug_type == "wrong_labels"]


def redescribe_stored(run: Run) -> list[str]:
    """Describe the stored slice sets of a run again (after ``attributes assign``).

    Returns the slicers whose sets were rewritten.
    """
    done = []
    for name in run.artifact_names("slices"):
        if name == "attributes":
            continue
        ss = SliceSet.load(run.path, name)
        if describe_slices(run, ss) or any(s.evidence.get("enrichment_note") for s in ss.slices):
            ss.save(run.path)
            done.append(name)
    return done


def make_mosaic(run: Run, slicer: str, params=None, color_by: str = "accuracy") -> MosaicResult:
    """Draw the Attribution Mosaic of a stored slice set.

    Parameters
    ----------
    run : Run
    slicer : str
    params : MosaicParams or dict, optional
    color_by : {"accuracy", "confidence", "spuriousness"}
        Metric colouring each tile's boundary; spuriousness needs annotations and
        ``slicelens.feedback.propagation``.

    Returns
    -------
    MosaicResult with ``tiles`` (list of Path, one per slice), ``mosaic`` (Path),
    ``history`` (loss per step, shape (steps,)), ``seconds``.
    """
    from slicelens.explain import MosaicParams, MosaicResult, draw_mosaic, invert_slices
    from slicelens.params import validate

    p = params if isinstance(params, MosaicParams) else validate(MosaicParams, params or {})
    slice_set = load_slices(run, slicer)
    if slice_set.layout is None:
        raise WorkspaceError(f"slicer {slicer!r} stored no 2-D layout; the mosaic needs one")
    values = _colour_values(run, slice_set, color_by)
    result = invert_slices(run, slice_set, p)
    out = run.artifact_path("mosaic", slicer)
    tiles = result.save_tiles(out, [s.id for s in slice_set.slices])
    mosaic = draw_mosaic(result.images, [s.polygon for s in slice_set.slices], values,
                         out / "mosaic.png", label=color_by, canvas=p.canvas,
                         names=[s.id.rsplit("-", 1)[-1] for s in slice_set.slices])
    return MosaicResult(tiles=tiles, mosaic=mosaic, history=result.history,
                        seconds=result.seconds)


def space_consistency(run: Run, split: str = "val", k: int = 10, n_points: int | None = 300,
                      seed: int = 0):
    """The paper's Fig. 4 comparison on one split of a run.

    UMAP 2-D layouts (the attribution slicer's default parameters) of the pooled features
    F and of the attribution-weighted features F_W, then
    :func:`slicelens.slicing.consistency.compare_spaces` with the original F and maps.

    Returns
    -------
    DataFrame, one row per space (``feature space (F)``, ``attribution space (F_W)``).
    """
    from slicelens.slicing.consistency import compare_spaces
    from slicelens.slicing.layout import UmapLayout
    from slicelens.slicing.metrics import split_rows
    from slicelens.slicing.slicer_attribution import AttributionParams

    p = AttributionParams(seed=seed)
    rows = split_rows(run.samples, split)
    F = np.asarray(run.array("features")[rows], np.float32)
    fw = np.asarray(run.array("fw")[rows], np.float32)
    maps = np.asarray(run.array("maps")[rows], np.float64)

    def layout(X):
        return UmapLayout(p.n_neighbors, p.min_dist, p.metric, p.n_epochs, seed).fit(X).embedding_

    return compare_spaces({"feature space (F)": layout(F), "attribution space (F_W)": layout(fw)},
                          F, maps, k=k, n_points=n_points, seed=seed)


def _colour_values(run: Run, slice_set: SliceSet, color_by: str) -> np.ndarray:
    if color_by in ("accuracy", "confidence"):
        return np.array([s.metrics.get(color_by, np.nan) for s in slice_set.slices], float)
    if color_by == "spuriousness":
        from slicelens.feedback.propagation import spuriousness
        from slicelens.store import Workspace
        from slicelens.store.paths import workspace_of

        ws = Workspace(workspace_of(run.path), create=False)
        annotations = ws.db.list(run_id=run.id, target_type="slice")
        table = spuriousness(run, slice_set, annotations).set_index("slice_id")
        return np.array([table["spuriousness"].get(s.id, np.nan) for s in slice_set.slices])
    raise WorkspaceError(f"cannot colour by {color_by!r}; use accuracy, confidence or spuriousness")


def _add_split_metrics(slice_set: SliceSet, samples, assigned: np.ndarray, classes) -> None:
    splits = samples["split"].to_numpy()
    for i, s in enumerate(slice_set.slices):
        by_split = {}
        for name in samples["split"].unique():
            rows = np.flatnonzero((splits == name) & (assigned == i))
            m = slice_metrics(samples.iloc[rows], classes)
            by_split[str(name)] = {k: m[k] for k in SPLIT_KEYS}
        s.metrics["by_split"] = by_split
