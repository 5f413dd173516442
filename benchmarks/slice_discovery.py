"""Slice-discovery benchmark: planted bugs found by each slicer, and mosaic time.

For each of N planted-bug problems drawn from the demo builder (seed, background pair,
correlation, rare digit and fraction, flipped digit and rate vary), train SmallCNN,
extract a run, fit every slicer on the validation split and score it against three
ground-truth groups of that split (hidden from the slicers):

* spurious: the minority class|background group (class on the other class's home
  background) with the lower validation accuracy;
* rare: every sample of the rare digit;
* flip: every sample of the digit whose training labels were partly flipped (the
  validation labels are clean; the bug shows as errors on that digit).

Per bug and slicer:

* best match: the slice with the highest F1 against the group; its precision, recall
  and rank in the slicer's own ranking;
* P@10 (Domino's dcbench precision-at-k, k=10): for each of the slicer's 10 top-ranked
  slices, the share of its 10 most typical members (the order the slicer lists them:
  nearest the K-Means centroid / highest mixture responsibility) that belong to the
  group; P@10 is the best of these. The bug counts as FOUND when P@10 >= 0.8. So a bug
  is found only if one of the 10 slices a person would look at first is, at its core,
  made of that group.

Also (issue 13): the bug type of the slice that reaches the best P@10 (bug-type
accuracy: spurious / rare_case / wrong_labels expected); the ``wrong-labels`` slicer
fitted on the TRAINING split, scored the same way against the training samples whose
labels were flipped; with ``--words``, each slicer's slices described by attribute
enrichment with each tagger of ``TAGGERS`` - ``offline`` (built-in image statistics),
``regions`` (plus the explained region against the rest), ``clusters`` (plus clusters
per class - of the object's shape for "digit", of the model's features for
"background" - each named once by a SIMULATED person who reads the hidden ground
truth of the cluster's members, as the scripted marks do: the digit / background held by
more than half of them, else unnamed) and ``oracle`` (true digit, background, size) -
judged by ``benchmarks/hibug.py:discovery``.

Mosaic time: 50 attribution slices of the last problem's run inverted in one batch,
reported as a ratio to ONE plain forward + backward pass of the model over the same 50
images (measured in the same process, median of 5).

Run:  python benchmarks/slice_discovery.py [--problems 20] [--quick] [--demo-size] [--words]
      [--workdir DIR (keeps and reuses trained problems)] [--first 100 (development problems)]
      [--merge STEM ... --out STEM (join runs over disjoint problems)]
Writes benchmarks/results/slice_discovery.json and .png; prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
PAIRS = [("grass", "brick"), ("gravel", "moon"), ("grass", "moon"), ("brick", "gravel"),
         ("coffee", "rocket"), ("moon", "brick"), ("gravel", "grass"), ("astronaut", "chelsea")]
#: label -> (registered slicer, params); the attribution slicer with its defaults, its
#: confusion-segregated variant, the error-aware slicer (defaults: failing slices split to
#: fill the top 10, MMR ranking) and without those two steps ("before", the slicer's
#: slices and order before them; its bug types follow the current rules), the baseline
SLICERS = {"attribution": ("attribution", {}),
           "attribution-confusion": ("attribution", {"segregate": "confusion"}),
           "error-aware": ("error-aware", {}),
           "error-aware-before": ("error-aware", {"ranking": "wilson", "refine_top": 0}),
           "error-clustering": ("error-clustering", {})}
BUGS = ("spurious", "rare", "flip")
FOUND_AT = 0.8


#: data and training per size: (n_train, n_val, image px, epochs, patience)
SIZES = {"quick": (800, 400, 24, 4, 3), "default": (1500, 600, 24, 8, 3),
         "demo": (3000, 1000, 32, 15, 4)}


def problem_config(i: int, size: str = "default"):
    """The i-th planted-bug problem (deterministic in i) at one of ``SIZES``."""
    from slicelens.demo.data import DemoConfig

    n_train, n_val, px, _, _ = SIZES[size]
    rng = np.random.default_rng(1000 + i)
    rare, flip = rng.choice(10, 2, replace=False)
    return DemoConfig(
        seed=i, backgrounds=list(PAIRS[i % len(PAIRS)]),
        correlation=float(rng.choice([0.9, 0.95, 0.98])), rare_digit=int(rare),
        rare_fraction=float(rng.choice([0.02, 0.05, 0.1])), flip_digit=int(flip),
        flip_rate=float(rng.choice([0.2, 0.3, 0.4])), image_size=px,
        n_train=n_train, n_val=n_val, n_test=200, n_pool=0)


def build_problem(i: int, root: Path, size: str = "default"):
    """Build data, train, extract; returns (run, cfg, ground-truth table of val)."""
    from slicelens.data import load_dataset
    from slicelens.demo.data import build_demo
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.models import TrainConfig
    from slicelens.pipeline import extract_run
    from slicelens.pipeline.train import TrainJob, train_model
    from slicelens.store import Workspace

    cfg = problem_config(i, size)
    _, _, _, epochs, patience = SIZES[size]
    ws_dir = root / f"problem-{i:02d}"
    gt = ws_dir / "demo-data" / "ground_truth.csv"
    if (ws_dir / "workspace.json").exists() and gt.exists():
        ws = Workspace(ws_dir, create=False)
        if ws.runs():  # a kept workspace (--workdir): score its run again, do not retrain
            run = ws.latest_run()
            df = join_ground_truth(run.samples, load_ground_truth(gt))
            return run, cfg, df[df["split"] == "val"].set_index("id")
        import shutil

        shutil.rmtree(ws_dir)  # an interrupted problem: build it again
    ws = Workspace(ws_dir)
    paths = build_demo(Path(ws.root) / "demo-data", cfg)
    ds = load_dataset(paths.manifest)
    spec, _ = train_model(ws, ds, TrainJob(model="small-cnn", input_size=cfg.image_size, name="m"),
                          TrainConfig(epochs=epochs, patience=patience, seed=i))
    run = extract_run(ws, paths.manifest, spec, name="bench")
    df = join_ground_truth(run.samples, load_ground_truth(paths.ground_truth))
    return run, cfg, df[df["split"] == "val"].set_index("id")


def truth_groups(val, cfg) -> dict[str, set]:
    """Ground-truth member ids per planted bug on the validation split."""
    a, b = cfg.backgrounds[:2]
    minority = [f"0-4|{b}", f"5-9|{a}"]
    acc = {g: val.loc[val["group"] == g, "correct"].astype(float).mean() for g in minority}
    worst = min(minority, key=lambda g: acc[g])
    return {"spurious": set(val.index[val["group"] == worst]),
            "rare": set(val.index[val["digit"] == cfg.rare_digit]),
            "flip": set(val.index[val["digit"] == cfg.flip_digit])}


EXPECTED = {"spurious": "spurious", "rare": "rare_case", "flip": "wrong_labels"}
def manifest(val, cfg) -> dict[str, dict]:
    """Does each planted bug make the model fail? Per bug
    (:func:`slicelens.evaluate.planted.manifests`: accuracy at least 0.10 below the
    reference group's and a one-sided Fisher exact p < 0.01, fixed at first use, not
    varied afterwards): the group's validation accuracy, its reference group's, the
    p-value and ``manifest``.

    Reference groups: for the spurious bug, the same class on its home background (the
    majority group); for the rare and the flipped digit, the other digits of the same
    class, without the other planted digit. A planted digit that the model gets right as
    often as its classmates (a rare digit the model generalises to, a flip rate the model
    did not learn) is not a failure, so no slicer that looks for failures can be asked to
    find it; the summary reports the found rate over all problems (the issue's goal) and
    over the problems where the bug manifests.

    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> val = pd.DataFrame({"group": ["0-4|a"] * 40 + ["0-4|b"] * 40 + ["5-9|b"] * 40 + ["5-9|a"] * 40,
    ...                     "digit": [0, 1] * 20 + [2] * 40 + [5, 6, 7, 8] * 20,
    ...                     "correct": [True, False] * 20 + [False] * 10 + [True] * 110})
    >>> m = manifest(val, SimpleNamespace(backgrounds=["a", "b"], rare_digit=1, flip_digit=7))
    >>> m["rare"]["accuracy"], m["rare"]["reference_accuracy"], m["rare"]["manifest"]
    (0.0, 0.8333333333333334, True)
    >>> m["flip"]["manifest"], m["spurious"]["manifest"]
    (False, False)
    """
    from slicelens.evaluate.planted import manifests

    a, b = cfg.backgrounds[:2]
    c = val["correct"].astype(bool).to_numpy()
    g, dig = val["group"].to_numpy(), val["digit"].to_numpy()
    home = {f"0-4|{b}": f"0-4|{a}", f"5-9|{a}": f"5-9|{b}"}
    worst = min(home, key=lambda x: c[g == x].mean() if (g == x).any() else 1.0)
    planted = [cfg.rare_digit, cfg.flip_digit]
    out = {"spurious": manifests(c, g == worst, g == home[worst])}
    for bug, d in (("rare", cfg.rare_digit), ("flip", cfg.flip_digit)):
        out[bug] = manifests(c, dig == d, (dig // 5 == d // 5) & ~np.isin(dig, planted))
    return out


def score(slices, truth: set) -> dict:
    """Best-F1 slice (precision, recall, rank), P@10 over the 10 top-ranked slices, and
    the bug type of the top-10 slice that reaches that P@10 (first such slice)."""
    from slicelens.slicing.metrics import best_match

    m = best_match(slices, truth, k=10)
    m["p_at_10"] = m.pop("p_at_k")
    at = [s for s in slices[:10] if len(s.members)
          and np.mean([x in truth for x in s.members[:10]]) >= m["p_at_10"]]
    m["type"] = at[0].bug_type if at and m["p_at_10"] > 0 else None
    return {**m, "found": m["p_at_10"] >= FOUND_AT}


def train_wrong_labels(run, ws_dir: Path, i: int):
    """The training-label check of ``slicelens slices`` (the wrong-labels slicer fitted on
    the TRAINING split, :func:`slicelens.pipeline.slices.check_training_labels`), scored
    against the training samples whose labels were flipped (P@10 as above; found at
    >= 0.8). Returns (row, its SliceSet, the training split's ground-truth table)."""
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.pipeline.slices import check_training_labels

    gt = load_ground_truth(ws_dir / "demo-data" / "ground_truth.csv")
    df = join_ground_truth(run.samples, gt)
    train = df[df["split"] == "train"].set_index("id")
    flipped = set(train.index[train["flipped"].astype(bool)])
    t1 = time.perf_counter()
    ss = check_training_labels(run, reuse=False)  # fitted, timed (a kept run has one stored)
    fit_s = time.perf_counter() - t1
    return ({"problem": i, "slicer": LABEL_CHECK, "bug": "flip",
             "n_slices": len(ss.slices), "group_size": len(flipped), "fit_seconds": fit_s,
             **score(ss.slices, flipped)}, ss, train)


#: the training-label check's rows, and the route a user of ``slicelens slices`` sees:
#: the default slicer's top 10 on validation AND the label check's groups on training
LABEL_CHECK = "wrong-labels (train split)"
COMMAND = "slices command (error-aware + label check)"


def command_rows(rows: list[dict], key: str = "found") -> list[dict]:
    """Per problem and bug, what ``slicelens slices`` shows: the default slicer's row
    (``error-aware``), except that wrong labels (``flip``) also count as found when the
    training-label check finds them (it prints its groups below the slices); the bug
    type then is the check's (``wrong_labels``: its groups are typed so), else the
    slicer's. ``key``: "found" for :func:`summarise`'s rows; for the words rows the
    flags are ``found_<bug>`` and the row is joined per tagger."""
    out = []
    if key == "found":
        by = {(r["problem"], r["slicer"], r["bug"]): r for r in rows}
        for (i, slicer, bug), r in sorted(by.items()):
            if slicer != "error-aware":
                continue
            row = {**r, "slicer": COMMAND, "via": "slicer"}
            lc = by.get((i, LABEL_CHECK, "flip")) if bug == "flip" else None
            if lc is not None and lc["found"]:
                row.update(found=True, type=lc["type"],
                           via="both" if r["found"] else "label check",
                           p_at_10=max(r["p_at_10"], lc["p_at_10"]))
            out.append(row)
        return out
    by = {(r["problem"], r["slicer"], r["tagger"]): r for r in rows}
    for (i, slicer, tagger), r in sorted(by.items()):
        lc = by.get((i, LABEL_CHECK, tagger))
        if slicer != "error-aware" or lc is None:
            continue
        row = {**r, "slicer": COMMAND}
        if lc["found_flip"]:
            row.update(found_flip=True, type_flip=lc["type_flip"], typed_flip=lc["typed_flip"])
        row["described"] = float(np.mean([row[f"found_{b}"] for b in BUGS]))
        out.append(row)
    return out


def typed_slice_set(run, model):
    """The fitted slicer's SliceSet with a bug type (or None) and evidence on every slice
    (:func:`slicelens.pipeline.describe.type_slices`, as ``slicelens slices`` does)."""
    from slicelens.pipeline.describe import type_slices
    from slicelens.slicing.base import SliceSet

    ss = SliceSet.from_slicer(model, run.id)
    assigned = np.full(len(run.samples), -1, np.int64)
    assigned[np.flatnonzero(run.samples["split"].to_numpy() == "val")] = ss.labels
    type_slices(run, ss, assigned)
    return ss


TAGGERS = ("offline", "regions", "clusters", "oracle")
#: with --words, HiBug's attribute slicer (``find_attribute_bugs``) on each tagger's matrix,
#: ranked by MMR (its default) and, as the matched reference, by the Wilson bound alone
HIBUG_ROUTE = "hibug-attributes"
HIBUG_WILSON = "hibug-attributes-wilson"


def tagger_spec(tagger: str):
    """The attributes each offline tagger adds to the built-in image statistics
    (``offline``: the statistics themselves): the explained-region statistics
    (``regions``) or two attributes of clusters per class (``clusters``: "digit", the
    object's shape, model-independent; "background", the model's explained features)."""
    from slicelens.attributes.assign_region import region_attributes
    from slicelens.attributes.base import Attribute, AttributeSpec
    from slicelens.attributes.proposal import propose_attributes

    if tagger == "offline":
        return propose_attributes("builtin", object="digit", semantic=False)
    if tagger == "regions":
        return AttributeSpec(region_attributes(), object="digit")
    return AttributeSpec([Attribute("digit", backend="clusters", measure="shape", phrase="{value}"),
                          Attribute("background", backend="clusters",
                                    phrase="on {value} background")], object="digit")


def assign_tagger(run, tagger: str, base) -> None:
    """Store the statistics ``base`` (matrix, spec) joined with ``tagger``'s attributes
    (the statistics are measured once per problem, not once per tagger)."""
    from slicelens.attributes.base import AttributeSpec
    from slicelens.attributes.matrix import AttributeMatrix
    from slicelens.pipeline.attributes import assign_attributes, save_spec

    spec = tagger_spec(tagger)
    extra = assign_attributes(run, spec=spec, force=True)
    AttributeMatrix.concat([base[0], extra]).save(run.path)
    save_spec(run, AttributeSpec(base[1].attributes + spec.attributes, object="digit"))


def simulated_naming(run, gt) -> dict:
    """A SIMULATED person names each cluster once, after looking at its images: by the
    digit (attribute "digit") and the background (attribute "background") that more than
    half of its members show (hidden ground truth, as the scripted marks read it); no
    majority -> left unnamed ("cluster 3 of class 5-9", which never counts as words)."""
    from hibug import DIGITS

    from slicelens.attributes.cluster_names import cluster_keys, majority_names

    keys = cluster_keys(run.path)
    return {"digit": majority_names(keys[keys["attribute"] == "digit"], gt["digit"],
                                    lambda d: DIGITS[int(d)]),
            "background": majority_names(keys[keys["attribute"] == "background"],
                                         gt["background"])}


def words(run, cfg, val, fitted: dict, ws_dir: Path, i: int,
          taggers: tuple[str, ...] = TAGGERS, label_check=None) -> list[dict]:
    """Words for each slicer's slices from each tagger of ``TAGGERS`` (the oracle: the
    ground-truth digit, background and size), judged as benchmarks/hibug.py judges
    HiBug's own slices (:func:`hibug.discovery`). ``label_check``: (SliceSet, training
    ground-truth table) of the training-label check, described and judged the same way
    on the training split (only its ``flip`` verdict is used, by :func:`command_rows`)."""
    from hibug import discovery, oracle_matrix

    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.pipeline.attributes import assign_attributes, find_attribute_bugs, name_clusters
    from slicelens.pipeline.describe import describe_slices

    out = []
    man = {f"manifest_{b}": m["manifest"] for b, m in manifest(val, cfg).items()}
    gt = load_ground_truth(ws_dir / "demo-data" / "ground_truth.csv")
    for tagger in taggers:
        t0 = time.perf_counter()
        named = None
        if tagger == "oracle":
            oracle_matrix(run, gt)
        elif tagger == "offline":
            spec = tagger_spec(tagger)
            base = (assign_attributes(run, spec=spec, force=True), spec)
        else:
            assign_tagger(run, tagger, base)
        if tagger == "clusters":
            names = simulated_naming(run, gt)
            name_clusters(run, names)
            named = {a: len(v) for a, v in names.items()}
        seconds = time.perf_counter() - t0
        # HiBug's own route (its attribute slicer, Sec. 3.2) on the same tagger's matrix
        wilson = find_attribute_bugs(run, {"ranking": "wilson"})  # stored first, then replaced
        sets = {**fitted, HIBUG_ROUTE: find_attribute_bugs(run), HIBUG_WILSON: wilson}
        if label_check is not None:
            sets[LABEL_CHECK] = label_check[0]
        for slicer, ss in sets.items():
            if slicer not in (HIBUG_ROUTE, HIBUG_WILSON):  # these carry their conditions
                describe_slices(run, ss)
            d = discovery(ss, label_check[1] if slicer == LABEL_CHECK else val, cfg)
            out.append({"problem": i, "slicer": slicer, "tagger": tagger, **d, **man,
                        "tagger_seconds": seconds, "clusters_named": named,
                        "top10": [{"description": s.description, "bug_type": s.bug_type,
                                   "confusion": s.metrics.get("confusion_text")}
                                  for s in ss.slices[:10]]})
    return out


def summarise_words(rows: list[dict]) -> list[dict]:
    out = []
    rows = [*rows, *command_rows(rows, key="words")]
    for slicer in [*SLICERS, COMMAND, LABEL_CHECK, HIBUG_ROUTE, HIBUG_WILSON]:
        for tagger in TAGGERS:
            r = [x for x in rows if x["slicer"] == slicer and x["tagger"] == tagger]
            if r:
                out.append({"slicer": slicer, "tagger": tagger, "problems": len(r),
                            "described": float(np.mean([x["described"] for x in r])),
                            **{b: float(np.mean([x[f"found_{b}"] for x in r])) for b in BUGS},
                            # over the problems where the bug manifests (manifest())
                            **{f"{b}_manifest": _mean_or_nan([x[f"found_{b}"] for x in r
                                                              if x.get(f"manifest_{b}")])
                               for b in BUGS},
                            # bug-type accuracy of the slices that describe each bug, pooled
                            **{f"type_{b}": _pooled_type(r, b) for b in BUGS}})
    return out


def _pooled_type(rows: list[dict], bug: str) -> float:
    """Share of the slices describing ``bug`` (over all rows) that carry its bug type."""
    n = sum(x.get(f"typed_{bug}", 0) for x in rows)
    hit = sum(x[f"type_{bug}"] * x[f"typed_{bug}"] for x in rows if x.get(f"typed_{bug}", 0))
    return float(hit / n) if n else float("nan")


def mosaic_timing(run, n_slices: int = 50) -> dict:
    """Seconds to invert n_slices attribution slices vs one fwd+bwd pass over n images."""
    import torch

    from slicelens.explain import MosaicParams, invert_slices
    from slicelens.pipeline.slices import find_slices

    ss = find_slices(run, "attribution", {"min_clusters": n_slices, "max_clusters": n_slices})
    ss.slices = ss.slices[:n_slices]
    params = MosaicParams()
    result = invert_slices(run, ss, params)
    adapter = run.adapter()
    x = torch.from_numpy(result.init).permute(0, 3, 1, 2).contiguous().requires_grad_(True)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        A, _ = adapter.forward_parts(x)
        torch.autograd.grad(A.sum(), [x])
        times.append(time.perf_counter() - t0)
    ref = statistics.median(times)
    return {"n_slices": len(ss.slices), "steps": params.steps, "seconds": result.seconds,
            "reference_fwd_bwd_seconds": ref, "ratio": result.seconds / ref}


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    rows = [*rows, *command_rows(rows)]
    for slicer in [*SLICERS, COMMAND, LABEL_CHECK]:
        for bug in BUGS:
            r = [x for x in rows if x["slicer"] == slicer and x["bug"] == bug]
            if r:
                out.append({"slicer": slicer, "bug": bug, "problems": len(r),
                            "found": float(np.mean([x["found"] for x in r])),
                            "p_at_10": float(np.mean([x["p_at_10"] for x in r])),
                            "precision": float(np.mean([x["precision"] for x in r])),
                            "recall": float(np.mean([x["recall"] for x in r])),
                            "n_slices": float(np.mean([x["n_slices"] for x in r])),
                            # the bug makes the model fail (manifest()): found among those
                            "manifest": int(sum(bool(x.get("manifest")) for x in r)),
                            "found_manifest": _mean_or_nan([x["found"] for x in r
                                                            if x.get("manifest")]),
                            # over the problems where the bug is found: the found slice's type
                            "type_accuracy": _mean_or_nan([x["type"] == EXPECTED[bug]
                                                           for x in r if x["found"]])})
    return out


def _mean_or_nan(v) -> float:
    return float(np.mean(v)) if len(v) else float("nan")


def plot(summary: list[dict], mosaic: dict | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(SLICERS)
    for j, slicer in enumerate(SLICERS):
        vals = [next((s["found"] for s in summary if s["slicer"] == slicer and s["bug"] == b), 0)
                for b in BUGS]
        ax.bar(np.arange(len(BUGS)) + j * width, vals, width, label=slicer)
    ax.axhline(0.8, color="grey", ls="--", lw=1, label="goal (80% of problems)")
    ax.set_xticks(np.arange(len(BUGS)) + width * (len(SLICERS) - 1) / 2, BUGS)
    ax.set_ylabel(f"share of problems found (P@10 >= {FOUND_AT})")
    ax.set_ylim(0, 1.05)
    n = summary[0]["problems"] if summary else 0
    title = f"Planted bugs found, {n} problems"
    if mosaic:
        title += f"; mosaic of {mosaic['n_slices']} slices = {mosaic['ratio']:.0f}x one fwd+bwd"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    from slicelens.cli.common import table
    from slicelens.slicing.base import get_slicer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=None, help="number of problems (default 20, quick 3)")
    ap.add_argument("--quick", action="store_true", help="smaller data and training")
    ap.add_argument("--demo-size", action="store_true",
                    help="the demo's data and training (3,000 images of 32 px, 15 epochs)")
    ap.add_argument("--out", default="slice_discovery", help="results file stem")
    ap.add_argument("--workdir", default=None, help="keep the problems' workspaces here")
    ap.add_argument("--first", type=int, default=0,
                    help="index of the first problem (e.g. 100: development problems kept apart "
                         "from the benchmark's 0-19, for choosing parameters)")
    ap.add_argument("--only", nargs="*", default=None, help="score only these slicer labels")
    ap.add_argument("--words", action="store_true",
                    help="also score the slices' words (attribute enrichment, offline and "
                         "oracle taggers) and the bug types")
    ap.add_argument("--taggers", nargs="+", default=list(TAGGERS), choices=TAGGERS,
                    help="with --words: these taggers only (regions and clusters need offline)")
    ap.add_argument("--no-mosaic", action="store_true", help="skip the mosaic timing")
    ap.add_argument("--merge", nargs="+", default=None, metavar="STEM",
                    help="only merge the rows of these results files (runs over disjoint "
                         "problems, e.g. made while more problems trained) into --out")
    ap.add_argument("--rescore", default=None, metavar="STEM",
                    help="only add the manifest figures (manifest()) to the rows of this "
                         "results file, from the runs kept in its workdir, into --out")
    args = ap.parse_args(argv)
    if args.merge:
        return _merge(args)
    if args.rescore:
        return _rescore(args)
    n = args.problems or (3 if args.quick else 20)
    size = "quick" if args.quick else "demo" if args.demo_size else "default"
    os.environ.setdefault("SLICELENS_QUIET", "1")
    warnings.filterwarnings("ignore")
    root = Path(args.workdir or tempfile.mkdtemp(prefix="slice-discovery-"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows, words_rows, run = [], [], None
    t_all = time.perf_counter()
    for i in range(args.first, args.first + n):
        t0 = time.perf_counter()
        run, cfg, val = build_problem(i, root, size)
        truth = truth_groups(val, cfg)
        man = manifest(val, cfg)
        fitted = {}
        for slicer, (name, params) in SLICERS.items():
            if args.only and slicer not in args.only:
                continue
            t1 = time.perf_counter()
            model = get_slicer(name, **params).fit(run, "val")
            fit_s = time.perf_counter() - t1
            fitted[slicer] = typed_slice_set(run, model)
            for bug in BUGS:
                rows.append({"problem": i, "slicer": slicer, "bug": bug,
                             "n_slices": len(model.slices_), "group_size": len(truth[bug]),
                             "fit_seconds": fit_s,
                             "config": cfg.model_dump(include={"backgrounds", "correlation",
                                                               "rare_digit", "rare_fraction",
                                                               "flip_digit", "flip_rate", "seed"}),
                             **man[bug], **score(fitted[slicer].slices, truth[bug])})
        label_check = None
        if not args.only or "wrong-labels" in args.only:
            row, *label_check = train_wrong_labels(run, root / f"problem-{i:02d}", i)
            rows.append(row)
        if args.words:
            taggers = tuple(t for t in TAGGERS if t in args.taggers)
            if {"regions", "clusters"} & set(taggers) and "offline" not in taggers:
                raise SystemExit("--taggers regions / clusters need offline (their base)")
            words_rows.extend(words(run, cfg, val, fitted, root / f"problem-{i:02d}", i,
                                    taggers, label_check))
        done = [r for r in rows if r["problem"] == i]
        print(f"problem {i}: {time.perf_counter() - t0:.0f}s  " + "  ".join(
            f"{r['slicer']}/{r['bug']} P@10={r['p_at_10']:.1f}" for r in done), flush=True)
        _write(rows, None, args, root, words_rows)
    mosaic = None if args.no_mosaic or run is None else mosaic_timing(run)
    summary = _write(rows, mosaic, args, root, words_rows)
    print()
    print(table(summary, ["slicer", "bug", "problems", "found", "p_at_10", "precision",
                          "recall", "n_slices", "type_accuracy", "manifest", "found_manifest"],
                floatfmt=".2f"))
    if words_rows:
        print("\nplanted bugs described correctly in words in the top 10 (enrichment)")
        print(table(summarise_words(words_rows), ["slicer", "tagger", "problems", "described",
                                                  "spurious", "rare", "flip", "spurious_manifest", "rare_manifest",
                 "flip_manifest", "type_spurious", "type_rare", "type_flip"], floatfmt=".2f"))
    if mosaic:
        print(f"\nmosaic: {mosaic['n_slices']} slices x {mosaic['steps']} steps in "
              f"{mosaic['seconds']:.1f} s = {mosaic['ratio']:.0f} x one forward+backward pass "
              f"over the same images ({mosaic['reference_fwd_bwd_seconds'] * 1000:.0f} ms)")
    print(f"total {time.perf_counter() - t_all:.0f} s; results in {RESULTS}")
    return 0


def _merge(args) -> int:
    from slicelens.cli.common import table

    parts = [json.loads((RESULTS / f"{stem}.json").read_text()) for stem in args.merge]
    rows = [r for p in parts for r in p["rows"]]
    words_rows = [r for p in parts for r in p.get("words_rows", [])]
    if len({r["problem"] for r in rows}) != sum(p["problems"] for p in parts):
        raise SystemExit("the merged files share problems")
    args.quick = False
    args.demo_size = parts[0]["size"] == "demo"
    summary = _write(rows, None, args, parts[0]["workdir"], words_rows)
    print(table(summary, ["slicer", "bug", "problems", "found", "p_at_10", "precision",
                          "recall", "n_slices", "type_accuracy", "manifest", "found_manifest"],
                floatfmt=".2f"))
    print(table(summarise_words(words_rows), ["slicer", "tagger", "problems", "described",
                                              "spurious", "rare", "flip", "spurious_manifest", "rare_manifest",
                 "flip_manifest"], floatfmt=".2f"))
    return 0


def _rescore(args) -> int:
    """Add :func:`manifest` to every row of a results file (no slicer is fitted again:
    the manifest figures read only the kept runs' predictions and the hidden truth)."""
    from slicelens.cli.common import table

    old = json.loads((RESULTS / f"{args.rescore}.json").read_text())
    man = {}
    for i in sorted({r["problem"] for r in old["rows"]}):
        _, cfg, val = build_problem(i, Path(old["workdir"]), old["size"])
        man[i] = manifest(val, cfg)
    rows = [{**r, **man[r["problem"]][r["bug"]]} for r in old["rows"]]
    words_rows = [{**r, **{f"manifest_{b}": man[r["problem"]][b]["manifest"] for b in BUGS}}
                  for r in old.get("words_rows", [])]
    args.quick, args.demo_size = old["quick"], old["size"] == "demo"
    summary = _write(rows, old.get("mosaic"), args, old["workdir"], words_rows)
    print(table(summary, ["slicer", "bug", "problems", "found", "p_at_10", "type_accuracy",
                          "manifest", "found_manifest"], floatfmt=".2f"))
    if words_rows:
        print(table(summarise_words(words_rows), ["slicer", "tagger", "problems", "described",
                                                  "spurious", "rare", "flip", "spurious_manifest",
                                                  "rare_manifest", "flip_manifest"],
                    floatfmt=".2f"))
    return 0


def _write(rows, mosaic, args, root, words_rows=()) -> list[dict]:
    summary = summarise(rows)
    out = {"words": summarise_words(list(words_rows)), "words_rows": list(words_rows),
           "problems": len({r["problem"] for r in rows}), "quick": args.quick,
           "size": "quick" if args.quick else "demo" if args.demo_size else "default",
           "found_threshold": FOUND_AT, "summary": summary, "mosaic": mosaic, "rows": rows,
           "workdir": str(root)}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=1, default=str))
    plot(summary, mosaic, RESULTS / f"{args.out}.png")
    return summary


if __name__ == "__main__":
    sys.exit(main())
