"""Repair on planted-bug problems: every strategy against its matched control and two
group oracles (BENCHMARKS.md "Repair"; issue "Repair that fixes what a person marked").

Problems come from benchmarks/slice_discovery.py's generator (``problem_config``: the
background pair, correlation, rare / flipped digits vary with the problem index), at the
demo's size by default (3,000 / 1,000 / 1,000 images of 32 px, SmallCNN, 15 epochs,
patience 4). Per problem, ERM is trained once (seed = problem); per SEED, every
retraining (repairs, controls, oracles) and every strategy's own randomness use that
seed, so the spread over seeds is the spread of the repair, not of the data.

Per problem:
1. attribution slices of the validation split (``find_slices``);
2. a SCRIPTED truthful annotator (``slicelens.demo.scanner.slice_truth``; it
   reads the ground truth only to choose which slices to mark) marks judgeable slices
   from both ends of the ranking; after 1, 2 and 3 marks every marks-based strategy
   runs (a strategy with no spurious mark yet is recorded as skipped);
3. rows, each scored on the test split (worst-group and average accuracy, groups =
   class x background; clean / core / spurious accuracy and RCS with ground-truth digit
   masks, sigma 0.25, 3 trials):
   - ERM: the problem's model;
   - control: the matched control of each strategy (``slicelens.pipeline.control``: same
     start, epochs, seed and early stopping, unchanged data), one per regime and marks;
     every repair's gain is reported against ITS control (``gain_vs_control``);
   - each strategy in ``--strategies`` with 1, 2, 3 marks (``jtt`` needs none: once);
   - oracle (group-balance): group-balanced reweighting by the TRUE groups, early
     stopping on the true worst group; oracle (DFR): the head refitted on a true-group-
     balanced half of validation, C chosen on the other half by the true worst group.
   - DFR (uniform): the head refitted on the same half of validation with weight 1 and
     selection by accuracy: what DFR gives without any marks (an ablation).

Ground truth is read only by the scripted annotator, the oracles and the scores.

Run:  python benchmarks/scanner_repair.py [--problems 10] [--seeds 3] [--strategies dfr,...]
Writes benchmarks/results/<--out>.json and .png; prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
METRICS = ("worst_group", "average", "rcs")
MARK_STRATEGIES = ("dfr", "group-balance", "gdro", "counterfactual", "corm")


def build_problem(i: int, root: Path, size: str):
    """Data, ERM model and run of problem ``i``: (workspace, run, train config, data config)."""
    from slice_discovery import SIZES, problem_config

    from slicelens.data import load_dataset
    from slicelens.demo.data import build_demo
    from slicelens.models import TrainConfig
    from slicelens.pipeline import extract_run
    from slicelens.pipeline.train import TrainJob, train_model
    from slicelens.store import Workspace

    n_train, n_val, _, epochs, patience = SIZES[size]
    cfg = problem_config(i, size).model_copy(update={"n_test": n_val})
    ws = Workspace(root / f"problem-{i:02d}")
    paths = build_demo(Path(ws.root) / "demo-data", cfg)
    train_cfg = TrainConfig(epochs=epochs, patience=patience, seed=i, num_threads=1)
    spec, _ = train_model(ws, load_dataset(paths.manifest),
                          TrainJob(model="small-cnn", input_size=cfg.image_size, name="erm"), train_cfg)
    return ws, extract_run(ws, paths.manifest, spec, name="erm"), train_cfg, cfg


def scores(ws, run, gt_path) -> dict:
    from slicelens.evaluate.robustness import RobustnessParams
    from slicelens.pipeline.evaluate import evaluate_run

    m = evaluate_run(ws, run, slicer=None, ground_truth=gt_path,
                     params=RobustnessParams(trials=3)).models[0]
    return {"worst_group": m.worst_group_accuracy, "average": m.average, "rcs": m.rcs}


def oracle_plans(run, gt, seed: int, with_balance: bool) -> dict:
    """The group oracles' plans (TRUE groups) and the uniform DFR ablation."""
    from slicelens.evaluate.oracle import oracle_balance_plan, oracle_dfr_plan, uniform_dfr_plan

    plans = {"oracle (DFR)": oracle_dfr_plan(run, gt, seed), "DFR (uniform)": uniform_dfr_plan(run, seed)}
    if with_balance:
        plans["oracle (group-balance)"] = oracle_balance_plan(run, gt)
    return plans


def propagation_rows(ws, run, truth, order, k: int, base: dict) -> list[dict]:
    """After ``k`` marks: AUROC of each propagation method's score for the other judgeable
    slices against the truth, and how the unmarked slices' scores spread."""
    from sklearn.metrics import roc_auc_score

    from slicelens.feedback import PropagationParams, current_spuriousness

    rows = []
    for method in ("distance", "label-spreading"):
        t = current_spuriousness(ws, run, "attribution", PropagationParams(method=method))
        t = t.set_index("slice_id")
        rest = [s for s in truth.index if truth.loc[s, "truth"] and s not in order[:k]]
        score = t.loc[rest, "spuriousness"].to_numpy(float)
        y = (truth.loc[rest, "truth"] == "spurious").to_numpy()
        ok = np.isfinite(score)
        auroc = float(roc_auc_score(y[ok], score[ok])) if len(set(y[ok])) == 2 else float("nan")
        unmarked = t.loc[t["source"] != "human", "spuriousness"].to_numpy(float)
        unmarked = unmarked[np.isfinite(unmarked)]
        rows.append({**base, "seed": None, "method": f"propagation ({method})", "marks": k,
                     "auroc": auroc, "score_std": float(unmarked.std()) if len(unmarked) else None,
                     "share_above_half": float((unmarked > 0.5).mean()) if len(unmarked) else None})
    return rows


def run_problem(i: int, root: Path, args) -> list[dict]:
    """One row per (seed, method, marks) of problem ``i``."""
    from slicelens.demo import scanner
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.feedback import annotate_slice
    from slicelens.pipeline.control import matched_control
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.pipeline.slices import find_slices
    from slicelens.repair.base import get_repair

    ws, run, train_cfg, cfg = build_problem(i, root, args.size)
    gt_path = Path(ws.root) / "demo-data" / "ground_truth.csv"
    gt = load_ground_truth(gt_path)
    ss = find_slices(run, "attribution")
    truth = scanner.slice_truth(ss, run.samples, gt, run.classes).set_index("slice_id")
    order = scanner.annotation_order(truth.reset_index())
    base = {"problem": i, "config": cfg.model_dump(include={"backgrounds", "correlation"})}
    rows = [{**base, "seed": None, "method": "ERM", "marks": 0, **scores(ws, run, gt_path)}]
    done = {}

    def record(seed, method, marks, make, strategy_control=True):
        t0 = time.perf_counter()
        cfg_s = train_cfg.model_copy(update={"seed": seed})
        try:
            plan = make()
        except Exception as e:  # noqa: BLE001 - e.g. no slice marked spurious yet: say why
            rows.append({**base, "seed": seed, "method": method, "marks": marks, "skipped": str(e)})
            return
        new = apply_plan(ws, run, plan, cfg_s, init=args.init, name=plan.strategy)
        row = {**base, "seed": seed, "method": method, "marks": marks, "plan": plan.summary(),
               "seconds": time.perf_counter() - t0, **scores(ws, new, gt_path)}
        if strategy_control:
            ctrl = matched_control(ws, run, plan, cfg_s, init=args.init)
            key = ctrl.id
            if key not in done:
                done[key] = scores(ws, ctrl, gt_path)
                rows.append({**base, "seed": seed, "method": f"control ({method})", "marks": marks,
                             "run": ctrl.id, **done[key]})  # a record; summarise derives its rows
            row["control"] = ctrl.id
            row["gain_vs_control"] = {k: row[k] - done[key][k] for k in METRICS}
        rows.append(row)

    strategies = [s for s in args.strategies if s in MARK_STRATEGIES]
    for k, sid in enumerate(order[:3], start=1):
        annotate_slice(ws, run, "attribution", sid, truth.loc[sid, "truth"], "scripted", "bench")
        rows += propagation_rows(ws, run, truth, order, k, base)
        for seed in range(args.seeds):
            for name in strategies:
                params = _params(name, seed)
                record(seed, name, k, lambda n=name, p=params: get_repair(n).plan(ws, run, **p))
    for seed in range(args.seeds):
        if "jtt" in args.strategies:
            record(seed, "jtt", 0, lambda s=seed: get_repair("jtt").plan(ws, run, id_seed=s))
        for name, plan in oracle_plans(run, gt, seed, "oracle-balance" in args.strategies).items():
            record(seed, name, 0, lambda p=plan: p, strategy_control=False)
    return rows


def _params(name: str, seed: int) -> dict:
    if name == "corm":
        return {"source": "marks", "balance_seed": seed}
    if name == "counterfactual":
        return {"balance_seed": seed}
    if name == "dfr":
        return {"cut_seed": seed}
    return {}


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and spread (std over seeds of the per-seed mean over problems) per method x marks."""
    import pandas as pd

    rows = [r for r in rows if not str(r.get("method", "")).startswith("control (")]
    # each repair row carries its own control's scores (repair - gain): the control rows
    # are then averaged over exactly the same problems and seeds as their repair
    rows = rows + [{**r, "method": f"control of {r['method']}",
                    **{k: r[k] - r["gain_vs_control"][k] for k in METRICS},
                    "gain_vs_control": None} for r in rows if r.get("gain_vs_control")]
    df = pd.DataFrame([r for r in rows if "skipped" not in r and "auroc" not in r])
    out = []
    prop = pd.DataFrame([r for r in rows if "auroc" in r])
    for (method, marks), g in (prop.groupby(["method", "marks"], sort=False) if len(prop) else []):
        out.append({"method": method, "marks": int(marks), "n": int(g["auroc"].notna().sum()),
                    "auroc": float(g["auroc"].mean()), "auroc_std": float(g["auroc"].std(ddof=0)),
                    "score_std": float(g["score_std"].mean()),
                    "share_above_half": float(g["share_above_half"].mean())})
    for (method, marks), g in df.groupby(["method", "marks"], sort=False):
        row = {"method": method, "marks": int(marks), "n": len(g)}
        for k in METRICS:
            per_seed = g.groupby(g["seed"].fillna(-1))[k].mean()
            row[k] = float(g[k].mean())
            row[f"{k}_spread"] = float(per_seed.std(ddof=0)) if len(per_seed) > 1 else float("nan")
        if "gain_vs_control" in g and g["gain_vs_control"].notna().any():
            gains = pd.DataFrame(list(g["gain_vs_control"].dropna()))
            if len(gains):
                per_seed = gains["worst_group"].groupby(g["seed"].to_numpy()[:len(gains)]).mean()
                row["wg_gain_vs_control"] = float(gains["worst_group"].mean())
                row["wg_gain_spread"] = float(per_seed.std(ddof=0)) if len(per_seed) > 1 else float("nan")
        out.append(row)
    # each control right before its repair, by marks
    family = {}
    for r in out:
        family.setdefault(r["method"].replace("control of ", ""), len(family))
    return sorted(out, key=lambda r: ("auroc" not in r, family[r["method"].replace("control of ", "")],
                                      r["marks"], not r["method"].startswith("control of ")))


def plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = [r for r in summary if "worst_group" in r]
    labels = [f"{r['method']} ({r['marks']})" if r["marks"] else r["method"] for r in summary]
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * len(labels)), 4.5))
    ax.bar(range(len(labels)), [r["worst_group"] for r in summary],
           yerr=[0 if np.isnan(r["worst_group_spread"]) else r["worst_group_spread"] for r in summary],
           capsize=3, color=["#48c" if "oracle" in m else "#aaa" if "control" in m or m == "ERM"
                             else "#2a6" for m in labels])
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_title("worst-group test accuracy (mean over problems, bar = spread over seeds); "
                 "(k) = k scripted marks", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    from slicelens.cli.common import table

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=10)
    ap.add_argument("--start", type=int, default=0, help="first problem index")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of every retraining")
    ap.add_argument("--size", choices=["quick", "default", "demo"], default="demo")
    ap.add_argument("--strategies", default="dfr,group-balance,gdro,counterfactual,corm,jtt,"
                    "oracle-balance", type=lambda s: s.split(","),
                    help="comma-separated; oracle-balance = the full-retrain oracle")
    ap.add_argument("--init", choices=["scratch", "finetune"], default="scratch")
    ap.add_argument("--workdir", default=None, help="keep the problems' workspaces here")
    ap.add_argument("--out", default="scanner_repair", help="results file stem")
    args = ap.parse_args(argv)
    os.environ.setdefault("SLICELENS_QUIET", "1")
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(HERE))
    root = Path(args.workdir or tempfile.mkdtemp(prefix="scanner-repair-"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for i in range(args.start, args.start + args.problems):
        t0 = time.perf_counter()
        rows += run_problem(i, root, args)
        print(f"problem {i} done in {time.perf_counter() - t0:.0f}s", flush=True)
        summary = summarise(rows)
        out = {"args": vars(args), "summary": summary, "rows": rows, "workdir": str(root)}
        (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=1, default=str))
        plot(summary, RESULTS / f"{args.out}.png")
    print(table([{"method": r["method"], "marks": r["marks"], "n": r["n"],
                  **{k: f"{r[k]:.3f} ± {r[f'{k}_spread']:.3f}" for k in METRICS},
                  "wg gain vs control": (f"{r['wg_gain_vs_control']:+.3f} ± {r['wg_gain_spread']:.3f}"
                                         if "wg_gain_vs_control" in r else "")}
                 for r in summary if "worst_group" in r]))
    print(table([{k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in r.items()}
                 for r in summary if "auroc" in r]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
