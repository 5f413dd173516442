"""Slicing time and peak memory at 10^4, 10^5 and 10^6 samples (issue: scale).

Each size is a synthetic run of 1,280-d F_W vectors (EfficientNet-Lite0's width) around
``--clusters`` planted centres, all in the validation split, written chunk by chunk to
memory-mapped ``.npy`` files (the 10^6 run's F_W is 5.1 GB on disk, never in memory).
``slicelens.pipeline.find_slices(run, "attribution")`` then runs in a fresh process per
size, so its peak resident memory (``ru_maxrss``) is its own. Recovery of the planted
clusters is the adjusted Rand index between slices and planted clusters.

Goals: 10^6 in under 10 minutes and under 8 GiB on a 2-core machine, with the planted
clusters recovered as well as at 10^4.

Usage: python benchmarks/scale_slicing.py [--sizes 10000 100000 1000000] [--dim 1280]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def build_run(root: Path, n: int, dim: int, clusters: int, seed: int = 0):
    """A complete run of ``n`` validation samples with planted clusters; returns its path
    and the planted cluster of every sample."""
    import pandas as pd

    from slicelens.store import Workspace
    from slicelens.store.atomic import write_json, write_parquet

    ws = Workspace(root)
    run_id, run_dir = ws.new_run_dir("scale")
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.0, size=(clusters, dim)).astype(np.float32)
    truth = rng.integers(0, clusters, n)
    fw = np.lib.format.open_memmap(run_dir / "fw.npy", mode="w+", dtype=np.float32,
                                   shape=(n, dim))
    for s in range(0, n, 50_000):
        t = truth[s:s + 50_000]
        fw[s:s + len(t)] = np.maximum(centres[t] + 0.35 * rng.normal(size=(len(t), dim)), 0)
    fw.flush()
    del fw
    os.link(run_dir / "fw.npy", run_dir / "features.npy")
    labels = (truth % 2).astype(np.int64)
    logits = np.zeros((n, 2), np.float32)
    logits[np.arange(n), labels] = 2.0
    flip = rng.random(n) < 0.1 + 0.3 * (truth == 0)  # cluster 0 is a failure slice
    logits[flip] = logits[flip][:, ::-1]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pred = probs.argmax(1)
    np.save(run_dir / "logits.npy", logits)
    np.save(run_dir / "probs.npy", probs.astype(np.float32))
    np.save(run_dir / "maps.npy", np.full((n, 2, 2), 0.25, np.float16))
    write_parquet(run_dir / "samples.parquet", pd.DataFrame({
        "id": [f"s{i:07d}" for i in range(n)], "label": labels, "split": "val", "pred": pred,
        "confidence": probs.max(1), "loss": -np.log(probs[np.arange(n), labels]),
        "correct": pred == labels}))
    write_json(run_dir / "record.json", {
        "format": 1, "run_id": run_id, "status": "complete", "classes": ["a", "b"],
        "created_at": "2026-01-01T00:00:00+00:00", "grid": [2, 2],
        "data": {"source": "<synthetic>"}, "model": {"spec": "synthetic"},
        "arrays": {"fw": {"dtype": "float32", "shape": [n, dim]}}})
    return run_dir, truth


def slice_child(run_dir: str, truth_path: str, out: str, fit_sample: int) -> None:
    """In a fresh process: slice, then report time, peak memory and recovery."""
    from sklearn.metrics import adjusted_rand_score

    from slicelens.pipeline.slices import find_slices
    from slicelens.store import Run

    run = Run(run_dir)
    t0 = time.perf_counter()
    ss = find_slices(run, "attribution", {"fit_sample": fit_sample})
    seconds = time.perf_counter() - t0
    ids = run.samples["id"].to_numpy(str)
    pos = {s: i for i, s in enumerate(ids)}
    labels = np.full(len(ids), -1)
    for k, s in enumerate(ss.slices):
        labels[[pos[m] for m in s.members]] = k
    truth = np.load(truth_path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    Path(out).write_text(json.dumps({
        "seconds": seconds, "peak_gib": peak, "slices": len(ss.slices),
        "ari": float(adjusted_rand_score(truth, labels)),
        "fitted": ss.slices[0].evidence.get("fitted"), "placed": ss.slices[0].evidence.get("placed"),
        "unassigned": int((labels < 0).sum())}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--clusters", type=int, default=20)
    ap.add_argument("--fit-sample", type=int, default=20_000)
    ap.add_argument("--workdir", default=None, help="where the synthetic runs go (default: tmp)")
    ap.add_argument("--out", default=str(RESULTS / "scale_slicing.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("SLICELENS_QUIET", "1")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-scale-"))
    rows = []
    try:
        for n in args.sizes:
            t0 = time.perf_counter()
            run_dir, truth = build_run(work / f"ws-{n}", n, args.dim, args.clusters)
            np.save(work / f"truth-{n}.npy", truth)
            built = time.perf_counter() - t0
            out = work / f"result-{n}.json"
            code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import scale_slicing as b; "
                    f"b.slice_child({str(run_dir)!r}, {str(work / f'truth-{n}.npy')!r}, "
                    f"{str(out)!r}, {args.fit_sample})")
            subprocess.run([sys.executable, "-c", code], check=True)
            res = json.loads(out.read_text())
            row = {"n": n, "dim": args.dim, "build_seconds": round(built, 1), **res}
            rows.append(row)
            print(f"n={n:>9,}  slicing {res['seconds']:7.1f} s  peak {res['peak_gib']:.2f} GiB  "
                  f"ARI {res['ari']:.3f}  slices {res['slices']}  fitted {res['fitted']:,} "
                  f"placed {res['placed']:,}", flush=True)
            shutil.rmtree(work / f"ws-{n}", ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    for a, b in zip(rows, rows[1:], strict=False):
        b["time_ratio_to_previous"] = round(b["seconds"] / a["seconds"], 2)
    result = {"benchmark": "scale_slicing", "cpus": os.cpu_count(), "fit_sample": args.fit_sample,
              "clusters": args.clusters, "rows": rows,
              "note": "timed on a machine shared with other jobs; see docs/scale.md"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
