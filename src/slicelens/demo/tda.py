"""Demo step: attribute the demo model's largest group of errors to its training data.

Answers, on the planted-bug demo, "which training groups, under which action, would fix
these errors, and what does it do to overall accuracy?" for the largest confusion cell of
the validation split (the paper's App. C.3 choice of error group), then ranks training
samples by how likely their label is wrong. The hidden ground truth is read twice, and
only as stated: the pool's labels stand in for a person who labels the pool samples that
``add`` asks for, and the planted flips score the wrong-label ranking (evaluation).
"""

from __future__ import annotations

import numpy as np


def step_tda(st) -> None:
    """Run training-data attribution on ``st.run`` and print the top rows (``st.results["tda"]``)."""
    from sklearn.metrics import roc_auc_score

    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.pipeline.tda import attribute_errors, load_problem, wrong_label_ranking
    from slicelens.tda.groups import worst_confusion_cell
    from slicelens.tda.report import summary_rows
    from slicelens.utils import table

    gt = load_ground_truth(st.paths.ground_truth)
    pb = load_problem(st.run)
    cell = worst_confusion_cell(pb, "val")
    pool = pb.ids[pb.split_index("pool", labelled=False)]
    oracle = {i: st.run.classes.index(gt.at[i, "true_label"]) for i in pool if i in gt.index}
    res = attribute_errors(st.run, cell, oracle=oracle, top=8, resamples=5, seed=st.cfg.train.seed)
    b = res.baseline
    st.echo(f"[tda] training-data attribution for the errors '{res.error_group.name}' "
            f"({len(res.error_group.ids)} samples)\n"
            f"    head refit agrees with the model on {b['agreement_val']:.1%} of validation; "
            f"{res.metric} on the errors {b['metric_before']:.3f}; exact rows are head "
            f"retrainings over {b['baseline_retrains']} bootstrap resamples (pool labels for "
            "'add' come from the demo's hidden labels, standing in for a person)")
    shown = summary_rows(res.rows[:6])
    st.echo("    " + table(shown).replace("\n", "\n    "))
    ranking = wrong_label_ranking(st.run)
    flipped = gt.loc[ranking["id"], "flipped"].to_numpy(bool)
    auroc = {s: float(roc_auc_score(flipped, ranking[s])) for s in ("margin", "self_influence", "loss")
             if ranking[s].notna().all() and 0 < flipped.sum() < len(flipped)}
    st.results["tda"] = {"error_group": res.error_group.name, "n_errors": int(len(res.error_group.ids)),
                         "baseline": b, "top": [r.to_json() | {"group": r.group.name} for r in res.rows[:6]],
                         "wrong_label_auroc": auroc,
                         "flipped_in_top_100": int(flipped[:100].sum()) if len(flipped) else 0}
    if auroc:
        st.echo("    wrong-label detection, AUROC for the planted flipped labels (ground truth, "
                "evaluation only): " + ", ".join(f"{k} {v:.3f}" for k, v in auroc.items())
                + f" (loss = the model's own loss, the baseline); {int(flipped[:100].sum())} of "
                f"the top 100 are planted flips (of {int(np.sum(flipped))})")
    st.echo(f"    next: slicelens tda --workspace {st.workspace.root} --confusion "
            f"'{cell}' --apply 1   (retrains the model with row 1's plan)")
