"""``slicelens evaluate``: clean / core / spurious accuracy, RCS, group and slice tables.

Orchestration only (the numbers come from :mod:`slicelens.evaluate`). Core masks come
from one of two sources, always named in the report:

- ``ground_truth``: the dataset's core masks (``core_masks.npz``, given, or found beside
  the ground truth / the run's manifest; :mod:`slicelens.evaluate.reference`): the
  mask is core, the rest spurious (the demo writes its digits' ink there);
- ``annotations``: without ground truth, the evaluated split's samples that fall into
  slices a person marked are used: for a *spurious* slice the reference run's binarised
  attribution map is the spurious region (core = the rest), for a *core* slice the map
  is the core region. The reference run is the baseline (so that before and after are
  scored on the same regions), else the run itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slicelens.data.loader import load_images
from slicelens.errors import SliceLensError
from slicelens.evaluate.reference import CORE_MASKS, beside, load_core_masks
from slicelens.evaluate.report import EvaluationReport, GroupRow, ModelScores, SliceRow
from slicelens.evaluate.robustness import RobustnessParams
from slicelens.pipeline.evaluations import save_evaluation

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace


def evaluate_run(workspace: Workspace, run: Run | str, *, baseline=None, slicer: str | None = "auto",
                 ground_truth="auto", params: RobustnessParams | None = None,
                 split: str = "test", control="auto", core_masks="auto") -> EvaluationReport:
    """Evaluate ``run`` (and ``baseline`` and the matched control, on the same images,
    noise and masks).

    Parameters
    ----------
    workspace : Workspace
    run, baseline : Run or run id
    slicer : str or None
        Slice set of the reference run for the before/after slice table and for
        annotation masks ("auto": the reference run's set that holds the newest mark, else
        its preferred stored set, :func:`slicelens.feedback.annotations.marked_slicer`;
        None: no slice table).
    ground_truth : "auto", path, DataFrame or None
        The true groups (column ``group``, indexed or keyed by ``id``) for worst-group
        accuracy and the group table; ``"auto"`` looks for ``ground_truth.csv`` beside
        the run's manifest.
    params : RobustnessParams, optional
    split : str
    control : "auto", Run, run id or None
        The matched control (same start, epochs, seed and early stopping on unchanged
        data); ``"auto"``: the ``control_run`` named in ``run``'s record, if any.
    core_masks : "auto", path or None
        Core masks (``core_masks.npz``); ``"auto"``: beside the ground truth file, or
        beside the run's manifest when the ground truth is ``"auto"`` / a DataFrame;
        never when ``ground_truth`` is None. Without masks, the marked slices give them.

    Returns
    -------
    EvaluationReport (``.to_json()`` is what is stored): ``run``, ``baseline``, ``control``,
    ``split``, ``n``, ``mask_source``, ``mask_note``, ``ground_truth``, ``params``, ``models`` (one dict
    per model, roles ``before`` / ``control`` / ``after``: clean, core, spurious, rcs,
    average, worst_slice, worst_slice_accuracy, worst_group, worst_group_accuracy),
    ``groups`` and ``slices`` (before/after rows, with the control's accuracy where there
    is one; empty without a baseline), ``versus_control`` (after - control per metric)
    and ``verdict`` (in words: does the repair beat its control). A report with a
    baseline is also stored in ``<run>/evaluations/<baseline>.json``
    (:mod:`slicelens.pipeline.evaluations`).
    """
    import torch

    from slicelens.evaluate.compare import group_comparison, slice_comparison
    from slicelens.evaluate.groups import group_accuracy
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.store.workspace import require_workspace

    ws = require_workspace(workspace, "evaluate_run")
    run = _run(ws, run)
    base = _run(ws, baseline) if baseline is not None else None
    ctrl = _control(ws, run, control)
    p = params or RobustnessParams()
    gt, gt_path = _ground_truth(run, ground_truth)
    masks_path = _core_masks(run, ground_truth, core_masks)
    samples = run.samples
    rows = np.flatnonzero((samples["split"] == split).to_numpy() & (samples["label"] >= 0).to_numpy())
    if not len(rows):
        raise SliceLensError(f"run {run.id} has no labelled samples in split {split!r}")
    ids = np.asarray(samples["id"], dtype=str)[rows]
    size = run.record.input_size
    if slicer == "auto":
        from slicelens.feedback.annotations import marked_slicer

        slicer = marked_slicer(ws, base or run)
    dataset = run.dataset()
    images = load_images(dataset, dataset.index_of(ids), size, uint8=True)
    if masks_path is not None:
        keep = np.ones(len(rows), bool)
        masks, what = load_core_masks(masks_path, ids, size)
        source, note = "ground_truth", (f"ground truth {masks_path}: {what} "
                                        f"(core grown by {p.dilate} px)")
    else:
        keep, masks, note = _annotation_masks(ws, base or run, slicer, split, ids, size, p)
        source = "annotations"
    x = torch.from_numpy(np.ascontiguousarray(images[keep])).permute(0, 3, 1, 2).float().div_(255)
    y = samples["label"].to_numpy(np.int64)[rows][keep]
    names = (_slice_names(base or run, slicer, split, pd.Index(ids))
             if slicer and _has_slices(base or run, slicer) else None)
    roles = (("before", base), ("control", ctrl), ("after" if base or ctrl else "model", run))
    models = [_model_entry(r, role, ids, gt, x, y, masks[keep], p, names)
              for role, r in roles if r is not None]
    report = EvaluationReport(
        run=run.id, baseline=base.id if base else None, control=ctrl.id if ctrl else None,
        split=split, n=int(keep.sum()), mask_source=source, mask_note=note,
        ground_truth=str(gt_path) if gt_path else None, params=p.model_dump(),
        models=models, groups=[], slices=[], slicer=slicer)
    index = pd.Index(ids)
    if gt is not None:
        groups = pd.Series(join_ground_truth(samples.iloc[rows], gt)["group"].to_numpy(str), index=index)
        if base is not None:
            table = group_comparison(base.samples, run.samples, groups)
            if ctrl is not None:  # the control beside the repair, per group as per slice
                vs = group_comparison(ctrl.samples, run.samples, groups).set_index("group")
                table["acc_control"] = vs["acc_before"].reindex(table["group"]).to_numpy()
                table["delta_vs_control"] = vs["delta"].reindex(table["group"]).to_numpy()
        else:
            table = group_accuracy(_rows_of(run, ids)["correct"].to_numpy(bool, na_value=False),
                                   groups.to_numpy())
        report.groups = [GroupRow(**r) for r in table.to_dict("records")]
    if base is not None and names is not None:
        table = slice_comparison(base.samples, run.samples, names, order=names.attrs["order"])
        if ctrl is not None:
            vs = slice_comparison(ctrl.samples, run.samples, names, order=names.attrs["order"])
            table["acc_control"] = vs["acc_before"].to_numpy()
            table["delta_vs_control"] = vs["delta"].to_numpy()
        report.slices = [SliceRow(**r) for r in table.to_dict("records")]
    report.versus_control, report.verdict = _versus_control(models)
    if base is not None:  # kept beside the run: the web app shows it after a restart
        save_evaluation(run, report)
    return report


def _control(ws: Workspace, run: Run, control):
    """The control run: given, named in ``run``'s record (``"auto"``), or None."""
    if control is None:
        return None
    if control == "auto":
        control = run.record.control_run
        if not control:
            return None
    return _run(ws, control)


#: metrics compared with the control; the first present one decides the verdict
VERDICT_METRICS = ("worst_group_accuracy", "worst_slice_accuracy", "average")


def _versus_control(models: list[ModelScores]) -> tuple[dict[str, float], str]:
    """``versus_control`` (after - control per metric) and ``verdict`` (words)."""
    by = {m.role: m.to_json() for m in models}
    if "control" not in by:
        return {}, ("no matched control: a difference to the model before repair mixes the "
                    "repair with retraining itself" if "before" in by else "")
    after, ctrl = by["after"], by["control"]
    keys = ("average", "worst_group_accuracy", "worst_slice_accuracy", "clean", "core",
            "spurious", "rcs")
    vs = {k: after[k] - ctrl[k] for k in keys if k in after and k in ctrl
          and after[k] is not None and ctrl[k] is not None}
    key = next((k for k in VERDICT_METRICS if k in vs), None)
    if key is None:
        return vs, ""
    what = key.replace("_", " ").replace(" accuracy", "")
    d = vs[key]
    verdict = (f"the repair beats its matched control on {what} accuracy by {d:+.3f} "
               f"({after[key]:.3f} vs {ctrl[key]:.3f})" if d > 0 else
               f"the repair does NOT beat its matched control on {what} accuracy "
               f"({after[key]:.3f} vs {ctrl[key]:.3f}, {d:+.3f})")
    return vs, verdict


def _model_entry(r, role: str, ids: np.ndarray, gt, x, y, masks, p, names=None) -> ModelScores:
    """Robustness of run ``r`` on the images, its average / worst-group accuracy on ``ids``
    and its worst accuracy over the reference slices ``names`` (slices of 10 or more)."""
    from slicelens.evaluate.groups import worst_group_accuracy
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.evaluate.robustness import core_spurious_accuracy

    entry = ModelScores(run=r.id, role=role,
                        **core_spurious_accuracy(r.adapter().logits, x, y, masks, p).to_dict())
    s = _rows_of(r, ids)
    correct = s["correct"].to_numpy(dtype=bool, na_value=False)
    entry.average = float(correct.mean())  # the whole split, from the run's predictions
    if names is not None:
        sl = pd.Series(correct, index=names.index).groupby(names.to_numpy()).agg(["mean", "size"])
        sl = sl[(sl.index != "") & (sl["size"] >= 10)]
        if len(sl):
            entry.worst_slice = str(sl["mean"].idxmin())
            entry.worst_slice_accuracy = float(sl["mean"].min())
    if gt is not None:
        name, acc = worst_group_accuracy(correct, join_ground_truth(s, gt)["group"].to_numpy(str))
        entry.worst_group, entry.worst_group_accuracy = name, acc
    return entry


def _run(ws: Workspace, run: Run | str) -> Run:
    return ws.run(run) if isinstance(run, str) else run


def _rows_of(run: Run, ids: np.ndarray) -> pd.DataFrame:
    """``run.samples`` rows of sample ``ids``, in that order."""
    pos = pd.Index(np.asarray(run.samples["id"], dtype=str)).get_indexer(ids)
    if (pos < 0).any():
        raise SliceLensError(f"run {run.id} lacks sample {ids[pos < 0][0]!r}; runs compared must "
                             "be extracted on the same dataset")
    return run.samples.iloc[pos]


def _ground_truth(run: Run, ground_truth):
    from slicelens.evaluate.groups import load_ground_truth

    if ground_truth is None:
        return None, None
    if isinstance(ground_truth, pd.DataFrame):
        return ground_truth, "<DataFrame>"
    if ground_truth == "auto":
        src = Path(run.record.data.source)
        path = src.parent / "ground_truth.csv"
        return (load_ground_truth(path), path) if src.suffix and path.exists() else (None, None)
    return load_ground_truth(ground_truth), Path(ground_truth)


def _core_masks(run: Run, ground_truth, core_masks) -> Path | None:
    """The core masks file ``evaluate_run`` uses (see its ``core_masks``), or None."""
    if core_masks != "auto":
        return None if core_masks is None else Path(core_masks)
    if ground_truth is None:
        return None
    if isinstance(ground_truth, str | Path) and ground_truth != "auto":
        return beside(ground_truth, CORE_MASKS)
    src = Path(run.record.data.source or "")
    return beside(src, CORE_MASKS) if src.suffix else None


def _has_slices(run: Run, slicer: str) -> bool:
    return run.has_artifact("slices", slicer)


def _slice_names(run: Run, slicer: str, split: str, ids: pd.Index) -> pd.Series:
    """Slice id per sample id of ``ids`` ("" = none), from ``run``'s slicer on ``split``."""
    from slicelens.repair.corm import slice_assignment
    from slicelens.slicing.base import SliceSet

    ss = SliceSet.load(run.path, slicer)
    s = run.samples
    split_ids = np.asarray(s["id"], dtype=str)[(s["split"] == split).to_numpy()]
    idx = pd.Series(slice_assignment(run, ss, split), index=split_ids).reindex(ids).fillna(-1)
    names = np.array([ss.slices[i].id if i >= 0 else "" for i in idx.astype(int)], dtype=object)
    out = pd.Series(names, index=ids)
    out.attrs["order"] = [s.id for s in ss.slices]
    return out


def _annotation_masks(ws: Workspace, ref, slicer, split, ids: np.ndarray, size: int, p):
    """(keep (n,), core masks (n, H, W), note) for sample ``ids`` from marked slices of ``ref``."""
    from slicelens.evaluate.robustness import attribution_masks
    from slicelens.feedback import slice_marks

    marks = slice_marks(ws, ref, slicer) if slicer and _has_slices(ref, slicer) else {}
    kinds = {sid: a.label for sid, a in marks.items() if a.label in ("spurious", "core")}
    if not kinds:
        raise SliceLensError("no mask source: give the ground truth (--ground-truth) or mark "
                             f"slices core/spurious in {ref.id} ({slicer}) first")
    pos = pd.Index(np.asarray(ref.samples["id"], dtype=str)).get_indexer(ids)
    if (pos < 0).any():
        raise SliceLensError(f"run {ref.id} lacks evaluated sample {ids[pos < 0][0]!r}")
    label = _slice_names(ref, slicer, split, pd.Index(ids)).map(lambda s: kinds.get(s, "")).to_numpy()
    keep = label != ""
    if not keep.any():
        raise SliceLensError(f"no {split} sample falls into a marked slice of {ref.id}")
    attr = attribution_masks(np.asarray(ref.array("maps"))[pos], size, p.mask_threshold)
    core = np.where((label == "core")[:, None, None], attr, ~attr)
    note = (f"annotations on {ref.id} ({slicer}): {int((label == 'spurious').sum())} images of "
            f"spurious slices (attribution = spurious region), {int((label == 'core').sum())} of "
            f"core slices (attribution = core region); maps binarised at {p.mask_threshold}")
    return keep, core, note


def print_evaluation(report: EvaluationReport, echo=print, max_slices: int = 12) -> None:
    """Print an :func:`evaluate_run` report as plain-text tables."""
    from slicelens.utils import table

    p = report.params
    echo(f"evaluation on split {report.split!r} ({report.n} images)")
    echo(f"  masks: {report.mask_source} - {report.mask_note}")
    echo(f"  noise: sigma {p['sigma']}, {p['trials']} trials, seed {p['seed']}")
    cols = ["run", "role", "clean", "core", "spurious", "rcs", "average"]
    if any(m.worst_slice_accuracy is not None for m in report.models):
        cols += ["worst_slice_accuracy", "worst_slice"]
    if any(m.worst_group_accuracy is not None for m in report.models):
        cols += ["worst_group_accuracy", "worst_group"]
    echo(table([m.to_json() for m in report.models], cols))
    if report.versus_control:
        echo("repair minus its matched control: " + ", ".join(
            f"{k.replace('_accuracy', '')} {v:+.3f}" for k, v in report.versus_control.items()))
    if report.verdict:
        echo(f"verdict: {report.verdict}")
    if report.groups:
        echo("\naccuracy per ground-truth group:")
        echo(table([g.to_json() for g in report.groups]))
    if report.slices:
        rows = [{"slice": r.slice_id, "n": r.n,
                 "before": _interval(r.acc_before, r.low_before, r.high_before),
                 **({"control": f"{r.acc_control:.3f}"} if r.acc_control is not None else {}),
                 "after": _interval(r.acc_after, r.low_after, r.high_after),
                 **({"vs control": f"{r.delta_vs_control:+.3f}"}
                    if r.acc_control is not None else {}),
                 "vs before": f"{r.delta:+.3f}"} for r in report.slices]
        shown = rows[:max_slices] + ([rows[-1]] if len(rows) > max_slices else [])
        echo(f"\nper slice of {report.slicer} (base run's slices, accuracy [Wilson 95%]):")
        echo(table(shown))


def _interval(acc: float, low: float, high: float) -> str:
    return f"{acc:.3f} [{low:.2f}, {high:.2f}]"
