"""Training-data attribution on planted-bug demo problems (BENCHMARKS.md "Training-data
attribution"). For each demo seed (data and model):

1. wrong-label detection: AUROC of the ranking for the planted flipped training labels,
   for the head's cross-validated margin, its self-influence, and the model's own loss
   (the plain baseline); goal >= 0.95.
2. group effects: for the error group "largest confusion cell of val", the Spearman
   correlation between the fast estimate (one Newton step through the head Hessian; and
   the plain first-order influence function as an ablation) and the effect measured by
   exactly retraining the head, over (group, action) pairs of the candidate groups and of
   held-out random training subsets (1-20 % of train) that the method never ranks;
   goal >= 0.9. Cost: exact = one retraining per pair, estimate = none; time ratio.
3. repair: for the planted spurious bug (val errors in the minority class|background
   groups) and the rare bug (val errors on the rare digit), the top-ranked row is applied;
   test worst-group and average accuracy with the head refit, and (unless --no-model)
   with the whole model retrained by ``apply_plan`` against a baseline retrained on the
   unchanged data with the same settings.
The ground truth is read only to define these evaluation groups, score the ranking, and
play the oracle that labels pool samples for ``add``.

Usage: python benchmarks/tda.py [--seeds 0 1 2] [--quick] [--no-model]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def demo_run(seed: int, quick: bool, root: Path):
    from slicelens.demo.data import DemoConfig
    from slicelens.demo.run import DemoRun, run_demo
    from slicelens.models import TrainConfig
    from slicelens.store import Workspace

    size = dict(n_train=1500, n_val=500, n_test=500, n_pool=500) if quick else {}
    cfg = DemoRun(data=DemoConfig(seed=seed, **size),
                  train=TrainConfig(epochs=8 if quick else 15, patience=4, seed=seed))
    path = root / f"ws-{seed}"
    if (path / "workspace.json").exists():          # --keep: reuse the trained demo
        from types import SimpleNamespace

        from slicelens.demo.run import DemoState

        ws = Workspace(path, create=False)
        run = next(r for r in ws.runs() if r.id.endswith("-demo"))
        return DemoState(ws, cfg, paths=SimpleNamespace(ground_truth=path / "demo-data" / "ground_truth.csv"),
                         run=run)
    return run_demo(Workspace(path), cfg, echo=lambda *_: None)


def wrong_labels(st, gt) -> dict:
    from sklearn.metrics import roc_auc_score

    from slicelens.pipeline.tda import wrong_label_ranking

    df = wrong_label_ranking(st.run)
    flipped = gt.loc[df["id"], "flipped"].to_numpy(bool)
    k = int(flipped.sum())
    out = {"n_flipped": k, "n_train": len(df)}
    for s in ("margin", "self_influence", "loss"):
        order = np.argsort(-df[s].to_numpy(), kind="stable")
        out[s] = {"auroc": float(roc_auc_score(flipped, df[s])),
                  "precision_at_k": float(flipped[order[:k]].mean())}
    return out


def group_effects(st, rng) -> dict:
    """Estimate vs exact head retraining over (group, action) pairs."""
    from scipy.stats import spearmanr

    from slicelens.tda.actions import make_change
    from slicelens.tda.estimate import Targets, _grad_shift, exact_effects, influence_effects
    from slicelens.tda.groups import (
        TrainingGroup,
        candidate_groups,
        confusion_error_group,
        worst_confusion_cell,
    )
    from slicelens.tda.head import HessianSolver
    from slicelens.tda.params import ACTIONS, TDAParams
    from slicelens.tda.problem import HeadProblem, fit_baseline

    pb = HeadProblem.from_run(st.run)
    base = fit_baseline(pb)
    err = confusion_error_group(pb, worst_confusion_cell(pb))
    e, val = pb.positions(err.ids), pb.split_index("val")
    tg = Targets(pb.X(e), pb.labels[e], pb.preds[e], pb.X(val), pb.labels[val], "loss")
    tr = pb.split_index("train")
    groups = candidate_groups(pb, err)
    held_out = [TrainingGroup(f"random {f:.0%} #{i}", "sample", pb.ids[rng.choice(tr, int(f * len(tr)), replace=False)])
                for i, f in enumerate(rng.uniform(0.01, 0.2, 15))]
    pool = pb.split_index("pool", labelled=False)
    oracle = {"pos": pool, "labels": st.pool_labels}
    p = TDAParams()
    out = {}
    for name, gs in (("candidates", groups), ("held_out", held_out)):
        changes = [make_change(a, pb.positions(g.ids), pb, base, p, oracle) for g in gs for a in ACTIONS]
        acts = np.array([c.action for c in changes])
        t0 = time.perf_counter()
        est = influence_effects(base, changes, tg, pb.X)[:, 0]
        t_est = time.perf_counter() - t0
        solver = HessianSolver(base.theta, base.X, np.ones(base.n0), base.n0, base.lam)
        G = np.stack([_grad_shift(c, base.theta, base.X, base.y, pb.X) for c in changes])
        first = np.array([tg.measure(base.theta + d)[0] for d in -solver.solve(G) / base.n0])
        first -= tg.measure(base.theta)[0]
        full = [(np.ones(base.n0), base.theta, tg.measure(base.theta))]   # one retraining per pair
        t0 = time.perf_counter()
        exact = np.array([x.effect.mean for x in exact_effects(base, changes, tg, full, pb.X)])
        t_exact = time.perf_counter() - t0
        out[name] = {
            "n_pairs": len(changes), "n_groups": len(gs),
            "spearman": float(spearmanr(est, exact)[0]),
            "spearman_first_order": float(spearmanr(first, exact)[0]),
            "spearman_by_action": {a: float(spearmanr(est[acts == a], exact[acts == a])[0]) for a in ACTIONS},
            "retrainings_exact": len(changes), "retrainings_estimate": 0,
            "time_ratio_exact_over_estimate": t_exact / t_est, "seconds_estimate": t_est,
            "pairs": np.c_[est, exact].tolist(), "actions": acts.tolist()}
    # single samples (leave-one-out): where the estimate's batch solve pays off
    singles = [TrainingGroup(str(i), "sample", pb.ids[[i]]) for i in rng.choice(tr, 200, replace=False)]
    changes = [make_change("remove", pb.positions(g.ids), pb, base, p) for g in singles]
    t0 = time.perf_counter()
    est = influence_effects(base, changes, tg, pb.X)[:, 0]
    t_est = time.perf_counter() - t0
    full = [(np.ones(base.n0), base.theta, tg.measure(base.theta))]
    t0 = time.perf_counter()
    exact = np.array([x.effect.mean for x in exact_effects(base, changes, tg, full, pb.X)])
    out["single_samples"] = {"n_pairs": len(changes), "spearman": float(spearmanr(est, exact)[0]),
                             "time_ratio_exact_over_estimate": (time.perf_counter() - t0) / t_est}
    out["agreement_val"] = base.agreement_val
    return out


def repair(st, gt, model: bool) -> dict:
    """Apply the top row for the spurious and the rare bug; worst-group accuracy on test."""
    from slicelens.evaluate.groups import average_accuracy, worst_group_accuracy
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.pipeline.tda import attribute_errors, load_problem
    from slicelens.repair.plan import TrainingPlan
    from slicelens.tda.head import fit_head, probs
    from slicelens.tda.problem import fit_baseline
    from slicelens.tda.result import to_plan

    pb = load_problem(st.run)
    base = fit_baseline(pb)
    test = pb.split_index("test")
    groups = gt.loc[pb.ids[test], "group"].to_numpy(str)
    home = {c: st.cfg.data.backgrounds[i % 2] for i, c in enumerate(pb.classes)}
    val = pb.split_index("val")
    wrong = val[pb.preds[val] != pb.labels[val]]
    g = gt.loc[pb.ids[wrong]]
    bugs = {"spurious": pb.ids[wrong][(g["background"] != g["true_label"].map(home)).to_numpy()],
            "rare": pb.ids[wrong][(g["digit"] == st.cfg.data.rare_digit).to_numpy()]}

    def scores(correct):
        return {"worst_group": worst_group_accuracy(correct, groups)[1], "average": average_accuracy(correct)}

    out = {"erm_model": scores(pb.preds[test] == pb.labels[test]),
           "erm_head": scores(probs(base.theta, pb.X(test)).argmax(1) == pb.labels[test])}
    oracle = dict(zip(pb.ids[pb.split_index("pool", labelled=False)], st.pool_labels.tolist(), strict=True))
    retrained = None
    for bug, ids in bugs.items():
        if len(ids) == 0:
            continue
        res = attribute_errors(st.run, ids, oracle=oracle, top=5, resamples=3, save=False)
        row = res.rows[0]
        plan = to_plan(row)
        X, y, w = _plan_arrays(pb, base, plan)
        th = fit_head(X, y, n_classes=pb.n_classes, lam=base.lam, w=w, n0=base.n0, init=base.theta)
        entry = {"n_errors": len(ids), "row": {"group": row.group.name, "action": row.action,
                                                "effect": row.effect, "p_value": row.p_value,
                                                "val_acc_change": row.global_effect},
                 "head_after": scores(probs(th, pb.X(test)).argmax(1) == pb.labels[test])}
        if model:
            retrained = retrained or apply_plan(st.workspace, st.run, TrainingPlan(strategy="baseline"))
            new = apply_plan(st.workspace, st.run, plan, name=f"tda-{bug}")
            entry["model_baseline"] = _run_scores(retrained, test, groups, scores)
            entry["model_after"] = _run_scores(new, test, groups, scores)
        out[bug] = entry
    return out


def _plan_arrays(pb, base, plan):
    ids = pb.ids[base.train]
    y, w = base.y.copy(), np.ones(base.n0)
    index = {s: i for i, s in enumerate(ids)}
    for s in plan.remove:
        w[index[s]] = 0.0
    for s, lab in plan.relabel.items():
        y[index[s]] = lab
    for s, f in plan.weights.items():
        w[index[s]] = f
    X = base.X
    if plan.add:
        X = np.vstack([X, pb.X(pb.positions(list(plan.add)))])
        y = np.concatenate([y, list(plan.add.values())])
        w = np.concatenate([w, np.ones(len(plan.add))])
    return X, y, w


def _run_scores(run, test, groups, scores):
    s = run.samples
    return scores(s["correct"].to_numpy(bool, na_value=False)[test])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--quick", action="store_true", help="half-size data, 8 epochs")
    ap.add_argument("--no-model", action="store_true", help="skip whole-model retraining")
    ap.add_argument("--keep", default=None, help="keep the demo workspaces in this directory")
    ap.add_argument("--out", default="tda", help="results file stem in benchmarks/results/")
    args = ap.parse_args()
    os.environ.setdefault("SLICELENS_QUIET", "1")
    from slicelens.evaluate.groups import load_ground_truth

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-tda-"))
    results = {"seeds": {}, "quick": args.quick}
    try:
        for seed in args.seeds:
            t0 = time.perf_counter()
            st = demo_run(seed, args.quick, root)
            gt = load_ground_truth(st.paths.ground_truth)
            pool = st.run.samples.loc[st.run.samples["split"] == "pool", "id"]
            st.pool_labels = np.array([st.run.classes.index(v) for v in gt.loc[pool, "true_label"]])
            r = {"wrong_labels": wrong_labels(st, gt),
                 "group_effects": group_effects(st, np.random.default_rng(seed)),
                 "repair": repair(st, gt, not args.no_model),
                 "seconds": 0.0}
            r["seconds"] = time.perf_counter() - t0
            results["seeds"][str(seed)] = r
            _print_seed(seed, r)
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    _plot(results, RESULTS / f"{args.out}.png")
    print(f"\nwrote {RESULTS / (args.out + '.json')} and {RESULTS / (args.out + '.png')}")


def _print_seed(seed, r) -> None:
    wl, ge, rp = r["wrong_labels"], r["group_effects"], r["repair"]
    print(f"\n== demo seed {seed} ({r['seconds']:.0f} s; head agrees with model on "
          f"{ge['agreement_val']:.1%} of val)")
    print(f"wrong labels ({wl['n_flipped']} planted flips / {wl['n_train']}): AUROC margin "
          f"{wl['margin']['auroc']:.3f}, self-influence {wl['self_influence']['auroc']:.3f}, loss "
          f"(baseline) {wl['loss']['auroc']:.3f}; precision@k {wl['margin']['precision_at_k']:.2f} / "
          f"{wl['self_influence']['precision_at_k']:.2f} / {wl['loss']['precision_at_k']:.2f}")
    for name in ("candidates", "held_out"):
        g = ge[name]
        by = ", ".join(f"{a} {v:.2f}" for a, v in g["spearman_by_action"].items())
        print(f"group effects ({name}, {g['n_pairs']} pairs): Spearman estimate vs exact "
              f"{g['spearman']:.3f} (first-order IF {g['spearman_first_order']:.3f}); {by}; "
              f"exact costs {g['retrainings_exact']} retrainings, {g['time_ratio_exact_over_estimate']:.1f}x "
              f"the estimate's time")
    ss = ge["single_samples"]
    print(f"single samples ({ss['n_pairs']} removals): Spearman {ss['spearman']:.3f}; exact costs "
          f"{ss['n_pairs']} retrainings, {ss['time_ratio_exact_over_estimate']:.0f}x the estimate's time")
    base = rp["erm_model"]
    print(f"repair (test): ERM model worst-group {base['worst_group']:.3f}, average {base['average']:.3f}; "
          f"head refit {rp['erm_head']['worst_group']:.3f}")
    for bug in ("spurious", "rare"):
        if bug not in rp:
            continue
        e = rp[bug]
        line = (f"  {bug}: top row = {e['row']['action']} '{e['row']['group']}' -> head worst-group "
                f"{e['head_after']['worst_group']:.3f} (avg {e['head_after']['average']:.3f})")
        if "model_after" in e:
            line += (f"; whole model worst-group {e['model_baseline']['worst_group']:.3f} -> "
                     f"{e['model_after']['worst_group']:.3f} (avg {e['model_baseline']['average']:.3f} -> "
                     f"{e['model_after']['average']:.3f})")
        print(line)


def _plot(results, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = list(results["seeds"])
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    first = results["seeds"][seeds[0]]["group_effects"]
    for name, marker in (("candidates", "o"), ("held_out", "x")):
        pairs = np.asarray(first[name]["pairs"])
        acts = np.asarray(first[name]["actions"])
        for a in np.unique(acts):
            m = acts == a
            ax[0].scatter(pairs[m, 1], pairs[m, 0], s=14, marker=marker, label=f"{a} ({name})")
    ax[0].set(xlabel="exact head retraining: loss change", ylabel="estimate: loss change",
              title=f"group effects, seed {seeds[0]}")
    ax[0].legend(fontsize=6)
    w = 0.25
    for i, s in enumerate(("margin", "self_influence", "loss")):
        ax[1].bar(np.arange(len(seeds)) + (i - 1) * w,
                  [results["seeds"][k]["wrong_labels"][s]["auroc"] for k in seeds], w, label=s)
    ax[1].axhline(0.95, color="k", lw=0.8, ls="--")
    ax[1].set(xticks=range(len(seeds)), xticklabels=seeds, ylim=(0.5, 1), xlabel="seed",
              ylabel="AUROC", title="wrong-label detection")
    ax[1].legend(fontsize=7)
    labels, before, after = [], [], []
    for k in seeds:
        rp = results["seeds"][k]["repair"]
        for bug in ("spurious", "rare"):
            if bug in rp:
                key = ("model_baseline", "model_after") if "model_after" in rp[bug] else ("erm_head", "head_after")
                labels.append(f"{bug[:4]} s{k}")
                before.append((rp[bug] if key[0] in rp[bug] else rp)[key[0]]["worst_group"])
                after.append(rp[bug][key[1]]["worst_group"])
    x = np.arange(len(labels))
    ax[2].bar(x - 0.2, before, 0.4, label="before")
    ax[2].bar(x + 0.2, after, 0.4, label="after top row")
    ax[2].set(xticks=x, xticklabels=labels, ylabel="test worst-group accuracy", title="applying the top row")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
