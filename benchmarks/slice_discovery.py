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

Mosaic time: 50 attribution slices of the last problem's run inverted in one batch,
reported as a ratio to ONE plain forward + backward pass of the model over the same 50
images (measured in the same process, median of 5).

Run:  python benchmarks/slice_discovery.py [--problems 20] [--quick]
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
#: confusion-segregated variant, and the baseline
SLICERS = {"attribution": ("attribution", {}),
           "attribution-confusion": ("attribution", {"segregate": "confusion"}),
           "error-clustering": ("error-clustering", {})}
BUGS = ("spurious", "rare", "flip")
FOUND_AT = 0.8


#: data and training per size: (n_train, n_val, image px, epochs, patience)
SIZES = {"quick": (800, 400, 24, 4, 3), "default": (1500, 600, 24, 8, 3),
         "demo": (3000, 1000, 32, 15, 4)}


def problem_config(i: int, size: str = "default"):
    """The i-th planted-bug problem (deterministic in i) at one of ``SIZES``."""
    from slicelens.data.demo import DemoConfig

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
    from slicelens.data.demo import build_demo
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.models import TrainConfig
    from slicelens.pipeline import extract_run
    from slicelens.pipeline.train import TrainJob, train_model
    from slicelens.store import Workspace

    cfg = problem_config(i, size)
    _, _, _, epochs, patience = SIZES[size]
    ws = Workspace(root / f"problem-{i:02d}")
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


def score(slices, truth: set) -> dict:
    """Best-F1 slice (precision, recall, rank) and P@10 over the 10 top-ranked slices."""
    from slicelens.slicing.metrics import best_match

    m = best_match(slices, truth, k=10)
    m["p_at_10"] = m.pop("p_at_k")
    return {**m, "found": m["p_at_10"] >= FOUND_AT}


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
    for slicer in SLICERS:
        for bug in BUGS:
            r = [x for x in rows if x["slicer"] == slicer and x["bug"] == bug]
            if r:
                out.append({"slicer": slicer, "bug": bug, "problems": len(r),
                            "found": float(np.mean([x["found"] for x in r])),
                            "p_at_10": float(np.mean([x["p_at_10"] for x in r])),
                            "precision": float(np.mean([x["precision"] for x in r])),
                            "recall": float(np.mean([x["recall"] for x in r])),
                            "n_slices": float(np.mean([x["n_slices"] for x in r]))})
    return out


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
    ap.add_argument("--no-mosaic", action="store_true", help="skip the mosaic timing")
    args = ap.parse_args(argv)
    n = args.problems or (3 if args.quick else 20)
    size = "quick" if args.quick else "demo" if args.demo_size else "default"
    os.environ.setdefault("SLICELENS_QUIET", "1")
    warnings.filterwarnings("ignore")
    root = Path(args.workdir or tempfile.mkdtemp(prefix="slice-discovery-"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows, run = [], None
    t_all = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        run, cfg, val = build_problem(i, root, size)
        truth = truth_groups(val, cfg)
        for slicer, (name, params) in SLICERS.items():
            t1 = time.perf_counter()
            slices = get_slicer(name, **params).fit(run, "val").slices_
            fit_s = time.perf_counter() - t1
            for bug in BUGS:
                rows.append({"problem": i, "slicer": slicer, "bug": bug, "n_slices": len(slices),
                             "group_size": len(truth[bug]), "fit_seconds": fit_s,
                             "config": cfg.model_dump(include={"backgrounds", "correlation",
                                                               "rare_digit", "rare_fraction",
                                                               "flip_digit", "flip_rate", "seed"}),
                             **score(slices, truth[bug])})
        done = [r for r in rows if r["problem"] == i]
        print(f"problem {i}: {time.perf_counter() - t0:.0f}s  " + "  ".join(
            f"{r['slicer']}/{r['bug']} P@10={r['p_at_10']:.1f}" for r in done), flush=True)
        _write(rows, None, args, root)
    mosaic = None if args.no_mosaic or run is None else mosaic_timing(run)
    summary = _write(rows, mosaic, args, root)
    print()
    print(table(summary, ["slicer", "bug", "problems", "found", "p_at_10", "precision",
                          "recall", "n_slices"], floatfmt=".2f"))
    if mosaic:
        print(f"\nmosaic: {mosaic['n_slices']} slices x {mosaic['steps']} steps in "
              f"{mosaic['seconds']:.1f} s = {mosaic['ratio']:.0f} x one forward+backward pass "
              f"over the same images ({mosaic['reference_fwd_bwd_seconds'] * 1000:.0f} ms)")
    print(f"total {time.perf_counter() - t_all:.0f} s; results in {RESULTS}")
    return 0


def _write(rows, mosaic, args, root) -> list[dict]:
    summary = summarise(rows)
    out = {"problems": len({r["problem"] for r in rows}), "quick": args.quick,
           "size": "quick" if args.quick else "demo" if args.demo_size else "default",
           "found_threshold": FOUND_AT, "summary": summary, "mosaic": mosaic, "rows": rows,
           "workdir": str(root)}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=1, default=str))
    plot(summary, mosaic, RESULTS / f"{args.out}.png")
    return summary


if __name__ == "__main__":
    sys.exit(main())
