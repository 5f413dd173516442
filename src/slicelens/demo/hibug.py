"""Demo steps of the HiBug loop (in ``slicelens.demo.run.STEPS``).

1. :func:`step_hibug_attributes`: the built-in attributes, assigned offline;
2. :func:`step_hibug_bugs`: the top attribute bug slices, in words, with their types;
3. :func:`step_hibug_select`: repair by selection from the pool (labels revealed from
   the demo's hidden ground truth), retrain, before / after accuracies;
4. :func:`step_hibug_generate`: repair by composited debug images, retrain, before /
   after (HiBug prompts; the model's error on the images is printed too).

Each step reads what the earlier ones left in ``st`` and writes ``st.results["hibug"]``.
"""

from __future__ import annotations

import time

from slicelens.utils import table


def _indent(text: str) -> str:
    return "    " + text.replace("\n", "\n    ")


DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
#: what a person would name a cluster of each digit (the slice descriptions read them)
DIGIT_PLURALS = ["zeros", "ones", "twos", "threes", "fours", "fives", "sixes", "sevens",
                 "eights", "nines"]


def demo_attributes(st):
    """Assign the demo's attributes once (cached in the run): the slice steps describe
    their slices with them, so they run before the first slice table is printed.

    The image statistics, plus "digit": clusters of the digits' shape per class
    (``clusters`` backend, ``measure: shape``), each named once by a SIMULATED person who
    reads the hidden ground truth of its members (the digit more than half of them show;
    otherwise the cluster stays unnamed), as a person would name them from their images
    with ``slicelens attributes clusters --out names.yaml``."""
    from slicelens.attributes.base import Attribute, AttributeSpec
    from slicelens.attributes.cluster_names import cluster_keys, majority_names
    from slicelens.attributes.proposal import propose_attributes
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.pipeline.attributes import assign_attributes, name_clusters

    res = st.results.setdefault("hibug", {})
    t0 = time.perf_counter()
    # "background" (ImageNet zero-shot) costs one EfficientNet pass per image and sees
    # little in 32 px images; the demo uses the image-statistics attributes
    spec = propose_attributes("builtin", object="digit", semantic=False)
    spec = AttributeSpec(spec.attributes + [
        Attribute("digit", backend="clusters", measure="shape", phrase="{value}")],
        object="digit")
    matrix = assign_attributes(st.run, spec=spec, dataset=st.dataset)
    if "named" not in res:  # once per demo run
        keys = cluster_keys(st.run.path)
        digit = load_ground_truth(st.paths.ground_truth)["digit"]
        names = majority_names(keys[keys["attribute"] == "digit"], digit,
                               lambda d: DIGIT_PLURALS[int(d)])
        matrix = name_clusters(st.run, {"digit": names})
        res["named"] = {"digit": len(names)}
        res["clusters"] = {"digit": int(keys.loc[keys["attribute"] == "digit", "key"].nunique())}
    res["attributes"] = matrix.attributes
    res.setdefault("attribute_seconds", time.perf_counter() - t0)
    return matrix


def step_hibug_attributes(st) -> None:
    matrix = demo_attributes(st)
    res = st.results["hibug"]
    st.echo(f"[hibug 1] attributes assigned offline from image statistics and shape "
            f"clusters: {', '.join(matrix.attributes)} ({len(matrix)} assignments, "
            f"{res['attribute_seconds']:.0f} s)")
    if "named" in res:
        st.echo(f"    'digit': {res['clusters']['digit']} clusters of the digits' shape, "
                f"{res['named']['digit']} named once each by a SIMULATED person from the "
                "hidden ground truth (the digit most of its members show)")


def step_hibug_bugs(st, top: int = 8) -> None:
    from slicelens.pipeline.attributes import bug_rows, find_attribute_bugs

    ss = find_attribute_bugs(st.run)
    rows = bug_rows(ss, top)
    st.results.setdefault("hibug", {})["bugs"] = rows
    st.echo(f"[hibug 2] {len(ss.slices)} attribute bug slices on validation; the top {len(rows)}:")
    st.echo(_indent(table(rows, ["slice", "bug", "acc_range"])))
    for r in rows[:3]:
        st.echo(f"    {r['slice']}: {r['evidence']}")


def _repair(st, strategy: str, label: str, **params) -> dict:
    """Plan, retrain and show before / matched control / after (the control is the plain
    retrain with the same settings, shared with every repair of the same regime)."""
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import group_figures
    from slicelens.pipeline.repair import run_repair

    t0 = time.perf_counter()
    plan, new_run = run_repair(st.workspace, st.run, strategy, params, st.cfg.train, name=strategy)
    control = st.workspace.run(new_run.record.control_run)
    gt = load_ground_truth(st.paths.ground_truth)
    before, ctrl, after = (group_figures(r.samples, gt) for r in (st.run, control, new_run))
    rows = [{"model": m, "average accuracy": f["average_accuracy"],
             "worst-group accuracy": f["worst_group_accuracy"], "worst group": f["worst_group"]}
            for m, f in (("before", before), (f"matched control ({control.id})", ctrl),
                         (f"after {label}", after))]
    st.echo(_indent(plan.description))
    st.echo(_indent(table(rows)))
    d = after["worst_group_accuracy"] - ctrl["worst_group_accuracy"]
    st.echo(_indent(f"against its matched control: worst group {d:+.3f}, average "
                    f"{after['average_accuracy'] - ctrl['average_accuracy']:+.3f}"))
    return {"plan": plan.summary(), "run": new_run.id, "control": control.id, "before": before,
            "control_figures": ctrl, "after": after,
            "params": {k: v for k, v in plan.params.items() if k != "prompt_texts"},
            "seconds": time.perf_counter() - t0}


def step_hibug_select(st, budget: int | None = None) -> None:
    budget = budget or max(50, st.cfg.data.n_pool // 5)
    st.echo(f"[hibug 3] repair by selecting {budget} pool samples (HiBug App. 7.1; labels "
            "revealed from the demo's hidden ground truth)")
    st.results.setdefault("hibug", {})["select"] = _repair(
        st, "hibug-select", "selection", budget=budget, oracle=str(st.paths.ground_truth),
        oracle_column="true_label")


def step_hibug_generate(st, n_images: int | None = None) -> None:
    n_images = n_images or max(100, st.cfg.data.n_train // 6)
    st.echo(f"[hibug 4] repair by {n_images} composited debug images from bug-slice prompts "
            "(HiBug App. 7.1 Eq. 2)")
    res = _repair(st, "hibug-generate", "generation", n_images=n_images)
    st.results.setdefault("hibug", {})["generate"] = res
    st.echo(f"    base model error on the generated images: {res['params']['error_on_generated']:.1%}")
