"""The demo's closing summary: one table of every model it made, and next steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slicelens.utils import table

if TYPE_CHECKING:
    from slicelens.store.run import Run


def demo_summary(st) -> str:
    """What the demo found and did, as one table of every model it made, plus next steps.

    Every figure is recomputed from the runs' stored predictions on the test split and
    the demo's ground-truth groups (class x background); nothing is copied from a step.
    """
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import group_figures

    gt = load_ground_truth(st.paths.ground_truth)

    def figures(run: Run) -> dict:
        f = group_figures(run.samples, gt)
        return {"average": f["average_accuracy"], "worst group": f["worst_group_accuracy"],
                "group": f["worst_group"]}

    models = [("original model", st.run)]
    models += [(label, run) for label, run in (st.results.get("repairs") or {}).items()]
    hibug = st.results.get("hibug", {})
    controls = dict(st.results.get("controls") or {})
    made = [(hibug.get("select"), "HiBug selection from the pool"),
            (hibug.get("generate"), "HiBug generated debug images"),
            ((st.results.get("aaca") or {}).get("repair"), "AACA-sel debug images (fine-tuned)")]
    for res, label in made:
        if res:
            models.append((label, st.workspace.run(res["run"])))
            ctrl = res.get("control")
            if ctrl:
                name = next((lab for lab, r in models if r.id == ctrl), f"matched control ({ctrl})")
                if all(r.id != ctrl for _, r in models):
                    models.append((name, st.workspace.run(ctrl)))
                controls[label] = name
    rows = [{"model": label, "run": run.id, **figures(run)} for label, run in models]
    by_label = {r["model"]: r for r in rows}
    for label, ctrl in controls.items():
        if label in by_label and ctrl in by_label:
            d = by_label[label]["worst group"] - by_label[ctrl]["worst group"]
            by_label[label]["vs control"] = f"{d:+.3f}"
    lines = ["Summary on the test split (groups = class x background, from the hidden ground "
             "truth; a repair's gain is read against its matched control, 'vs control'):",
             table(rows, ["model", "run", "average", "worst group", "group", "vs control"])]
    if st.results.get("verdict"):
        lines.append(f"Default repair: {st.results['verdict']}")
    planted = st.results.get("planted", {}).get("bugs", [])
    if planted:
        lines.append("Planted bugs in the original model: " + "; ".join(
            f"{b['bug']}: {b['acc_affected']:.2f} vs {b['acc_rest']:.2f}" for b in planted))
    ws = st.workspace.root
    lines += ["Next:",
              f"  slicelens serve --workspace {ws}            # the web app: slices, mosaic, marks, attribution, repair",
              f"  slicelens slices --workspace {ws} --run {st.run.id}",
              f"  slicelens bugs --workspace {ws} --run {st.run.id} --evidence",
              f"  slicelens runs --workspace {ws}",
              f"  slicelens extract --workspace {ws} --data <your manifest.csv> --model <model.ts> --input-size <px>"]
    return "\n".join(lines)
