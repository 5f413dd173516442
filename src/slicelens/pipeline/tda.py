"""Training-data attribution on a run: the functions the CLI, the HTTP API and notebooks call.

They read the run (and its slice sets and attribute matrix when present), call
``slicelens.tda`` and persist the result under ``<run>/tda/``.

Example
-------
>>> res = attribute_errors(run, "0-4->5-9")                  # doctest: +SKIP
>>> res.table(10); new_run = apply_row(ws, run, res, 1)      # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from slicelens.errors import DataError, SliceLensError
from slicelens.tda.groups import ErrorGroup
from slicelens.tda.params import ACTIONS, AUTO_KINDS


def load_problem(run):
    """The run as a :class:`~slicelens.tda.problem.HeadProblem`."""
    from slicelens.tda.problem import HeadProblem

    return HeadProblem.from_run(run)


def resolve_error_group(run, spec, *, split: str = "val", errors_only: bool = True,
                        problem=None) -> ErrorGroup:
    """An :class:`ErrorGroup` from a spec.

    Parameters
    ----------
    spec : ErrorGroup, str or sequence of str
        ``"TRUE->PRED"`` (a confusion cell of ``split``), ``"SLICER:ID"`` (a slice of a
        stored slice set; its misclassified members unless ``errors_only=False``), or
        sample ids.
    """
    from slicelens.pipeline.slices import load_slices
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


def attribute_errors(run, error_group, *, candidates="auto", actions=ACTIONS, metric="loss",
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


def result_path(run, err: ErrorGroup) -> Path:
    """``<run>/tda/<slug of the error group name>.json``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", err.name).strip("-").lower()[:80] or "errors"
    return Path(run.path) / "tda" / f"{slug}.json"


def wrong_label_ranking(run, *, score: str = "margin", folds: int = 5, seed: int = 0) -> pd.DataFrame:
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


def apply_row(workspace, run, result, rank: int, train_cfg=None, *, init: str = "scratch",
              name: str | None = None):
    """Turn row ``rank`` of ``result`` into a TrainingPlan, retrain (new run), and pair it
    with its matched control (trained once per setting and reused; ``control_run`` in the
    new run's record), so its evaluation states the gain against the control."""
    from slicelens.pipeline.control import matched_control
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.store import Workspace
    from slicelens.store.atomic import write_json
    from slicelens.tda.result import to_plan

    workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    plan = to_plan(result.row(rank))
    new = apply_plan(workspace, run, plan, train_cfg, init=init,
                     name=name or f"tda-{result.row(rank).action}")
    ctrl = matched_control(workspace, run, plan, train_cfg, init=init)
    write_json(Path(new.path) / "record.json", dict(new.record, control_run=ctrl.id))
    return type(new)(new.path)


def model_effects(workspace, run, result, rank: int, *, seeds: Sequence[int] = (0, 1, 2),
                  train_cfg=None, init: str = "scratch"):
    """Measure row ``rank`` by retraining the whole model (``apply_plan``) per seed.

    Each seed trains a baseline (empty plan; reused when the workspace already has one
    for this run, seed and init) and the row's plan; the error-group metric and the
    validation accuracy of the new runs give paired differences (``slicelens.tda.stats``).
    Costs ``2 * len(seeds)`` trainings plus extractions.

    Returns
    -------
    TDARow
        A copy of the row with ``method="model"`` and the measured numbers.
    """
    import dataclasses

    from slicelens.models import ModelSpec, TrainConfig
    from slicelens.pipeline.retrain import _stored_train_config, apply_plan
    from slicelens.repair.plan import TrainingPlan
    from slicelens.store import Workspace
    from slicelens.tda.estimate import effect_columns
    from slicelens.tda.result import to_plan
    from slicelens.tda.stats import paired_effect

    if len(seeds) < 2:
        raise SliceLensError("model effects need at least two seeds (field 'seeds')")
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    row = result.row(rank)
    spec = ModelSpec.model_validate({k: v for k, v in run.record["model"].items() if k in ModelSpec.model_fields})
    cfg = train_cfg or _stored_train_config(spec) or TrainConfig()
    err = result.error_group.ids
    diffs = []
    for s in seeds:
        c = cfg.model_copy(update={"seed": int(s)})
        base = _cached_baseline(ws, run, c, init) or apply_plan(
            ws, run, TrainingPlan(strategy="tda-baseline"), c, init=init, name=f"tda-baseline-s{s}")
        new = apply_plan(ws, run, to_plan(row), c, init=init, name=f"tda-{row.action}-s{s}")
        diffs.append(_measure(new, run, err, row.metric) - _measure(base, run, err, row.metric))
    d = effect_columns(np.asarray(diffs))
    e, g, a, w = (paired_effect(d[:, j], test=result.params.get("test", "paired-t")) for j in range(4))
    alpha = float(result.params.get("alpha", 0.05))
    return dataclasses.replace(
        row, effect=e.mean, ci_low=e.ci_low, ci_high=e.ci_high, p_value=e.p_value,
        p_adjusted=e.p_value, significant=bool(e.p_value < alpha), global_effect=g.mean,
        global_ci_low=g.ci_low, global_ci_high=g.ci_high, error_accuracy_effect=a.mean,
        worst_class_effect=w.mean,
        n_retrains=len(seeds), method="model")


def _cached_baseline(ws, run, cfg, init):
    for r in ws.runs():
        rec = r.record
        if (rec.get("base_run") == run.id and rec.get("plan", {}).get("strategy") == "tda-baseline"
                and rec.get("init") == init and rec.get("train") == cfg.model_dump(mode="json")):
            return r
    return None


def _measure(new_run, base_run, err_ids, metric: str) -> np.ndarray:
    """``Targets.measure``'s layout for a retrained run: metric on the errors, validation
    accuracy, accuracy on the errors, validation accuracy per class."""
    from slicelens.tda.estimate import class_accuracies

    s = new_run.samples
    pos = pd.Index(s["id"]).get_indexer(err_ids)
    y = s["label"].to_numpy(np.int64)[pos]
    P = np.asarray(new_run.array("probs"))[pos]
    k = np.arange(len(pos))
    if metric == "loss":
        m = float(s["loss"].to_numpy(np.float64)[pos].mean())
    else:
        base = base_run.samples
        ref = y if metric == "gt_prob" else base["pred"].to_numpy(np.int64)[
            pd.Index(base["id"]).get_indexer(err_ids)]
        m = float(P[k, ref].mean())
    val = ((s["split"] == "val") & (s["label"] >= 0)).to_numpy()
    hit = s["correct"].to_numpy(bool, na_value=False)[val]
    yv = s["label"].to_numpy(np.int64)[val]
    return np.array([m, float(hit.mean()), float((P.argmax(1) == y).mean()),
                     *class_accuracies(hit, yv, len(new_run.classes))])


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


def _slice_sets(run, pb) -> tuple[list, dict]:
    """Every stored slice set of the run, and each one's slice index per labelled
    training sample when ``find_slices`` stored its assignments."""
    from slicelens.errors import WorkspaceError
    from slicelens.pipeline.slices import assign_all, load_slices

    d = Path(run.path) / "slices"
    sets, assign = [], {}
    for path in sorted(d.glob("*.json")) if d.exists() else []:
        ss = load_slices(run, path.stem)
        sets.append(ss)
        try:
            train_all = assign_all(run, ss).get("train")
        except WorkspaceError:
            continue                      # older slice set: slice_groups places by 1-NN
        if train_all is not None:
            rows = np.flatnonzero(pb.splits == "train")
            assign[ss.slicer] = train_all[pb.labels[rows] >= 0]
    return sets, assign


def _attributes(run):
    from slicelens.attributes.matrix import AttributeMatrix

    if not (Path(run.path) / "attributes" / "matrix.parquet").exists():
        return None
    return AttributeMatrix.load(run.path)
