"""The AttributionScanner loop as demo steps: slices, scripted marks, repair beside its
matched control, evaluation.

Each step takes the demo's :class:`~slicelens.demo.run.DemoState` (after the run
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

from slicelens.errors import SliceLensError
from slicelens.utils import table

SLICER = "attribution"
#: CoRM settings of the demo: the slices the script marked spurious.
CORM_PARAMS = {"source": "marks"}


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
    """Find attribution slices on the validation split and show the worst, in words
    (the attribute matrix is assigned first) with their bug types."""
    from slicelens.demo.hibug import demo_attributes
    from slicelens.pipeline.slices import find_slices
    from slicelens.slicing.bugtype import TYPE_WORDS

    demo_attributes(st)  # before the slices, so that they are described in words
    ss = find_slices(st.run, SLICER)
    rows = [{"slice": s.id, "size": s.metrics["size"], "accuracy": s.metrics["accuracy"],
             "wilson": f"[{s.metrics['acc_low']:.2f}, {s.metrics['acc_high']:.2f}]",
             "description": s.description[:60], "bug type": TYPE_WORDS[s.bug_type],
             "confusion": s.metrics.get("confusion_text", "")} for s in ss.slices[:6]]
    st.results["slices"] = {"slicer": SLICER, "n_slices": len(ss.slices)}
    st.echo(f"[scanner 1b] {len(ss.slices)} {SLICER} slices (AttributionScanner's, marked below) "
            "of the validation split; the worst by the Wilson upper bound of accuracy:")
    st.echo(_indent(table(rows)))


def step_discover(st, top: int = 10) -> None:
    """The default slicer's top ``top`` slices in words, and whether each planted bug is
    among them (the check a person would make against the images, done here from the
    hidden ground truth): a bug counts as found when one of the top slices has at least
    80% of its 10 most typical members in the affected group (P@10, as
    ``benchmarks/slice_discovery.py`` scores it)."""
    from slicelens.demo.hibug import demo_attributes
    from slicelens.demo.planted import planted_manifests, planted_members
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.pipeline.slices import find_slices
    from slicelens.slicing.base import DEFAULT_SLICER
    from slicelens.slicing.bugtype import TYPE_WORDS

    demo_attributes(st)  # before the slices, so that they are described in words
    ss = find_slices(st.run, DEFAULT_SLICER)
    head = ss.slices[:top]
    st.echo(f"[scanner 1] {len(ss.slices)} {DEFAULT_SLICER} slices (the default slicer) of the "
            f"validation split; the top {len(head)} in words, with their bug types:")
    st.echo(_indent(table([{"slice": s.id, "size": s.metrics["size"],
                            "accuracy": s.metrics["accuracy"],
                            "description": s.description[:64],
                            "bug type": TYPE_WORDS[s.bug_type]} for s in head])))
    named = st.results.get("hibug", {})
    if "named" in named:
        st.echo(_indent(f"(words: image statistics, and 'digit': {named['clusters']['digit']} "
                        f"clusters of the digits' shape, {named['named']['digit']} named once "
                        "each by a SIMULATED person from the hidden ground truth)"))
    gt = load_ground_truth(st.paths.ground_truth)
    planted = {"rare_digit": st.cfg.data.rare_digit, "flip_digit": st.cfg.data.flip_digit}
    groups = planted_members(st.run.samples, gt, **planted)
    fails = planted_manifests(st.run.samples, gt, **planted)
    rows = []
    for bug, (affected, ids) in groups.items():
        fail = fails[bug]
        share = [float(np.mean([m in ids for m in s.members[:10]])) if len(s.members) else 0.0
                 for s in head]
        best = int(np.argmax(share)) if share else -1
        rows.append({"planted bug": bug, "affected": affected, "n (val)": len(ids),
                     "its accuracy": fail["accuracy"], "reference": fail["reference_accuracy"],
                     "a failure": bool(fail["manifest"]),
                     "best top slice": head[best].id if best >= 0 else "-",
                     "P@10": share[best] if best >= 0 else 0.0,
                     "found": bool(best >= 0 and share[best] >= 0.8),
                     "its bug type": TYPE_WORDS[head[best].bug_type] if best >= 0 else "-"})
    st.results["discovery"] = {"slicer": DEFAULT_SLICER, "planted": rows}
    st.echo(_indent("planted bugs among these slices (hidden ground truth; found = P@10 >= 0.8; "
                    "a failure = accuracy >= 0.10 below its reference, the same label's other "
                    "samples, Fisher p < 0.01: a bug that is no failure has nothing to find):"))
    st.echo(_indent(table(rows)))
    step_label_check(st, gt)


def step_label_check(st, gt, top: int = 3) -> None:
    """The training-label check ``slicelens slices`` runs beside the slicer (the
    wrong-labels slicer on the training split), scored against the hidden flipped
    samples: labelling errors the model resisted make no validation errors, so this is
    where they show."""
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.pipeline.slices import check_training_labels, suspect_slices

    sus = suspect_slices(check_training_labels(st.run))
    df = join_ground_truth(st.run.samples, gt)
    train = df[df["split"] == "train"]
    flipped = set(train.loc[train["flipped"].astype(bool), "id"])
    held = {m for s in sus for m in s.members}
    rows = [{"group": s.id, "size": s.size, "labelled": s.evidence["labelled"],
             "suggested": s.evidence["suggested"], "description": s.description[:48],
             "truly flipped (hidden)": float(np.mean([m in flipped for m in s.members]))}
            for s in sus[:top]]
    st.results["label_check"] = {"groups": len(sus), "suspects": len(held),
                                 "flipped": len(flipped), "flipped_caught": len(held & flipped)}
    st.echo(_indent(f"training-label check (wrong-labels slicer on train, as `slicelens slices` "
                    f"runs it): {len(sus)} groups, {len(held)} suspect labels of {len(train)}, "
                    f"holding {len(held & flipped)} of the {len(flipped)} flipped ones "
                    f"(hidden ground truth); the largest {len(rows)}:"))
    if rows:
        st.echo(_indent(table(rows)))


def step_mosaic(st) -> None:
    """The Attribution Mosaic of the slices (Eq. 2) and the paper's Fig. 4 comparison."""
    from slicelens.pipeline.slices import make_mosaic, space_consistency

    out = make_mosaic(st.run, SLICER)
    st.results["mosaic"] = {"mosaic": str(out.mosaic), "tiles": len(out.tiles),
                            "seconds": out.seconds}
    st.echo(f"[scanner 2] Attribution Mosaic: {len(out.tiles)} slices inverted in "
            f"{out.seconds:.0f} s -> {out.mosaic}")
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
    """The default repair from the marks, CoRM (the paper's method), their matched
    controls, and a group oracle (evaluation only).

    Every repair is paired with its matched control (same start, epochs, seed and early
    stopping on unchanged data), trained once and reused; the oracle reads the TRUE
    groups and is a reference row, not a product path.
    """
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.oracle import oracle_dfr_plan
    from slicelens.pipeline.repair import DEFAULT_STRATEGY, run_repair
    from slicelens.pipeline.retrain import apply_plan

    st.echo(f"[scanner 4] repair from the marks: {DEFAULT_STRATEGY} (the default) and CoRM "
            "(AttributionScanner), each beside its matched control:")
    repairs, controls = {}, {}
    for strategy, params, label in ((DEFAULT_STRATEGY, {}, f"{DEFAULT_STRATEGY} from marks (default)"),
                                    ("corm", CORM_PARAMS, "CoRM from marks")):
        def tell(_f, msg):
            if msg.startswith("matched control:"):
                st.echo(_indent(msg))
        try:
            plan, new = run_repair(st.workspace, st.run, strategy, params, st.cfg.train,
                                   progress=tell)
        except SliceLensError as e:  # e.g. the script marked no slice spurious
            st.echo(_indent(f"{label} skipped: {e}"))
            continue
        ctrl = st.workspace.run(new.record.control_run)
        repairs[label], repairs[f"matched control of {label}"] = new, ctrl
        controls[label] = f"matched control of {label}"
        st.echo(_indent(f"{new.id}: {plan.description}"))
    gt = load_ground_truth(st.paths.ground_truth)
    oracle = apply_plan(st.workspace, st.run, oracle_dfr_plan(st.run, gt), st.cfg.train,
                        name="oracle-dfr")
    repairs["group oracle: DFR with TRUE groups (evaluation only)"] = oracle
    st.echo(_indent(f"{oracle.id}: group oracle (reads the true groups; a reference, not a repair)"))
    main = next(iter(repairs.values()), oracle)
    st.results["repair"] = {"run": main.id, "plan": (main.record.plan or {})["strategy"],
                            "runs": {k: r.id for k, r in repairs.items()}, "controls": controls}
    st.results["repaired_run"] = main
    st.results["repairs"] = repairs
    st.results["controls"] = controls


def step_evaluate(st) -> None:
    """The default repair against the model before it AND its matched control: average,
    worst-group, worst-slice, clean / core / spurious accuracy, RCS, and a verdict."""
    from slicelens.pipeline.evaluate import evaluate_run, print_evaluation

    main = st.results["repaired_run"]
    rep = evaluate_run(st.workspace, main, baseline=st.run, slicer=SLICER,
                       ground_truth=st.paths.ground_truth)
    st.results["evaluation"] = {m.role: m.to_json() for m in rep.models}
    st.results["verdict"] = rep.verdict
    st.echo(f"[scanner 5] {main.id} on the test split, beside the model before repair and "
            "the matched control:")
    print_evaluation(rep, echo=lambda line: st.echo(_indent(line)), max_slices=6)
    ws = st.workspace.root
    st.echo("    Next:\n"
            f"      slicelens annotate --workspace {ws} --run {st.run.id} --list\n"
            f"      slicelens mosaic --workspace {ws} --run {st.run.id} --color-by spuriousness\n"
            f"      slicelens evaluate --workspace {ws} --run {main.id} --baseline {st.run.id}")


STEPS = [step_discover, step_slices, step_mosaic, step_annotate, step_repair, step_evaluate]


def _indent(text: str) -> str:
    return "    " + str(text).replace("\n", "\n    ")
