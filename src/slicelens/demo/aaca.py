"""AACA on the planted-bug demo, with a SIMULATED crowd (no people in the loop).

The crowd reads the demo's hidden ground truth only to answer (as people would see the
image): each honest annotator names the image's background texture as the confounded
concept and the digit as the valid one, each in one of several spellings (synonyms),
and slips with probability ``slip`` (names the other background); spammers answer from
a list of unrelated words and fail the pre-test on gold items (images whose accepted
concepts are known). Everything downstream (pre-test, unification, vote, Eq. 1,
retraining, JSD) is the product's own code.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from slicelens.concepts.answers import ConceptAnswer
from slicelens.concepts.quality import GoldItem
from slicelens.utils import table

if TYPE_CHECKING:
    from slicelens.store.run import Run

SPELLINGS = {"brick": ["brick", "bricks", "brick wall"], "grass": ["grass", "lawn", "green grass"],
             "gravel": ["gravel", "pebbles", "small stones"], "moon": ["moon", "moon surface", "craters"]}
DIGIT = ["digit", "handwritten digit", "digit shape"]
JUNK = ["sky", "car", "tree", "water", "dog", "cloud", "person"]


def spellings(background: str) -> list[str]:
    return SPELLINGS.get(background, [background])


def simulate_crowd(run: Run, ground_truth, seed_ids, *, workers: int = 10, spammers: int = 2,
                   gold_items: int = 5, slip: float = 0.1, seed: int = 0):
    """Answers of ``workers`` annotators (``spammers`` of them) on every seed image and
    on ``gold_items`` gold images of validation; returns ``(answers, gold)``."""
    from slicelens.evaluate.groups import load_ground_truth

    gt = load_ground_truth(ground_truth) if not hasattr(ground_truth, "loc") else ground_truth
    rng = np.random.default_rng(seed)
    s = run.samples
    cls = dict(zip(s["id"].astype(str), s["label"], strict=True))
    backs = sorted(set(gt["background"]))
    val = s[(s["split"] == "val") & (s["label"] >= 0)]["id"].astype(str)
    pool = [i for i in val if i not in set(seed_ids)]
    gold_ids = [str(i) for i in rng.choice(pool, size=min(gold_items, len(pool)), replace=False)]
    gold = {i: GoldItem(i, set(spellings(gt.loc[i, "background"])), set(DIGIT)) for i in gold_ids}
    answers = []
    for w in range(workers):
        spam = w >= workers - spammers
        name = f"{'spam' if spam else 'worker'}-{w:02d}"
        for i in [*gold_ids, *seed_ids]:
            if spam:
                c, v = rng.choice(JUNK, 2, replace=False)
            else:
                b = gt.loc[i, "background"]
                if rng.random() < slip:
                    b = rng.choice([x for x in backs if x != b] or [b])
                c, v = rng.choice(spellings(b)), rng.choice(DIGIT)
            answers.append(ConceptAnswer(name, i, run.classes[int(cls[i])], [str(c)], [str(v)],
                                         float(rng.uniform(5, 60))))
    return answers, gold


def step_aaca(st, per_class: int = 10, k: int | None = None) -> None:
    """Seeds, simulated crowd, C / V, AACA-sel repair beside its control, JSD before/after."""
    from slicelens.concepts.runio import concept_summary
    from slicelens.concepts.store import save_answer
    from slicelens.demo.hibug import _indent
    from slicelens.pipeline.concepts import alignment_report, pick_seeds

    t0 = time.perf_counter()
    res = st.results.setdefault("aaca", {})
    ids = pick_seeds(st.run, per_class)
    answers, gold = simulate_crowd(st.run, st.paths.ground_truth, ids)
    for a in answers:
        save_answer(st.workspace, st.run, a)
    st.echo(f"[aaca 1] {len(ids)} seed images (misclassified first), {len(answers)} answers "
            "of a simulated crowd of 10 (2 spammers), 5 gold items")
    summ = concept_summary(st.workspace, st.run, gold)
    res["summary"] = {c: {k_: [e["concept"] for e in v[k_][:3]] for k_ in ("C", "V")}
                      for c, v in summ["classes"].items()}
    excluded = [w for w, r in summ["workers"].items() if not r["passed"]]
    st.echo(f"[aaca 2] pre-test excluded {', '.join(excluded) or 'nobody'}; "
            f"{len(summ['merges'])} synonyms unified")
    st.echo(_indent(table([{"class": c, "confounded C (top 3)": ", ".join(v["C"]),
                            "valid V (top 3)": ", ".join(v["V"])} for c, v in res["summary"].items()])))
    k = k or max(20, st.cfg.data.n_pool // 10)
    st.echo(f"[aaca 3] repair: AACA-sel, {k} pool images per class by priority (Eq. 1, "
            f"lambda 0.5; labels revealed from the demo's hidden ground truth), fine-tuned "
            f"{FINETUNE_EPOCHS} epochs beside a control fine-tuned the same way")
    res["repair"] = _finetune_repair(st, "aaca", "AACA-sel", variant="sel", k=k,
                                     candidates=3 * k, oracle=str(st.paths.ground_truth),
                                     oracle_column="true_label", gold=_gold_csv(st, gold))
    new = st.workspace.run(res["repair"]["run"])
    rep = alignment_report(st.run, new, st.workspace.root / "concepts")
    res["jsd_init_val"], res["jsd_aug_val"] = rep["jsd_init_val"], rep["jsd_aug_val"]
    st.echo(f"[aaca 4] concept alignment over the top {len(rep['concepts'])} validation "
            f"concepts (class x attribute value; JS divergence in bits): init||val "
            f"{rep['jsd_init_val']:.4f} -> aug||val {rep['jsd_aug_val']:.4f}; chart {rep['chart']}")
    b = rep.get("bound") or {}
    if b.get("lower") is not None:
        res["bound"] = {"greedy": b["jsd"], "lower": b["lower"], "k": b["k"]}
        st.echo(_indent(f"from these {b['candidates']} candidates at k = {b['k']} per class: "
                        f"reachable {b['jsd']:.4f} (greedy), and no choice goes below "
                        f"{b['lower']:.4f} (proven; fall at most {b['fall_at_most']:.0%})"))
    from slicelens.evaluate.groups import load_ground_truth

    gt = load_ground_truth(st.paths.ground_truth)
    res["minority_share"] = minority_share(gt, res["repair"]["added"])
    cands = ((new.record.get("plan") or {}).get("params") or {}).get("candidate_ids") or {}
    res["candidate_minority_share"] = minority_share(gt, list(cands)) if cands else None
    among = ("" if res["candidate_minority_share"] is None else
             f" (of the candidates they were chosen from: {res['candidate_minority_share']:.0%})")
    st.echo(_indent(f"{res['minority_share']:.0%} of the debug images sit in their class's "
                    f"minority group, the group the shortcut fails on{among}, by the hidden "
                    "ground truth. Eq. 1 favours images the model gets wrong (cross entropy "
                    "of their class) and keeps a class's new images away from where its "
                    "seeds' confounder was seen, a seed's confounder counting for the class the "
                    "model predicted (`--set confounded_in=label`: for its own label, as the "
                    "paper; docs/concepts.md)"))
    res["seconds"] = time.perf_counter() - t0
    st.echo(f"    ({res['seconds']:.0f} s)")


#: the demo fine-tunes (repair and control alike) instead of retraining from scratch,
#: to keep the step short
FINETUNE_EPOCHS = 3


def _finetune_repair(st, strategy: str, label: str, **params) -> dict:
    """Plan, fine-tune, and show before / matched control / after (same start, epochs,
    seed and early stopping on unchanged data)."""
    from slicelens.demo.hibug import _indent
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import group_figures
    from slicelens.pipeline.repair import run_repair

    cfg = st.cfg.train.model_copy(update={"epochs": FINETUNE_EPOCHS})
    plan, new_run = run_repair(st.workspace, st.run, strategy, params, cfg, init="finetune",
                               name=strategy)
    control = st.workspace.run(new_run.record.control_run)
    gt = load_ground_truth(st.paths.ground_truth)
    before, ctrl, after = (group_figures(r.samples, gt) for r in (st.run, control, new_run))
    st.echo(_indent(plan.description))
    st.echo(_indent(table([{"model": m, "average accuracy": f["average_accuracy"],
                            "worst-group accuracy": f["worst_group_accuracy"],
                            "worst group": f["worst_group"]}
                           for m, f in (("before", before), (f"matched control ({control.id})", ctrl),
                                        (f"after {label}", after))])))
    d = after["worst_group_accuracy"] - ctrl["worst_group_accuracy"]
    st.echo(_indent(f"against its matched control: worst group {d:+.3f}, average "
                    f"{after['average_accuracy'] - ctrl['average_accuracy']:+.3f}"))
    return {"plan": plan.summary(), "run": new_run.id, "control": control.id, "before": before,
            "control_figures": ctrl, "after": after, "added": sorted(plan.add or {})}


def minority_share(ground_truth, ids) -> float:
    """Share of ``ids`` in their class's minority group: the class|background group with
    the fewest training samples of that class (the hidden ground truth, a DataFrame with
    ``id``, ``split`` and ``group``)."""
    gt = ground_truth if ground_truth.index.name == "id" else ground_truth.set_index("id")
    train = gt[gt["split"] == "train"]
    cls = train["group"].str.split("|").str[0]
    minority = {c: g.value_counts().idxmin() for c, g in train["group"].groupby(cls)}
    groups = gt.loc[list(ids), "group"]
    if groups.empty:
        return float("nan")
    return float(np.mean([g == minority.get(g.split("|")[0]) for g in groups]))


def _gold_csv(st, gold) -> str:
    import csv

    path = st.workspace.root / "concepts" / "gold.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "confounded", "valid"])
        for g in gold.values():
            w.writerow([g.image_id, "; ".join(sorted(g.confounded)), "; ".join(sorted(g.valid))])
    return str(path)
