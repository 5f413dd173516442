"""Annotation, propagation and repair on planted-bug problems (BENCHMARKS.md "Repair").

The problems come from benchmarks/slice_discovery.py's generator (``problem_config``:
seed, background pair, correlation, rare / flipped digits vary) with more data and
training, because on its sizes SmallCNN stays a pure background classifier (test accuracy
0.50) and no repair can be told apart: ``--quick`` 1,500 training images of 24 px and 12
epochs, default the demo's 3,000 / 1,000 / 1,000 images of 32 px and 15 epochs
(patience 4, seed = problem). Per problem:

1. attribution slices of the validation split (``find_slices``);
2. a SCRIPTED truthful annotator (``slicelens.pipeline.scanner_demo.slice_truth``: a slice
   is spurious when its minority-background members are mostly predicted as their
   background's class, core when mostly by their digit) marks judgeable slices from both
   ends of the ranking; after 1, 2 and 3 marks the AUROC of the propagated spuriousness
   of the other judgeable slices against that truth (NaN when they are all one kind);
3. models, each scored on the test split (worst-group and average accuracy, groups =
   class x background; clean / core / spurious accuracy and RCS with ground-truth digit
   masks, sigma 0.25, 3 trials):
   - ERM: the problem's model; ERM (retrain): retrained on the unchanged data through
     ``apply_plan`` with the same settings (the reference for every other retraining,
     and for the time ratios);
   - CoRM (marks): noise on the spurious regions of the slices marked spurious;
   - CoRM (propagation): ... of the slices with propagated spuriousness > 0.5;
   - CoRM (GT masks): a diagnostic upper bound, not a product path: noise on the true
     background (ground-truth digit masks) of EVERY training image; it tells whether
     the noise itself can remove the shortcut when the masks are perfect;
   - JTT (our implementation, no group labels): an identification model trained for
     ``--jtt-epochs`` epochs; its training errors get weight ``--jtt-up``; retrain;
   - oracle (DFR-style, uses the TRUE groups): the base model's pooled features, a
     group-balanced logistic regression fitted on the validation split (sample weights
     1 / group size, standardised features, C = 1), applied on test.

Ground truth is read only for the scripted annotator, the oracle and the scores.

Run:  python benchmarks/scanner_repair.py [--problems 20] [--quick] [--sigma 0.5]
Writes benchmarks/results/scanner_repair.json and .png; prints the table.
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
METHODS = ("ERM", "ERM (retrain)", "CoRM (marks)", "CoRM (propagation)", "CoRM (GT masks)",
           "JTT", "oracle (DFR)")
METRICS = ("worst_group", "average", "clean", "core", "spurious", "rcs")


def build_problem(i: int, root: Path, quick: bool):
    """Data, ERM model and run of problem ``i``; returns (workspace, run, train config)."""
    from slice_discovery import problem_config

    from slicelens.data import load_dataset
    from slicelens.data.demo import build_demo
    from slicelens.models import TrainConfig
    from slicelens.pipeline import extract_run
    from slicelens.pipeline.train import TrainJob, train_model
    from slicelens.store import Workspace

    sizes = (dict(n_train=1500, n_val=600, n_test=600, image_size=24) if quick else
             dict(n_train=3000, n_val=1000, n_test=1000, image_size=32))
    cfg = problem_config(i, "quick" if quick else "default").model_copy(update=sizes)
    ws = Workspace(root / f"problem-{i:02d}")
    paths = build_demo(Path(ws.root) / "demo-data", cfg)
    train_cfg = TrainConfig(epochs=12 if quick else 15, patience=4, seed=i, num_threads=1)
    spec, res = train_model(ws, load_dataset(paths.manifest),
                            TrainJob(model="small-cnn", input_size=cfg.image_size, name="erm"),
                            train_cfg)
    run = extract_run(ws, paths.manifest, spec, name="erm")
    return ws, run, train_cfg, cfg, res.best_val_acc


def gt_background_masks(ws, run, gt) -> Path:
    """Noise masks = true background (not the dilated digit ink) of every training image."""
    from slicelens.evaluate.robustness import demo_digit_masks, dilate_masks
    from slicelens.store.atomic import save_npz

    s = run.samples
    tr = np.flatnonzero((s["split"] == "train").to_numpy())
    ids = s["id"].to_numpy(str)[tr]
    ds = run.dataset()
    imgs = ds.load_uint8(ds.index_of(ids), int(run.record["model"]["input_size"]))
    t = gt.loc[ids]
    core = dilate_masks(demo_digit_masks(imgs, t["digit_scale"], t["digit_x"], t["digit_y"]), 1)
    path = Path(ws.root) / "gt_background_masks.npz"
    save_npz(path, ids=ids, masks=(~core).astype(np.float32))
    return path


def propagation_auroc(ws, run, truth, order) -> dict:
    """Mark ``order`` one by one (truthfully); AUROC of the rest after 1, 2, 3 marks."""
    from sklearn.metrics import roc_auc_score

    from slicelens.feedback import annotate_slice, current_spuriousness

    out, t = {}, truth.set_index("slice_id")
    for k, sid in enumerate(order[:3], start=1):
        annotate_slice(ws, run, "attribution", sid, t.loc[sid, "truth"], "scripted", "bench")
        table = current_spuriousness(ws, run, "attribution").set_index("slice_id")
        rest = [s for s in t.index if t.loc[s, "truth"] and s not in order[:k]]
        score = table.loc[rest, "spuriousness"].to_numpy(float)
        y = (t.loc[rest, "truth"] == "spurious").to_numpy()
        ok = np.isfinite(score)
        out[k] = (float(roc_auc_score(y[ok], score[ok])) if len(set(y[ok])) == 2 else float("nan"))
    return out


def model_scores(ws, run, gt_path) -> dict:
    from slicelens.evaluate.robustness import RobustnessParams
    from slicelens.pipeline.evaluate import evaluate_run

    rep = evaluate_run(ws, run, slicer=None, ground_truth=gt_path,
                       params=RobustnessParams(trials=3))
    m = rep["models"][0]
    return {"worst_group": m["worst_group_accuracy"], "average": m["average"],
            **{k: m[k] for k in ("clean", "core", "spurious", "rcs")}}


def jtt_plan(run, epochs: int, up: float, seed: int):
    """JTT (Liu et al. 2021): upweight the training errors of a briefly trained model."""
    from slicelens.models import TrainConfig, TrainData, build_model, fit, predict_logits
    from slicelens.pipeline.retrain import training_set
    from slicelens.repair.plan import TrainingPlan

    spec = run.record["model"]
    x, y, _, ids = training_set(run.dataset(), TrainingPlan(), int(spec["input_size"]))
    module = build_model(spec["spec"], len(run.classes), int(spec["input_size"]))
    fit(module, TrainData(x, y), None, TrainConfig(epochs=epochs, seed=seed, num_threads=1))
    wrong = predict_logits(module, x).argmax(1).numpy() != y.numpy()
    return TrainingPlan(strategy="jtt", params={"epochs": epochs, "up": up},
                        weights={str(i): up for i in ids[wrong]},
                        description=f"JTT: {int(wrong.sum())} training errors upweighted x{up}")


def oracle_scores(run, gt, gt_path) -> dict:
    """DFR-style group-balanced last-layer retraining on validation features (true groups)."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from slicelens.evaluate.groups import worst_group_accuracy
    from slicelens.evaluate.robustness import (
        RobustnessParams,
        core_spurious_accuracy,
        demo_digit_masks,
    )

    s = run.samples
    feats = np.asarray(run.array("features"), np.float32)
    val = np.flatnonzero((s["split"] == "val").to_numpy())
    test = np.flatnonzero((s["split"] == "test").to_numpy())
    groups = gt.loc[s["id"].to_numpy(str), "group"].to_numpy(str)
    _, inv, counts = np.unique(groups[val], return_inverse=True, return_counts=True)
    scaler = StandardScaler().fit(feats[val])
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(feats[val]),
                                                      s["label"].to_numpy()[val],
                                                      sample_weight=1.0 / counts[inv])
    y = s["label"].to_numpy()[test]
    correct = lr.predict(scaler.transform(feats[test])) == y
    adapter = run.adapter()

    def predict(xb):
        f = adapter.forward_parts(xb)[0].mean(dim=(2, 3)).detach().numpy()
        return torch.from_numpy(lr.predict_log_proba(scaler.transform(f)))

    ds = run.dataset()
    size = int(run.record["model"]["input_size"])
    imgs = ds.load_uint8(ds.index_of(s["id"].to_numpy(str)[test]), size)
    t = gt.loc[s["id"].to_numpy(str)[test]]
    masks = demo_digit_masks(imgs, t["digit_scale"], t["digit_x"], t["digit_y"])
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(255)
    res = core_spurious_accuracy(predict, x, y, masks, RobustnessParams(trials=3))
    return {"worst_group": worst_group_accuracy(correct, groups[test])[1],
            "average": float(correct.mean()), "clean": res.clean, "core": res.core,
            "spurious": res.spurious, "rcs": res.rcs}


def run_problem(i: int, root: Path, args) -> dict:
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.pipeline import scanner_demo
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.pipeline.slices import find_slices
    from slicelens.repair.base import get_repair
    from slicelens.repair.plan import TrainingPlan

    ws, run, train_cfg, cfg, val_acc = build_problem(i, root, args.quick)
    gt_path = Path(ws.root) / "demo-data" / "ground_truth.csv"
    gt = load_ground_truth(gt_path)
    ss = find_slices(run, "attribution")
    truth = scanner_demo.slice_truth(ss, run.samples, gt, run.classes)
    order = scanner_demo.annotation_order(truth)
    row = {"problem": i, "erm_val_acc": val_acc,
           "config": cfg.model_dump(include={"backgrounds", "correlation", "seed"}),
           "n_slices": len(ss.slices), "n_judgeable": len(order),
           "auroc": propagation_auroc(ws, run, truth, order), "scores": {}, "seconds": {}}
    row["scores"]["ERM"] = model_scores(ws, run, gt_path)
    corm = {"sigma": args.sigma, "mask_threshold": args.mask_threshold}
    plans = {"ERM (retrain)": lambda: TrainingPlan(strategy="erm"),
             "CoRM (marks)": lambda: get_repair("corm").plan(ws, run, source="marks", **corm),
             "CoRM (propagation)": lambda: get_repair("corm").plan(ws, run, source="propagation",
                                                                   **corm),
             "CoRM (GT masks)": lambda: TrainingPlan(strategy="corm-gt", noise_sigma=args.sigma,
                                                     noise_masks=str(gt_background_masks(ws, run, gt))),
             "JTT": lambda: jtt_plan(run, args.jtt_epochs, args.jtt_up, i)}
    for name, make in plans.items():
        t0 = time.perf_counter()
        try:
            plan = make()
        except Exception as e:  # noqa: BLE001 - e.g. no slice marked spurious: record why
            row["scores"][name] = {"skipped": str(e)}
            continue
        new = apply_plan(ws, run, plan, train_cfg, init=args.init, name=plan.strategy)
        row["seconds"][name] = time.perf_counter() - t0
        row["scores"][name] = {**model_scores(ws, new, gt_path), "plan": plan.summary()}
    row["scores"]["oracle (DFR)"] = oracle_scores(run, gt, gt_path)
    return row


def summarise(rows: list[dict]) -> dict:
    def stat(vals):
        v = np.array([x for x in vals if x is not None and np.isfinite(x)], float)
        return {"mean": float(v.mean()) if v.size else float("nan"),
                "std": float(v.std()) if v.size else float("nan"), "n": int(v.size)}

    methods = {m: {k: stat([r["scores"].get(m, {}).get(k) for r in rows]) for k in METRICS}
               for m in METHODS}
    ref = [r["seconds"].get("ERM (retrain)") for r in rows]
    for m in METHODS[2:6]:
        ratios = [r["seconds"][m] / t for r, t in zip(rows, ref, strict=True)
                  if t and m in r["seconds"]]
        methods[m]["time_ratio"] = stat(ratios)
    wins = {m: stat([float(r["scores"][m]["worst_group"] > r["scores"]["ERM"]["worst_group"])
                     for r in rows if "worst_group" in r["scores"].get(m, {})]) for m in METHODS[1:]}
    auroc = {k: stat([r["auroc"].get(k, r["auroc"].get(str(k))) for r in rows]) for k in (1, 2, 3)}
    return {"methods": methods, "auroc": auroc, "beats_erm_worst_group": wins}


def plot(summary: dict, n: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, title in ((axes[0], "worst_group", "worst-group test accuracy"),
                           (axes[1], "rcs", "RCS (ground-truth masks)")):
        means = [summary["methods"][m][key]["mean"] for m in METHODS]
        stds = [summary["methods"][m][key]["std"] for m in METHODS]
        ax.bar(range(len(METHODS)), means, yerr=stds, capsize=3,
               color=["#888", "#aaa", "#4a8", "#2a6", "#9c9", "#c84", "#48c"])
        ax.set_xticks(range(len(METHODS)), METHODS, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{title}, mean ± std over {n} problems", fontsize=9)
    a = summary["auroc"]
    axes[2].errorbar([1, 2, 3], [a[k]["mean"] for k in (1, 2, 3)],
                     yerr=[a[k]["std"] for k in (1, 2, 3)], marker="o", capsize=3)
    axes[2].axhline(0.5, color="grey", ls="--", lw=1)
    axes[2].set_xticks([1, 2, 3])
    axes[2].set_xlabel("scripted truthful marks")
    axes[2].set_title("propagation AUROC of spuriousness", fontsize=9)
    axes[2].set_ylim(0, 1.05)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    from slicelens.cli.common import table

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=None, help="problems (default 20, quick 3)")
    ap.add_argument("--start", type=int, default=0, help="first problem index")
    ap.add_argument("--quick", action="store_true", help="smaller data and training")
    ap.add_argument("--sigma", type=float, default=0.25, help="CoRM noise sigma")
    ap.add_argument("--mask-threshold", type=float, default=0.5, help="CoRM mask threshold")
    ap.add_argument("--init", choices=["scratch", "finetune"], default="scratch")
    ap.add_argument("--jtt-epochs", type=int, default=1, help="JTT identification epochs")
    ap.add_argument("--jtt-up", type=float, default=20.0, help="JTT upweight of errors")
    ap.add_argument("--workdir", default=None, help="keep the problems' workspaces here")
    ap.add_argument("--out", default="scanner_repair", help="results file stem")
    args = ap.parse_args(argv)
    n = args.problems or (3 if args.quick else 20)
    os.environ.setdefault("SLICELENS_QUIET", "1")
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(HERE))
    root = Path(args.workdir or tempfile.mkdtemp(prefix="scanner-repair-"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(args.start, args.start + n):
        t0 = time.perf_counter()
        rows.append(run_problem(i, root, args))
        s = rows[-1]["scores"]
        print(f"problem {i} ({time.perf_counter() - t0:.0f}s): " + "  ".join(
            f"{m} wg={s[m].get('worst_group', float('nan')):.2f}" for m in METHODS), flush=True)
        summary = _write(rows, args, root)
    print()
    print(table([{"method": m, **{k: f"{v[k]['mean']:.3f} ± {v[k]['std']:.3f}" for k in METRICS},
                  "time/ERM": (f"{v['time_ratio']['mean']:.2f}" if "time_ratio" in v else "")}
                 for m, v in summary["methods"].items()]))
    print("\npropagation AUROC after 1/2/3 marks: " + ", ".join(
        f"{a['mean']:.3f} ± {a['std']:.3f} (n={a['n']})" for a in summary["auroc"].values()))
    print("share of problems where the method beats ERM on worst-group accuracy: " + ", ".join(
        f"{m} {w['mean']:.2f}" for m, w in summary["beats_erm_worst_group"].items()))
    return 0


def _write(rows: list[dict], args, root: Path) -> dict:
    summary = summarise(rows)
    out = {"problems": len(rows), "args": vars(args), "summary": summary, "rows": rows,
           "workdir": str(root)}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=1, default=str))
    plot(summary, len(rows), RESULTS / f"{args.out}.png")
    return summary


if __name__ == "__main__":
    sys.exit(main())
