"""Extraction throughput as ratios measured in the same run (BENCHMARKS.md "Speed").

For each built-in model on demo images:
  plain      - inference only: ``adapter.logits`` per batch
  full       - slicelens' one-pass extraction (logits, probs, loss, F, maps, F_W, chunked
               atomic writes), through ``slicelens.extract.extract``
  captum     - a reference pipeline: a forward for predictions, captum ``LayerGradCam``
               for the predicted class, and a separate forward for pooled features
Reported: full / plain (goal >= 0.9) and full / captum (goal >= 2), as throughput ratios
(images per second). The three are interleaved round by round and the median of the
rounds is kept, because the machine is shared. Absolute images/s are printed for context.

Usage: python benchmarks/extraction.py [--n 2048] [--rounds 3] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def demo_images(n: int, size: int, seed: int = 0):
    """``n`` demo images (uint8, N x size x size x 3) with labels, built in a temp dir."""
    from slicelens.data import load_dataset
    from slicelens.data.arrays import from_arrays
    from slicelens.demo.data import DemoConfig, build_demo

    tmp = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    try:
        paths = build_demo(tmp / "d", DemoConfig(n_train=n, n_val=0, n_test=0, n_pool=0,
                                                 image_size=size, seed=seed))
        ds = load_dataset(paths.manifest)
        imgs = ds.load_uint8(np.arange(len(ds)), size)
        return from_arrays(imgs, ds.labels, ds.classes, splits=ds.splits, ids=ds.ids)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def time_plain(ds, adapter, batch: int) -> float:
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(ds), batch):
            adapter.logits(ds.load(np.arange(s, min(s + batch, len(ds)))))
    return time.perf_counter() - t0


def time_full(ds, adapter, batch: int) -> float:
    from slicelens.extract import ExtractConfig, extract

    run_dir = Path(tempfile.mkdtemp(prefix="bench-run-"))
    try:
        t0 = time.perf_counter()
        extract(ds, adapter, run_dir, ExtractConfig(batch_size=batch, chunk_size=1024),
                data_spec={"source": "<arrays>"}, model_spec={"spec": "bench"})
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def time_captum(ds, adapter, batch: int) -> float:
    from captum.attr import LayerGradCam

    layer = dict(adapter.module.named_modules())[adapter.layer_name]
    gc = LayerGradCam(lambda x: adapter.module(x), layer)
    feats = []
    hook = layer.register_forward_hook(lambda _m, _i, o: feats.append(o.mean(dim=(2, 3)).detach()))
    t0 = time.perf_counter()
    try:
        for s in range(0, len(ds), batch):
            x = adapter.prepare(ds.load(np.arange(s, min(s + batch, len(ds)))))
            with torch.no_grad():
                pred = adapter.module(x).argmax(1)  # predictions (and features, via the hook)
            gc.attribute(x, target=pred, relu_attributions=True).detach()
    finally:
        hook.remove()
    return time.perf_counter() - t0


def bench_model(name: str, size: int, n: int, rounds: int, batch: int) -> dict:
    from slicelens.models import build_model
    from slicelens.models.adapter import ModelAdapter
    from slicelens.models.builtin import builtin_info

    ds = demo_images(n, size)
    info = builtin_info(name)
    adapter = ModelAdapter(build_model(name, len(ds.classes), size), ds.classes, input_size=size,
                           normalize=info["normalize"])
    time_plain(ds.subset(np.arange(min(2 * batch, n))), adapter, batch)  # warm-up
    t = {"plain": [], "full": [], "captum": []}
    for _ in range(rounds):
        t["plain"].append(time_plain(ds, adapter, batch))
        t["full"].append(time_full(ds, adapter, batch))
        t["captum"].append(time_captum(ds, adapter, batch))
    med = {k: statistics.median(v) for k, v in t.items()}
    ips = {k: n / v for k, v in med.items()}
    return {"model": name, "input_size": size, "n": n, "batch": batch, "rounds": rounds,
            "method": "cam" if adapter.head is not None else "gradcam",
            "images_per_s": ips, "seconds": t,
            "full_over_plain": ips["full"] / ips["plain"],
            "full_over_captum": ips["full"] / ips["captum"]}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["full_over_plain"] for r in rows], 0.4, label="full / plain (goal 0.9)")
    ax.bar(x + 0.2, [r["full_over_captum"] for r in rows], 0.4, label="full / captum (goal 2)")
    ax.axhline(0.9, color="C0", ls=":")
    ax.axhline(2.0, color="C1", ls=":")
    ax.set_xticks(x, [f"{r['model']}\n{r['input_size']}px ({r['method']})" for r in rows])
    ax.set_ylabel("throughput ratio")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", nargs="+", default=["small-cnn:32", "efficientnet-lite0:96"])
    args = ap.parse_args(argv)
    os.environ.setdefault("SLICELENS_QUIET", "1")
    rows = []
    for spec in args.models:
        name, size = spec.split(":")
        r = bench_model(name, int(size), args.n, args.rounds, args.batch)
        rows.append(r)
        ips = r["images_per_s"]
        print(f"{name:18s} {size:>4s}px {r['method']:7s} full/plain {r['full_over_plain']:.2f}  "
              f"full/captum {r['full_over_captum']:.2f}   (img/s: plain {ips['plain']:.0f}, "
              f"full {ips['full']:.0f}, captum {ips['captum']:.0f})", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(), "argv": sys.argv[1:]}
    (RESULTS / "extraction.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    plot(rows, RESULTS / "extraction.png")
    print(f"wrote {RESULTS / 'extraction.json'} and extraction.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
