"""Training-data attribution of a stored run's errors: read the run (and its slice sets
and attribute matrix when present), call the TDA functions and save the result under
``<run>/tda/``.

These live in the part itself so that the ``tda-action`` repair strategy uses them
without importing :mod:`slicelens.pipeline`; ``slicelens.pipeline.tda`` re-exports them
next to the steps that retrain (``apply_row``, ``model_effects``).

Example
-------
>>> res = attribute_errors(run, "0-4->5-9")                  # doctest: +SKIP
>>> res.table(10)                                            # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.errors import DataError, SliceLensError
from slicelens.tda.groups import ErrorGroup
from slicelens.tda.params import ACTIONS, AUTO_KINDS

if TYPE_CHECKING:
    from slicelens.attributes.matrix import AttributeMatrix
    from slicelens.store.run import Run


def load_problem(run: Run):
    """The run as a :class:`~slicelens.tda.problem.HeadProblem`."""
    from slicelens.tda.problem import HeadProblem

    return HeadProblem.from_run(run)


def resolve_error_group(run: Run, spec, *, split: str = "val", errors_only: bool = True,
                        problem=None) -> ErrorGroup:
    """An :class:`ErrorGroup` from a spec.

    Parameters
    ----------
    spec : ErrorGroup, str or sequence of str
        ``"TRUE->PRED"`` (a confusion cell of ``split``), ``"SLICER:ID"`` (a slice of a
        stored slice set; its misclassified members unless ``errors_only=False``), or
        sample ids.
    """
    from slicelens.slicing.runio import load_slices
    from slicelens.tda.groups import confusion_error_group, ids_error_group, slice_error_group

    if isinstance(spec, ErrorGroup):
        return spec
    pb = problem or load_problem(run)
    if isinstance(spec, str) and "->" in spec:
        return confusion_error_group(pb, spec, split)
    if isinstance(spec, str):
        if ":" not in spec:
            raise DataError(f"an error group is 'TRUE->PRED', 'SLICER:ID' or ids, got {spec!r}",
                            field="error_group")
        slicer, slice_id = spec.split(":", 1)
        return slice_error_group(pb, load_slices(run, slicer), slice_id, errors_only)
    return ids_error_group(pb, list(spec))


def attribute_errors(run: Run, error_group, *, candidates="auto", actions=ACTIONS, metric="loss",
                     top: int = 10, resamples: int = 5, exact: bool = True, seed: int = 0,
                     oracle: Mapping[str, int] | None = None, params=None, save: bool = True):
    """Which training groups, under which action, would fix these errors, and at what cost
    to overall accuracy? (the needfinding study's question, Sec. 5.1.2).

    Parameters
    ----------
    run : Run
    error_group : ErrorGroup, "TRUE->PRED", "SLICER:ID" or ids
        See :func:`resolve_error_group`.
    candidates : "auto" or list of kinds
        ``"auto"`` = label, pred, confusion, slice (every stored slice set), attribute (the
        run's attribute matrix, if any), knn; add ``"sample"`` for single samples.
    actions : sequence of {"remove", "relabel", "upweight", "add"}
    metric : {"loss", "gt_prob", "pred_prob"}
    top : int
        Rows measured exactly by retraining the head.
    resamples : int
        Bootstrap resamples per exact effect.
    exact : bool
        False = influence estimates only.
    oracle : mapping pool id -> class index, optional
        Labels of pool samples (a person's answers); enables ``add`` from the pool.
    params : TDAParams, optional
        Overrides every keyword above except ``oracle``.
    save : bool
        Write ``<run>/tda/<error group>.json``.

    Returns
    -------
    TDAResult
    """
    from slicelens.tda.attribute import attribute
    from slicelens.tda.groups import candidate_groups
    from slicelens.tda.params import TDAParams

    p = params or TDAParams(candidates=list(AUTO_KINDS) if candidates == "auto" else list(candidates),
                            actions=list(actions), metric=metric, top=top, resamples=resamples,
                            exact=exact, seed=seed)
    pb = load_problem(run)
    err = resolve_error_group(run, error_group, problem=pb)
    slice_sets, train_assign = _slice_sets(run, pb) if "slice" in p.candidates else ([], {})
    groups = candidate_groups(pb, err, p.candidates, slice_sets=slice_sets, train_assign=train_assign,
                              attributes=_attributes(run), k=p.knn, min_size=p.min_group)
    if not groups:
        raise SliceLensError("no candidate training group is large enough (field 'min_group')")
    res = attribute(pb, err, groups, p, pool=_pool(pb, oracle), run_id=run.id)
    if save:
        res.save(result_path(run, err))
    return res


def result_path(run: Run, err: ErrorGroup) -> Path:
    """``<run>/tda/<slug of the error group name>.json``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", err.name).strip("-").lower()[:80] or "errors"
    return run.artifact_path("tda", slug)


def wrong_label_ranking(run: Run, *, score: str = "margin", folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Training samples ranked by how likely their label is wrong (highest first).

    ``score`` is one of ``margin`` (cross-validated head margin, default),
    ``self_influence`` or ``loss`` (the model's own loss, the plain baseline); every
    score is a column of the result (see ``slicelens.tda.labels``).
    """
    from slicelens.tda.labels import SCORES, wrong_label_scores
    from slicelens.tda.problem import fit_baseline

    if score not in SCORES:
        raise SliceLensError(f"score must be one of {SCORES}, got {score!r}")
    pb = load_problem(run)
    df = wrong_label_scores(pb, fit_baseline(pb), folds=folds, seed=seed)
    if df[score].isna().all():
        raise SliceLensError(f"score {score!r} is not available for this head; use 'margin'")
    return df.sort_values(score, ascending=False, kind="stable").reset_index(drop=True)


def read_oracle(path, classes: Sequence[str]) -> dict[str, int]:
    """Pool labels from a CSV with ``id`` and ``label`` (or ``true_label``) columns;
    labels may be class names or indices. Rows with an empty label are skipped."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"cannot read oracle labels: {e}", file=str(path)) from None
    col = "label" if "label" in df else "true_label" if "true_label" in df else None
    if "id" not in df or col is None:
        raise DataError("oracle labels need columns 'id' and 'label'", file=str(path), field="label")
    out = {}
    for row, (sid, lab) in enumerate(zip(df["id"], df[col], strict=True), start=2):
        if lab == "":
            continue
        if lab in classes:
            out[sid] = list(classes).index(lab)
        elif lab.isdigit() and int(lab) < len(classes):
            out[sid] = int(lab)
        else:
            raise DataError(f"unknown class {lab!r}", file=str(path), row=row, field=col)
    return out


def _pool(pb, oracle):
    if not oracle:
        return None
    pos = pb.split_index("pool", labelled=False)
    ids = pb.ids[pos]
    known = np.array([i in oracle for i in ids], bool)
    if not known.any():
        return None
    return {"pos": pos[known], "labels": np.array([int(oracle[i]) for i in ids[known]], np.int64)}


def _slice_sets(run: Run, pb) -> tuple[list, dict]:
    """Every stored slice set of the run, and each one's slice index per labelled
    training sample when ``find_slices`` stored its assignments."""
    from slicelens.errors import WorkspaceError
    from slicelens.slicing.runio import assign_all, load_slices

    sets, assign = [], {}
    for name in run.artifact_names("slices"):
        ss = load_slices(run, name)
        sets.append(ss)
        try:
            train_all = assign_all(run, ss).get("train")
        except WorkspaceError:
            continue                      # older slice set: slice_groups places by 1-NN
        if train_all is not None:
            rows = np.flatnonzero(pb.splits == "train")
            assign[ss.slicer] = train_all[pb.labels[rows] >= 0]
    return sets, assign


def _attributes(run: Run) -> AttributeMatrix | None:
    from slicelens.attributes.runio import ATTRIBUTE_MATRIX

    return run.artifact(ATTRIBUTE_MATRIX)
