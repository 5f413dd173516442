"""AACA on planted-bug problems with a simulated crowd (issue 12 "Benchmark").

Per problem (benchmarks/slice_discovery.py's generator, ``--size`` quick by default, plus
an unlabeled pool of ``--pool`` images whose labels the demo's ground truth reveals):

1. ERM model, run, offline image-statistics attributes (the concept tagger);
2. 20 seed images per class (misclassified first); a SIMULATED crowd of 10 annotators,
   2 of them spammers who fail the pre-test on 5 gold items, honest ones slipping with
   probability 0.1, spellings drawn from synonym lists ("brick", "bricks", "brick wall")
   (:func:`slicelens.demo.aaca.simulate_crowd`);
3. C and V with and without quality control (pre-test) and synonym unification; the
   TRUE confounded concept of a class is the background its failures are drawn on (the
   other class's home background); we report whether it is in the top 3 (and top 1) of C;
4. repairs at ``--budgets`` images per class, all from the pool with revealed labels,
   each retrained from scratch and scored on test beside ONE matched control (every
   plan only adds pool samples, so they share the control's regime):
   random (random pool images of the class), similarity (pool images of the class
   nearest, in the model's pooled features, to the class's seed images; the offline
   stand-in for CLIP-similarity selection), AACA-app and AACA-sel (``aaca`` strategy,
   sel ranks 3x the budget of candidates by Eq. 1, lambda 0.5; its variants: which class
   a seed's confounded region counts for, ``-pred``, and H as the cross entropy of the
   image's class, ``-ce``, instead of the predictive entropy);
5. JS(init || val) and JS(aug || val) of every repaired training set (concept tagger:
   class x attribute value, top 10 validation concepts).

Ground truth is read by the simulated crowd, the label oracle and the scores only.

6. the greedy reachable JS(aug || val) at each budget (slicelens.concepts.bound; a
   diagnostic: can ANY choice of k images per class meet the JSD goal?) and the proven
   lower bound below which no choice goes (slicelens.concepts.bound_lower), over AACA's
   candidates and over the whole revealed pool;
7. what each plan adds: the share of its images on their class's minority background
   (``minority_share``: the group the shortcut fails on; AACA's candidates too). With
   ``--plans-only`` the plans are built and described without retraining.

Run:  python benchmarks/aaca.py [--problems 2 | --only 1] [--budgets 15,30,60]
                                [--size quick] [--seeds 2] [--first-seed 0]
                                [--methods random,AACA-app,AACA-sel-ce]
      python benchmarks/aaca.py --concepts-only --problems 4 --out aaca-concepts
Writes benchmarks/results/<--out>.json; prints the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def build(i: int, root: Path, size: str, pool: int, seed: int | None = None):
    from slice_discovery import SIZES, problem_config

    from slicelens.attributes.proposal import propose_attributes
    from slicelens.data import load_dataset
    from slicelens.demo.data import build_demo
    from slicelens.models import TrainConfig
    from slicelens.pipeline import extract_run
    from slicelens.pipeline.attributes import assign_attributes
    from slicelens.pipeline.train import TrainJob, train_model
    from slicelens.store import Workspace

    _, n_val, _, epochs, patience = SIZES[size]
    cfg = problem_config(i, size).model_copy(update={"n_test": n_val, "n_pool": pool})
    seed = i if seed is None else seed
    ws = Workspace(root / f"problem-{i:02d}-seed-{seed}")
    paths = build_demo(Path(ws.root) / "demo-data", cfg)
    ds = load_dataset(paths.manifest)
    train_cfg = TrainConfig(epochs=epochs, patience=patience, seed=seed)
    spec, _ = train_model(ws, ds, TrainJob(model="small-cnn", input_size=cfg.image_size, name="erm"),
                          train_cfg)
    run = extract_run(ws, paths.manifest, spec, name="erm")
    assign_attributes(run, spec=propose_attributes("builtin", object="digit", semantic=False),
                      dataset=ds)
    return ws, run, train_cfg, cfg, paths


def c_quality(answers, gold, cfg, classes) -> dict:
    """True confounder in the top 3 / top 1 of C, with / without QC and unification."""
    from slicelens.concepts.quality import summarize
    from slicelens.demo.aaca import spellings

    out = {}
    for qc in (True, False):
        for syn in (True, False):
            s = summarize(answers, gold if qc else {}, synonym_threshold=0.75 if syn else None)
            top3 = top1 = 0
            for k, cls in enumerate(classes):
                true = set(spellings(cfg.backgrounds[1 - k % 2]))
                C = [e["concept"] for e in s["classes"][cls]["C"]]
                top3 += bool(true & set(C[:3]))
                top1 += bool(C and C[0] in true)
            out[f"qc={qc}, synonyms={syn}"] = {"top3": top3 / len(classes), "top1": top1 / len(classes),
                                               "C": {c: [e["concept"] for e in s["classes"][c]["C"][:3]]
                                                     for c in classes}}
    return out


#: (row name, AACA variant, which class a seed's confounded regions penalise in Eq. 1,
#: H of Eq. 1: predictive entropy or the cross entropy of the image's class)
AACA_VARIANTS = [("AACA-app", "app", "label", "entropy"),
                 ("AACA-sel", "sel", "label", "entropy"),
                 ("AACA-sel-pred", "sel", "prediction", "entropy"),
                 ("AACA-sel-ce", "sel", "label", "cross-entropy"),
                 ("AACA-sel-pred-ce", "sel", "prediction", "cross-entropy")]
METHODS = ["random", "similarity"] + [v[0] for v in AACA_VARIANTS]


def baseline_plan(run, oracle, k: int, how: str, seed_ids, rng):
    from slicelens.concepts.runio import embed_images, load_images
    from slicelens.repair.plan import TrainingPlan

    s = run.samples
    pool = s[s["split"] == "pool"]["id"].astype(str).to_numpy()
    lab = np.array([oracle[i] for i in pool])
    add = {}
    for c in range(len(run.classes)):
        mine = pool[lab == c]
        if how == "random":
            pick = rng.choice(mine, size=min(k, len(mine)), replace=False)
        else:
            seeds = [i for i in seed_ids if int(s.set_index("id").loc[i, "label"]) == c]
            centre = embed_images(run, load_images(run, seeds)).mean(0)
            emb = embed_images(run, load_images(run, mine))
            cos = emb @ centre / (np.linalg.norm(emb, axis=1) * np.linalg.norm(centre) + 1e-12)
            pick = mine[np.argsort(-cos, kind="stable")[:k]]
        add.update({str(i): c for i in pick})
    return TrainingPlan(strategy=f"{how}-pool", add=add, description=f"{how}: {k} per class")


def bound_row(run, k: int, oracle, sel_plan, sets) -> dict:
    """The greedy reachable JS(aug || val) at ``k`` per class (slicelens.concepts.bound):
    over AACA's candidates D'_debug (what app / sel choose from) and over the whole
    revealed pool of each class (what random / similarity choose from). A diagnostic."""
    from slicelens.pipeline.concept_bound import reachable_bound

    s = run.samples
    pool = {str(i): int(oracle[i]) for i in s[s["split"] == "pool"]["id"].astype(str)
            if i in oracle}
    b_pool = reachable_bound(run, pool, k, sets=sets)
    b_cand = reachable_bound(run, sel_plan.params["candidate_ids"], k, sets=sets)
    return {"method": "bound (greedy)", "budget": k, "jsd_init_val": b_pool["jsd_init_val"],
            "jsd_bound_pool": b_pool["jsd"], "jsd_bound_candidates": b_cand["jsd"],
            "fall_bound_pool": b_pool["fall"], "fall_bound_candidates": b_cand["fall"],
            # proven: no choice of k per class goes below (slicelens.concepts.bound_lower)
            "jsd_lower_pool": b_pool["lower"], "jsd_lower_candidates": b_cand["lower"],
            "fall_at_most_pool": b_pool["fall_at_most"],
            "fall_at_most_candidates": b_cand["fall_at_most"],
            "candidates": b_cand["candidates"], "pool": b_pool["candidates"]}


def plan_jsd(run, plan, sets) -> dict:
    """JS(init || val) and JS(aug || val) of a pool plan without retraining: the tags of
    the added images join the initial training tags (what ``alignment_report`` computes
    from the repaired run)."""
    from slicelens.concepts.alignment import alignment
    from slicelens.concepts.runio import concept_tags

    added = concept_tags(run, list(plan.add), list(plan.add.values()))
    rep = alignment(sets["val"][0], sets["init"][0], sets["init"][0] + added)
    return {"jsd_init_val": rep["jsd_init_val"], "jsd_aug_val": rep["jsd_aug_val"]}


def _over_seeds(figs: list[dict]) -> dict:
    """Mean average / worst-group accuracy over training seeds, with each seed's value."""
    out = {m: float(np.mean([f[m] for f in figs])) for m in ("average", "worst_group")}
    out.update({f"{m}_seeds": [f[m] for f in figs] for m in ("average", "worst_group")})
    return out


def run_problem(i: int, root: Path, args, rep: int = 0) -> dict:
    """Problem ``i`` (its data fixed by ``i``) at seed ``i + 1000 * rep``: the ERM training,
    the simulated crowd, the random draws and AACA's seed (rep 0 = the original run)."""
    from slicelens.concepts.store import save_answer
    from slicelens.demo.aaca import _gold_csv, minority_share, simulate_crowd
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.pipeline.concept_alignment import tag_sets
    from slicelens.pipeline.concepts import alignment_report, pick_seeds
    from slicelens.pipeline.control import matched_control
    from slicelens.pipeline.repair import repair_figures
    from slicelens.pipeline.retrain import apply_plan
    from slicelens.repair.base import get_repair
    from slicelens.repair.select import load_oracle

    t0 = time.perf_counter()
    sd = i + 1000 * rep
    ws, run, train_cfg, cfg, paths = build(i, root, args.size, args.pool, sd)
    seeds = pick_seeds(run, 20)
    answers, gold = simulate_crowd(run, paths.ground_truth, seeds, seed=sd)
    for a in answers:
        save_answer(ws, run, a)
    out = {"problem": i, "seed": sd, "backgrounds": cfg.backgrounds, "correlation": cfg.correlation,
           "concepts": c_quality(answers, gold, cfg, run.classes)}
    if args.concepts_only:
        from slicelens.pipeline.repair import repair_figures as figures

        out["rows"] = [{"method": "ERM", "budget": 0, **figures(run, run, slicer="none")}]
        out["seconds"] = time.perf_counter() - t0
        print(f"  problem {i} seed {sd}: {json.dumps(out['concepts'])}", flush=True)
        return out

    class St:  # what _gold_csv reads
        workspace = ws
    gold_csv = _gold_csv(St, gold)
    oracle = load_oracle(str(paths.ground_truth), "true_label", run.classes)
    rng = np.random.default_rng(sd)
    rows = [{"method": "ERM", "budget": 0, **repair_figures(run, run, slicer="none")}]
    sets = tag_sets(run)
    # every plan (and its matched control) retrained at --train-seeds training seeds: the
    # first is the problem's seed (the original single run); figures are their means
    train_cfgs = [train_cfg.model_copy(update={"seed": sd + 7919 * j})
                  for j in range(args.train_seeds)]
    controls: dict[int, dict] = {}
    gt = load_ground_truth(paths.ground_truth)
    for k in args.budgets:
        plans = {"random": baseline_plan(run, oracle, k, "random", seeds, rng),
                 "similarity": baseline_plan(run, oracle, k, "similarity", seeds, rng)}
        for name, variant, within, h in AACA_VARIANTS:
            # AACA-sel always: its D'_debug feeds the bound and the candidates' row
            if name in args.methods or name == "AACA-sel":
                plans[name] = get_repair("aaca").plan(
                    ws, run, variant=variant, k=k, candidates=3 * k,
                    oracle=str(paths.ground_truth), oracle_column="true_label", gold=gold_csv,
                    seed=sd, confounded_in=within, uncertainty=h)
        if not args.no_bound:
            rows.append(bound_row(run, k, oracle, plans["AACA-sel"], sets))
            print(f"  problem {i} seed {sd} bound k={k}: {rows[-1]}", flush=True)
        # what each plan adds: its share in the class's minority group (the shortcut's)
        rows.append({"method": "AACA candidates", "budget": k, "minority_share": minority_share(
            gt, list(plans["AACA-sel"].params["candidate_ids"]))})
        for name, plan in plans.items():
            if name not in args.methods:
                continue
            if args.plans_only:
                rows.append({"method": name, "budget": k, **plan_jsd(run, plan, sets),
                             "minority_share": minority_share(gt, list(plan.add))})
                print(f"  problem {i} seed {sd} {name} k={k}: {rows[-1]}", flush=True)
                continue
            runs = []
            for j, cfg_j in enumerate(train_cfgs):
                runs.append(apply_plan(ws, run, plan, cfg_j, name=f"{name.lower()}-t{j}"))
                if j not in controls:
                    controls[j] = repair_figures(run, matched_control(
                        ws, run, plan, cfg_j, echo=lambda *_: None), "none")
                    if len(controls) == len(train_cfgs):
                        rows.append({"method": "control", "budget": 0,
                                     **_over_seeds(list(controls.values()))})
            al = alignment_report(run, runs[0])
            rows.append({"method": name, "budget": k,
                         **_over_seeds([repair_figures(run, r, "none") for r in runs]),
                         "jsd_init_val": al["jsd_init_val"], "jsd_aug_val": al["jsd_aug_val"],
                         "minority_share": minority_share(gt, list(plan.add))})
            print(f"  problem {i} seed {sd} {name} k={k}: {rows[-1]}", flush=True)
    out["rows"] = rows
    out["seconds"] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=2)
    ap.add_argument("--budgets", default="15,30,60", help="debug images per class")
    ap.add_argument("--size", default="quick")
    ap.add_argument("--pool", type=int, default=1200)
    ap.add_argument("--seeds", type=int, default=1,
                    help="seeds per problem (training, crowd, draws); 1 = seed i only")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="first seed repetition: seed i + 1000 * rep for rep >= this")
    ap.add_argument("--only", default=None,
                    help="comma-separated problem indices to run (instead of 0..problems-1)")
    ap.add_argument("--out", default="aaca")
    ap.add_argument("--concepts-only", action="store_true",
                    help="only the crowd / C-quality part (no repairs)")
    ap.add_argument("--plans-only", action="store_true",
                    help="build every plan and report what it adds (minority share), "
                         "without retraining")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated methods to retrain (default all: "
                         + ", ".join(METHODS) + "); ERM and the control always run")
    ap.add_argument("--train-seeds", type=int, default=1,
                    help="retrain every plan and its control at this many training seeds "
                         "(the problem's seed first) and report the means: training noise "
                         "alone moves the worst group by tens of points at these budgets")
    ap.add_argument("--no-bound", action="store_true",
                    help="skip the reachable-JSD bounds (step 6)")
    args = ap.parse_args(argv)
    args.budgets = [int(b) for b in args.budgets.split(",")]
    args.methods = args.methods.split(",")
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {METHODS}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        ids = ([int(x) for x in args.only.split(",")] if args.only else range(args.problems))
        reps = range(args.first_seed, args.first_seed + args.seeds)
        for i, rep in [(i, r) for i in ids for r in reps]:
            results.append(run_problem(i, Path(tmp), args, rep))
            (HERE / "results").mkdir(exist_ok=True)
            (HERE / "results" / f"{args.out}.json").write_text(json.dumps(
                {"args": vars(args), "problems": results}, indent=1, default=str))
    print(json.dumps(summarise(results), indent=1))
    return 0


def summarise(results) -> dict:
    """Mean (and standard deviation, ``<metric>_sd``) over problems and seeds per
    (method, budget), the count ``n``, and the concept-quality shares."""
    agg: dict = {}
    for r in results:
        for row in r["rows"]:
            a = agg.setdefault(f"{row['method']} k={row['budget']}", {})
            for m in ("worst_group", "average", "jsd_init_val", "jsd_aug_val",
                      "jsd_bound_pool", "jsd_bound_candidates", "jsd_lower_pool",
                      "jsd_lower_candidates", "minority_share"):
                if row.get(m) is not None:
                    a.setdefault(m, []).append(row[m])
    table = {k: {**{m: float(np.mean(v)) for m, v in d.items()},
                 **{f"{m}_sd": float(np.std(v)) for m, v in d.items()},
                 "n": len(d.get("average", []))} for k, d in agg.items()}
    conc = {k: float(np.mean([r["concepts"][k]["top3"] for r in results]))
            for k in results[0]["concepts"]}
    return {"repairs": table, "true_confounder_in_top3": conc, "wins": wins(results)}


def wins(results) -> dict:
    """For every AACA-sel variant against AACA-app and random: in how many (problem, seed,
    budget) settings it is higher on both figures, and on the worst group alone."""
    out: dict = {}
    for r in results:
        by = {(row["method"], row["budget"]): row for row in r["rows"] if "average" in row}
        for (m, k), row in by.items():
            if not m.startswith("AACA-sel"):
                continue
            for other in ("AACA-app", "random"):
                o = by.get((other, k))
                if o is None:
                    continue
                w = out.setdefault(f"{m} vs {other}", {"settings": 0, "both": 0, "worst_group": 0})
                w["settings"] += 1
                w["both"] += int(row["average"] > o["average"] and row["worst_group"] > o["worst_group"])
                w["worst_group"] += int(row["worst_group"] > o["worst_group"])
    return out


if __name__ == "__main__":
    sys.exit(main())
