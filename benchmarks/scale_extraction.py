"""Extraction from JPEG files: the data pipeline and the Ray engine (issue: scale).

On ``--n`` JPEG files at 224 px (demo images, upsampled and written once), per model:

  reference   - a plain PyTorch ``DataLoader`` with the same workers (PIL decode + resize
                in the workers) feeding plain inference (``adapter.logits``)
  slicelens   - ``slicelens.extract.extract`` end to end with ``workers=W`` (maps, F_W,
                loss, chunked atomic writes)
  single      - the same with ``workers=0`` (decoding in the main process: how extraction
                worked before the pipeline)
  ray-1/ray-2 - ``--engine ray`` on a local Ray instance with 1 and 2 model actors

Reported as ratios of throughput measured in the same run (goals: slicelens / reference
>= 0.9; slicelens / single >= 2 at 2 workers; Ray's overhead vs the local engine), with
absolute images per second for context. The rounds are interleaved and the median kept.
On a machine with a GPU the same script reports absolute images per second and the ratio
to plain GPU inference on preloaded tensors (``--preloaded``).

Usage: python benchmarks/scale_extraction.py [--n 512] [--workers 2] [--rounds 2]
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


def jpeg_folder(root: Path, n: int, size: int = 224) -> Path:
    """``n`` demo images written as 224 px JPEGs with a manifest; returns the manifest."""
    import pandas as pd
    from PIL import Image

    from slicelens.data import load_dataset
    from slicelens.demo.data import DemoConfig, build_demo

    paths = build_demo(root / "demo", DemoConfig(n_train=n, n_val=0, n_test=0, n_pool=0,
                                                 image_size=32, seed=0))
    ds = load_dataset(paths.manifest)
    (root / "jpg").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(len(ds)):
        img = Image.fromarray(ds.load_uint8([i])[0]).resize((size, size), Image.BILINEAR)
        img.save(root / "jpg" / f"{i:06d}.jpg", quality=90)
        rows.append((f"jpg/{i:06d}.jpg", ds.classes[ds.labels[i]], "val"))
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(root / "m.csv", index=False)
    return root / "m.csv"


def time_reference(ds, adapter, size, batch, workers) -> float:
    """A plain DataLoader (same workers) feeding plain inference."""
    from torch.utils.data import DataLoader, Dataset

    from slicelens.data.images import decode_rgb, resize_rgb

    class Files(Dataset):
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return torch.from_numpy(resize_rgb(decode_rgb(ds.paths[i]), size))

    loader = DataLoader(Files(), batch_size=batch, num_workers=workers)
    t0 = time.perf_counter()
    with torch.no_grad():
        for xb in loader:
            adapter.logits(xb.permute(0, 3, 1, 2).float().div_(255.0))
    return time.perf_counter() - t0


def time_preloaded(ds, adapter, size, batch) -> float:
    x = ds.load(np.arange(len(ds)), size)
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(x), batch):
            adapter.logits(x[s:s + batch].to(adapter.device))
    return time.perf_counter() - t0


def time_extract(ds, adapter, batch, **cfg) -> float:
    from slicelens.extract import ExtractConfig, extract

    run_dir = Path(tempfile.mkdtemp(prefix="bench-run-"))
    try:
        t0 = time.perf_counter()
        extract(ds, adapter, run_dir, ExtractConfig(batch_size=batch, **cfg),
                data_spec={"source": "bench"}, model_spec={"spec": "bench"})
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def bench(name: str, manifest: Path, args, work: Path) -> dict:
    from slicelens.data import load_dataset
    from slicelens.models import build_model, save_model
    from slicelens.models.adapter import ModelAdapter
    from slicelens.models.builtin import builtin_info

    ds = load_dataset(manifest)
    size = 224
    module = build_model(name, len(ds.classes), size)
    info = builtin_info(name)
    adapter = ModelAdapter(module, ds.classes, input_size=size, normalize=info["normalize"])
    weights = save_model(module, work / f"{name}.pt")
    time_extract(ds.subset(np.arange(min(len(ds), 2 * args.batch))), adapter, args.batch,
                 workers=0)  # warm-up
    t = {k: [] for k in ("reference", "slicelens", "single", *(
        [f"ray-{a}" for a in (1, 2)] if args.ray else []))}
    for _ in range(args.rounds):
        t["reference"].append(time_reference(ds, adapter, size, args.batch, args.workers))
        t["slicelens"].append(time_extract(ds, adapter, args.batch, workers=args.workers))
        t["single"].append(time_extract(ds, adapter, args.batch, workers=0))
        if args.ray:
            for a in (1, 2):
                t[f"ray-{a}"].append(_time_ray(ds, adapter, args.batch, a, name, weights))
    if args.preloaded:
        t["preloaded"] = [time_preloaded(ds, adapter, size, args.batch)]
    ips = {k: len(ds) / statistics.median(v) for k, v in t.items()}
    out = {"model": name, "n": len(ds), "batch": args.batch, "workers": args.workers,
           "device": str(adapter.device), "images_per_s": ips, "seconds": t,
           "slicelens_over_reference": ips["slicelens"] / ips["reference"],
           "slicelens_over_single": ips["slicelens"] / ips["single"]}
    if args.ray:
        out["ray1_over_local"] = ips["ray-1"] / ips["slicelens"]
        out["ray2_over_ray1"] = ips["ray-2"] / ips["ray-1"]
    if args.preloaded:
        out["slicelens_over_preloaded"] = ips["slicelens"] / ips["preloaded"]
    return out


def _time_ray(ds, adapter, batch, actors, name, weights) -> float:
    from slicelens.extract import ExtractConfig, extract

    run_dir = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        t0 = time.perf_counter()
        extract(ds, adapter, run_dir, ExtractConfig(batch_size=batch, engine="ray",
                                                    actors=actors, ray_cpus=os.cpu_count()),
                data_spec={"source": "bench"},
                model_spec={"spec": name, "weights": str(weights)})
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["small-cnn", "efficientnet-lite0"])
    ap.add_argument("--no-ray", dest="ray", action="store_false")
    ap.add_argument("--preloaded", action="store_true",
                    help="also time plain inference on preloaded tensors (for a GPU)")
    ap.add_argument("--out", default=str(RESULTS / "scale_extraction.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("SLICELENS_QUIET", "1")
    work = Path(tempfile.mkdtemp(prefix="bench-scale-extract-"))
    try:
        manifest = jpeg_folder(work, args.n)
        rows = []
        for name in args.models:
            r = bench(name, manifest, args, work)
            rows.append(r)
            print(f"{name}: " + ", ".join(f"{k} {v:.1f} img/s" for k, v in r["images_per_s"].items())
                  + f"; slicelens/reference {r['slicelens_over_reference']:.2f}, "
                  f"slicelens/single {r['slicelens_over_single']:.2f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"benchmark": "scale_extraction", "cpus": os.cpu_count(), "rows": rows,
              "note": "ratios of throughput measured in the same run, median of rounds"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
