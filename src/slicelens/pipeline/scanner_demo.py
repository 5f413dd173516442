"""The AttributionScanner loop as demo steps: slices, scripted marks, CoRM, evaluation.

Each step takes the demo's :class:`~slicelens.pipeline.demo.DemoState` (after the run
is extracted) and prints what it did. The annotator here is a SCRIPT that reads the
hidden ground truth, standing in for a person who looks at each slice's heatmaps: a
slice whose minority-background members (background not the one their class usually has
in training) are mostly predicted as the *background's* class is "spurious"; one whose
minority-background members are mostly predicted by their *digit* is "core". It walks
the slice ranking from both ends (worst, best, second worst, ...), as the paper's case
studies mark a failing slice spurious and a well-performing one core, and skips slices
it cannot judge (fewer than ``min_minority`` minority-background members).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slicelens.cli.common import table
from slicelens.errors import SliceLensError

SLICER = "attribution"
#: CoRM settings of the demo (the strategy's defaults, from propagation).
CORM_PARAMS = {"source": "propagation", "threshold": 0.5}


def slice_truth(slice_set, samples: pd.DataFrame, ground_truth: pd.DataFrame,
                classes: list[str], min_minority: int = 3) -> pd.DataFrame:
    """What a truthful annotator would say about each slice, from the ground truth.

    Parameters
    ----------
    slice_set : SliceSet
    samples : DataFrame
        The run's samples (``id, split, pred``).
    ground_truth : DataFrame
        The demo's ground truth indexed by id (``background``, ``true_label``, ``split``).
    classes : list of str
        The run's classes (``pred`` indexes them).
    min_minority : int
        Fewer minority-background members than this: the slice cannot be judged.

    Returns
    -------
    DataFrame, one row per slice: ``slice_id``, ``n_minority``, ``follows_background``
    (share of minority members predicted as their background's class), ``truth``
    (``"spurious"``, ``"core"`` or ``""``).
    """
    from slicelens.evaluate.planted import join_ground_truth

    df = join_ground_truth(samples, ground_truth).set_index(np.asarray(samples["id"], dtype=str))
    train = ground_truth[ground_truth["split"] == "train"]
    home = train.groupby("true_label")["background"].agg(lambda b: b.value_counts().index[0])
    rows = []
    for s in slice_set.slices:
        m = df.loc[s.members]
        minority = m[m["background"] != m["true_label"].map(home)]
        pred_home = minority["pred"].map(lambda k: home.get(classes[int(k)], ""))
        share = float((pred_home == minority["background"]).mean()) if len(minority) else float("nan")
        truth = "" if len(minority) < min_minority else ("spurious" if share > 0.5 else "core")
        rows.append({"slice_id": s.id, "n_minority": len(minority), "follows_background": share,
                     "truth": truth})
    return pd.DataFrame(rows)


def annotation_order(truth: pd.DataFrame) -> list[str]:
    """Judgeable slices from both ends of the ranking: worst, best, second worst, ...

    ``truth`` rows are in slice-set order (slice 0 = most problematic).
    """
    ids = truth.loc[truth["truth"] != "", "slice_id"].tolist()
    order, lo, hi = [], 0, len(ids) - 1
    while lo <= hi:
        order.append(ids[lo])
        lo += 1
        if lo <= hi:
            order.append(ids[hi])
            hi -= 1
    return order


def step_slices(st) -> None:
    """Find attribution slices on the validation split and show the worst."""
    from slicelens.pipeline.slices import find_slices

    ss = find_slices(st.run, SLICER)
    rows = [{"slice": s.id, "size": s.metrics["size"], "accuracy": s.metrics["accuracy"],
             "wilson": f"[{s.metrics['acc_low']:.2f}, {s.metrics['acc_high']:.2f}]",
             "description": s.description[:60]} for s in ss.slices[:6]]
    st.results["slices"] = {"slicer": SLICER, "n_slices": len(ss.slices)}
    st.echo(f"[scanner 1] {len(ss.slices)} {SLICER} slices of the validation split; the worst by the "
            "Wilson upper bound of accuracy:")
    st.echo(_indent(table(rows)))


def step_mosaic(st) -> None:
    """The Attribution Mosaic of the slices (Eq. 2) and the paper's Fig. 4 comparison."""
    from slicelens.pipeline.slices import make_mosaic, space_consistency

    out = make_mosaic(st.run, SLICER)
    st.results["mosaic"] = {"mosaic": str(out["mosaic"]), "tiles": len(out["tiles"]),
                            "seconds": out["seconds"]}
    st.echo(f"[scanner 2] Attribution Mosaic: {len(out['tiles'])} slices inverted in "
            f"{out['seconds']:.0f} s -> {out['mosaic']}")
    cons = space_consistency(st.run, "val")
    st.results["consistency"] = cons.to_dict("records")
    st.echo(_indent("neighbour consistency on validation (App. A-I; higher feature, lower "
                    "attribution distance = more coherent neighbourhoods):"))
    st.echo(_indent(table(cons.to_dict("records"))))


def step_annotate(st, n_marks: int = 3) -> None:
    """A SCRIPTED truthful annotator marks slices; spuriousness is re-propagated each time."""
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.feedback import annotate_slice, current_spuriousness
    from slicelens.pipeline.slices import load_slices

    ss = load_slices(st.run, SLICER)
    truth = slice_truth(ss, st.run.samples, load_ground_truth(st.paths.ground_truth), st.run.classes)
    st.echo("[scanner 3] SCRIPTED annotator (reads the hidden ground truth, standing in for a person "
            "reading heatmaps):")
    marks = []
    for sid in annotation_order(truth)[:n_marks]:
        t = truth.set_index("slice_id").loc[sid]
        desc = ("predicted by its background" if t.truth == "spurious" else "predicted by its digit")
        annotate_slice(st.workspace, st.run, SLICER, sid, t.truth, f"scripted: {desc}", "demo-script")
        table_ = current_spuriousness(st.workspace, st.run, SLICER)
        prop = table_[table_["source"] == "propagated"]["spuriousness"]
        marks.append({"slice": sid, "label": t.truth, "minority members": int(t.n_minority),
                      "follow background": float(t.follows_background),
                      "propagated > 0.5": f"{int((prop > 0.5).sum())} of {len(prop)}"})
        st.echo(_indent(f"marked {sid} {t.truth} ({desc}); propagated spuriousness > 0.5 "
                        f"now on {int((prop > 0.5).sum())} of {len(prop)} slices"))
    st.results["annotations"] = marks
    st.echo(_indent(f"({table_.attrs.get('note', '')})"))


def step_repair(st) -> None:
    """CoRM from the marks and from propagated spuriousness, and a plain retrain as control.

    The control retrains on unchanged data with the same settings and seed; training is
    seeded, so it reproduces the original model, and any difference in the table of
    :func:`step_evaluate` comes from the plan, not from retraining.
    """
    from slicelens.pipeline.repair import run_repair
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.repair.plan import TrainingPlan

    st.echo("[scanner 4] CoRM repair (retrain with noise on the spurious regions):")
    repairs = {}
    for source in ("marks", "propagation"):
        try:
            plan, new = run_repair(st.workspace, st.run, "corm", {**CORM_PARAMS, "source": source},
                                   st.cfg.train, name=f"corm-{source}")
        except SliceLensError as e:  # e.g. the script marked no slice spurious
            st.echo(_indent(f"CoRM ({source}) skipped: {e}"))
            continue
        repairs[f"CoRM ({source})"] = new
        st.echo(_indent(f"{new.id}: {plan.description}"))
    control = apply_plan(st.workspace, st.run, TrainingPlan(
        strategy="none", description="retrained on unchanged data (control)"),
        st.cfg.train, name="retrain-control")
    repairs["retrain (control)"] = control
    st.echo(_indent(f"{control.id}: retrained on unchanged data with the same settings (control)"))
    new = repairs.get("CoRM (propagation)", control)
    st.results["repair"] = {"run": new.id, "plan": TrainingPlan(**new.record["plan"]).summary(),
                            "runs": {k: r.id for k, r in repairs.items()}}
    st.results["repaired_run"] = new
    st.results["repairs"] = repairs


def step_evaluate(st) -> None:
    """Before / after: average, worst-group, clean / core / spurious accuracy and RCS."""
    from slicelens.pipeline.evaluate import evaluate_run

    keys = ["clean", "core", "spurious", "rcs", "average", "worst_group_accuracy", "worst_group"]
    repairs = st.results["repairs"]  # label -> run, from step_repair (control always there)
    rows, evals = [], {}
    for label, new in repairs.items():
        rep = evaluate_run(st.workspace, new, baseline=st.run, slicer=SLICER,
                           ground_truth=st.paths.ground_truth)
        by_role = {m["role"]: {k: m[k] for k in keys} for m in rep["models"]}
        evals[label] = by_role
        if not rows:
            rows.append({"model": f"before ({st.run.id})", **by_role["before"]})
        rows.append({"model": f"{label} ({new.id})", **by_role["after"]})
    main = st.results["repaired_run"]
    st.results["evaluation"] = next(v for k, v in evals.items() if repairs[k] is main)
    st.results["evaluations"] = evals
    st.echo(f"[scanner 5] evaluation on the test split; masks from {rep['mask_source']} "
            f"({rep['mask_note']})")
    st.echo(_indent(table(rows)))
    ws = st.workspace.root
    st.echo("    Next:\n"
            f"      slicelens annotate --workspace {ws} --run {st.run.id} --list\n"
            f"      slicelens mosaic --workspace {ws} --run {st.run.id} --color-by spuriousness\n"
            f"      slicelens evaluate --workspace {ws} --run {main.id} --baseline {st.run.id}")


STEPS = [step_slices, step_mosaic, step_annotate, step_repair, step_evaluate]


def _indent(text: str) -> str:
    return "    " + str(text).replace("\n", "\n    ")
