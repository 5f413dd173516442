"""HiBug benchmark on planted-bug problems: bug descriptions, bug types, and repair.

For each problem drawn from the demo builder (background pair, correlation, rare digit,
flipped digit vary with the problem index): train SmallCNN, extract, then

1. **discovery** with two attribute sources, scored against the hidden ground truth of
   the validation split:
   - ``offline``: the built-in image-statistics attributes (what ``slicelens demo``
     uses; no digit identity attribute exists among them);
   - ``oracle``: the ground-truth digit, background and digit-size tercile as the
     attribute matrix, i.e. a perfect tagger (HiBug's BLIP on dcbench plays this role):
     it measures slicing and bug typing apart from tagging.
   A planted bug (spurious background, rare digit, flipped digit) is **described
   correctly** when one of the 10 top-ranked slices names it - its conditions include a
   background attribute (spurious) or the digit by its name (oracle rare / flip; a
   feature cluster nobody named is not words) - and at least 80% of its validation
   members belong to it (the named background value; the digit).
   **Bug-type accuracy**: over the top-10 slices that match a planted bug this way, the
   share whose type is the planted one (spurious / rare_case / wrong_labels).
2. **repair**, same budget for every method, retrained with ``apply_plan`` from
   scratch: selection by HiBug (App. 7.1) vs random vs core-set; generation with the
   compositor from HiBug prompts (Eq. 2) vs class-name prompts (Eq. 3). Test error and
   worst-group accuracy (class x background) on the test split, plus the base model's
   error on the generated images (HiBug Table 5 row 1).

Run: .venv/bin/python benchmarks/hibug.py [--problems 20] [--quick]
Writes benchmarks/results/hibug.json and hibug.png; prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np

from slicelens.demo.hibug import DIGIT_WORDS as DIGITS  # one list of digit words

RESULTS = Path(__file__).parent / "results"
PAIRS = [("grass", "brick"), ("gravel", "moon"), ("grass", "moon"), ("brick", "gravel")]
EXPECTED = {"spurious": "spurious", "rare": "rare_case", "flip": "wrong_labels"}
REPAIRS = [("hibug-select", "select"), ("random-select", "select"), ("coreset-select", "select"),
           ("hibug-generate", "generate"), ("class-name-generate", "generate")]


def problem(i: int, root: Path, quick: bool):
    from slicelens.data import load_dataset
    from slicelens.demo.data import DemoConfig, build_demo
    from slicelens.models import TrainConfig
    from slicelens.pipeline import extract_run
    from slicelens.pipeline.train import TrainJob, train_model
    from slicelens.store import Workspace

    rng = np.random.default_rng(2000 + i)
    rare, flip = rng.choice(10, 2, replace=False)
    n = 1 if quick else 2
    cfg = DemoConfig(seed=i, backgrounds=list(PAIRS[i % len(PAIRS)]),
                     correlation=float(rng.choice([0.9, 0.95])), rare_digit=int(rare),
                     rare_fraction=0.05, flip_digit=int(flip), flip_rate=0.3, image_size=24,
                     n_train=1200 * n, n_val=500 * n, n_test=500 * n, n_pool=500 * n)
    ws = Workspace(root / f"problem-{i:02d}")
    paths = build_demo(Path(ws.root) / "demo-data", cfg)
    spec, _ = train_model(ws, load_dataset(paths.manifest), TrainJob(input_size=24, name="m"),
                          TrainConfig(epochs=5 if quick else 10, patience=3, seed=i))
    return ws, extract_run(ws, paths.manifest, spec, name="bench"), cfg, paths


def discovery(ss, val, cfg) -> dict:
    """Which planted bugs the top-10 slices describe, and bug-type accuracy."""
    from slicelens.attributes.assign_clusters import is_default_name

    found = {b: False for b in EXPECTED}
    typed = []
    typed_by: dict[str, list[bool]] = {b: [] for b in EXPECTED}
    for s in ss.slices[:10]:
        members = val.loc[list(s.members)]
        # a cluster nobody named ("cluster 3 of class 5-9") is no words
        cond = {a: v for a, v in s.evidence.get("conditions", {}).items()
                if not is_default_name(v)}
        best, purity = None, 0.0
        if any("background" in a for a in cond):
            share = members["background"].value_counts(normalize=True)
            if share.index[0] in cfg.backgrounds[:2] and share.iloc[0] >= 0.8:
                best, purity = "spurious", share.iloc[0]
        if "digit" in cond:  # the words must name the digit
            for bug, d in (("rare", cfg.rare_digit), ("flip", cfg.flip_digit)):
                p = float((members["digit"] == d).mean())
                if cond["digit"] == DIGITS[d] and p >= 0.8 and p >= purity:
                    best, purity = bug, p
        if best:
            found[best] = True
            typed.append(s.bug_type == EXPECTED[best])
            typed_by[best].append(s.bug_type == EXPECTED[best])
    return {**{f"found_{b}": v for b, v in found.items()},
            "described": float(np.mean(list(found.values()))),
            "type_accuracy": float(np.mean(typed)) if typed else float("nan"),
            "typed_slices": len(typed),
            # per bug: the share of the slices describing it that carry its bug type
            **{f"type_{b}": float(np.mean(v)) if v else float("nan") for b, v in typed_by.items()},
            **{f"typed_{b}": len(v) for b, v in typed_by.items()}}


def oracle_matrix(run, gt):
    from slicelens.attributes.assign_stats import quantile_bins
    from slicelens.attributes.base import Attribute, AttributeSpec
    from slicelens.attributes.matrix import AttributeMatrix, from_codes
    from slicelens.pipeline.attributes import save_spec

    ids = run.samples["id"].to_numpy(str)
    g = gt.loc[ids]
    bgs = sorted(g["background"].unique())
    size, score = quantile_bins(g["digit_scale"].to_numpy(), 3)
    AttributeMatrix.concat([
        from_codes(ids, "digit", DIGITS, g["digit"].to_numpy(), np.ones(len(ids))),
        from_codes(ids, "background", bgs, np.searchsorted(bgs, g["background"]), np.ones(len(ids))),
        from_codes(ids, "object size", ["small", "medium", "large"], size, score)]).save(run.path)
    save_spec(run, AttributeSpec([Attribute("digit", DIGITS, phrase="{value}s"),
                                  Attribute("background", bgs, phrase="on {value} background"),
                                  Attribute("object size", ["small", "medium", "large"],
                                            phrase="{value} {object}s")], object="digit"))


def group_figures(run, gt) -> dict:
    from slicelens.evaluate.groups import average_accuracy, worst_group_accuracy
    from slicelens.evaluate.planted import join_ground_truth

    df = join_ground_truth(run.samples, gt)
    df = df[df["split"] == "test"]
    c = df["correct"].to_numpy(dtype=bool)
    return {"test_error": 1 - average_accuracy(c),
            "worst_group_accuracy": worst_group_accuracy(c, df["group"].to_numpy())[1]}


def run_problem(i: int, root: Path, quick: bool) -> dict:
    from slicelens.attributes.proposal import propose_attributes
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.pipeline.attributes import assign_attributes, find_attribute_bugs
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.repair.base import get_repair

    ws, run, cfg, paths = problem(i, root, quick)
    gt = load_ground_truth(paths.ground_truth)
    val = join_ground_truth(run.samples, gt).set_index("id")
    out = {"problem": i, "backgrounds": cfg.backgrounds, "rare_digit": cfg.rare_digit,
           "flip_digit": cfg.flip_digit, "original": group_figures(run, gt)}
    assign_attributes(run, spec=propose_attributes("builtin", object="digit", semantic=False))
    out["offline"] = discovery(find_attribute_bugs(run), val, cfg)
    budget, n_images = cfg.n_pool // 4, cfg.n_train // 5
    oracle = {"oracle": str(paths.ground_truth), "oracle_column": "true_label"}
    for name, kind in REPAIRS:
        if kind == "select":
            plan = get_repair(name).plan(ws, run, budget=budget, **oracle)
        else:
            prompts = "hibug" if name == "hibug-generate" else "class-name"
            plan = get_repair("hibug-generate").plan(ws, run, n_images=n_images, prompts=prompts)
        new = apply_plan(ws, run, plan, name=name)
        out[name] = group_figures(new, gt)
        if kind == "generate":
            out[name]["error_on_generated"] = plan.params["error_on_generated"]
    oracle_matrix(run, gt)
    out["oracle"] = discovery(find_attribute_bugs(run), val, cfg)
    return out


def summarise(rows: list[dict]) -> dict:
    def ms(vals):
        vals = [v for v in vals if v == v]
        return {"mean": statistics.fmean(vals) if vals else float("nan"),
                "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    disc = {src: {k: ms([r[src][k] for r in rows]) for k in
                  ("described", "found_spurious", "found_rare", "found_flip", "type_accuracy")}
            for src in ("offline", "oracle")}
    rep = {m: {k: ms([r[m][k] for r in rows if k in r[m]]) for k in
               ("test_error", "worst_group_accuracy", "error_on_generated") if k in rows[0][m]}
           for m in ["original"] + [n for n, _ in REPAIRS]}
    return {"discovery": disc, "repair": rep}


def show(summary: dict) -> None:
    print(f"\n{'attributes':<10}{'described':>11}{'spurious':>10}{'rare':>7}{'flip':>7}{'type acc':>10}")
    for src, d in summary["discovery"].items():
        print(f"{src:<10}{d['described']['mean']:>11.2f}{d['found_spurious']['mean']:>10.2f}"
              f"{d['found_rare']['mean']:>7.2f}{d['found_flip']['mean']:>7.2f}"
              f"{d['type_accuracy']['mean']:>10.2f}")
    print(f"\n{'model':<22}{'test error':>16}{'worst group':>16}{'error on gen.':>15}")
    for m, d in summary["repair"].items():
        gen = d.get("error_on_generated")
        print(f"{m:<22}{d['test_error']['mean']:>9.3f} ±{d['test_error']['sd']:.3f}"
              f"{d['worst_group_accuracy']['mean']:>9.3f} ±{d['worst_group_accuracy']['sd']:.3f}"
              + (f"{gen['mean']:>15.3f}" if gen else ""))


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rep = summary["repair"]
    names = list(rep)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for ax, key in zip(axes, ("test_error", "worst_group_accuracy"), strict=True):
        ax.bar(names, [rep[n][key]["mean"] for n in names], yerr=[rep[n][key]["sd"] for n in names])
        ax.set_title(key.replace("_", " "))
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="smaller problems, fewer epochs")
    ap.add_argument("--workdir", default=None, help="keep the workspaces here")
    args = ap.parse_args(argv)
    os.environ.setdefault("SLICELENS_QUIET", "1")
    root = Path(args.workdir or tempfile.mkdtemp(prefix="hibug-bench-"))
    rows = []
    for i in range(args.problems):
        rows.append(run_problem(i, root, args.quick))
        summary = summarise(rows)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "hibug.json").write_text(json.dumps(
            {"problems": len(rows), "quick": args.quick, "summary": summary, "rows": rows},
            indent=1, default=float))
        print(f"problem {i}: done", flush=True)
    show(summary)
    plot(summary, RESULTS / "hibug.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
