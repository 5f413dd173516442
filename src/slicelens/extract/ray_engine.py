"""The Ray engine: the same extraction on a Ray cluster, with Ray Data.

``slicelens extract --engine ray [--address ADDR]`` runs the pipeline as two Ray Data
stages: decoding and resizing image files as CPU tasks (``map_batches`` of a function
over the row list), and the model as an actor pool (``map_batches`` with a callable class; one actor
per GPU, or per ``cpus_per_actor`` CPUs) that runs the local engine's own
:func:`slicelens.extract.extractor.extract_batch`. The driver gathers the outputs into the
run's chunks (``chunks/chunk-NNNNN.npz``, the local engine's shard format), writing each
chunk atomically as soon as all its rows are back, so a killed job resumes shard by shard
(``--resume RUN``, with either engine). The local engine's consolidation then makes the
run: the artifact contract is the local engine's, byte for byte in layout and within
float tolerance in values.

Without ``address`` a local Ray instance is started (``ray.init(num_cpus=...)``), which is
how it is tested on one machine. Ray is an optional extra (``pip install
'slicelens[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from slicelens.errors import DataError, SliceLensError


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise SliceLensError("the Ray engine needs Ray Data: pip install 'slicelens[ray]' "
                             "(or 'ray[data]')") from None
    return ray


def _decode(batch: dict, size: int) -> dict:
    """CPU stage (Ray tasks): rows -> uint8 images (b, size, size, 3), with their rows."""
    from slicelens.data.images import decode_rgb, resize_rgb

    out = []
    for path in batch["path"]:
        img = decode_rgb(str(path))
        if img.shape[:2] != (size, size):
            img = resize_rgb(img, size)
        out.append(img)
    return {"row": batch["row"], "label": batch["label"], "image": np.stack(out)}


class _Model:
    """Actor stage: loads the model once, then runs :func:`extract_batch` per batch."""

    def __init__(self, model: dict, method: str, precision: str, threads: int):
        import torch

        from slicelens.extract.methods import get_method
        from slicelens.models import load_model

        torch.set_num_threads(max(1, threads))
        device = "cuda" if torch.cuda.is_available() else None
        self.adapter = load_model(**{**model, "device": device})
        self.method = get_method(method, self.adapter)
        self.precision = precision

    def __call__(self, batch: dict) -> dict:
        import torch

        from slicelens.extract.batch import autocast, extract_batch

        x = torch.from_numpy(np.ascontiguousarray(batch["image"])).to(self.adapter.device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        with autocast(self.adapter.device, self.precision):
            out = extract_batch(self.adapter, self.method, x,
                                torch.from_numpy(np.asarray(batch["label"], dtype=np.int64)))
        return {"row": np.asarray(batch["row"]), **out}


def run_chunks_ray(dataset, record: dict, todo: list[tuple[int, int, int]], chunk_dir: Path,
                   cfg, *, on_batch=None, on_chunk=None, after_save=None) -> None:
    """Compute the chunks ``todo`` (``(c, lo, hi)`` row ranges) on Ray and save each as
    ``chunk_dir/chunk-<c>.npz``.

    Parameters
    ----------
    dataset : ImageDataset
        Read from image files (in-memory arrays use the local engine).
    record : dict
        The run record: ``model`` (how actors load the model, with the pinned classes,
        input size, layer and normalisation) and ``method``.
    cfg : ExtractConfig
        ``batch_size``, ``precision``, ``address``, ``actors``, ``cpus_per_actor``,
        ``image_size``.
    on_batch : callable(n_rows), optional
        Progress, per model batch.
    on_chunk : callable(part, ids), optional
        Called with each chunk's outputs before it is saved (the finite check).
    after_save : callable(), optional
        Called after each chunk is saved (the kill hook of the tests).
    """
    from slicelens.store.atomic import save_npz

    if dataset.paths is None:
        raise DataError("the Ray engine reads image files; a dataset of in-memory arrays "
                        "uses the local engine (--engine local)", field="engine")
    if not todo:
        return
    ray = _ray()
    started = False
    if not ray.is_initialized():
        quiet = os.environ.get("SLICELENS_QUIET") == "1"
        ray.init(address=cfg.address, include_dashboard=False, log_to_driver=not quiet,
                 configure_logging=not quiet, logging_level="ERROR",
                 **({} if cfg.address else {"num_cpus": cfg.ray_cpus or os.cpu_count()}))
        started = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        if os.environ.get("SLICELENS_QUIET") == "1":
            logging.getLogger("ray").setLevel(logging.ERROR)
        ctx.execution_options.preserve_order = True
        rows = np.concatenate([np.arange(lo, hi) for _, lo, hi in todo])
        items = [{"row": int(r), "path": str(dataset.paths[r]), "label": int(dataset.labels[r])}
                 for r in rows]
        size = cfg.image_size or int(record["model"]["input_size"])
        gpus = int(ray.cluster_resources().get("GPU", 0))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        per_actor = cfg.cpus_per_actor
        actors = cfg.actors or (gpus if gpus else max(1, cpus // (per_actor + 1)))
        blocks = max(1, min(len(items) // cfg.batch_size, 256))  # enough for every actor
        ds = (ray.data.from_items(items, override_num_blocks=blocks)
              .map_batches(_decode, fn_kwargs={"size": size}, batch_size=cfg.batch_size,
                           num_cpus=1)
              .map_batches(_Model, fn_constructor_kwargs={
                  "model": record["model"], "method": record["method"],
                  "precision": cfg.precision, "threads": per_actor},
                  batch_size=cfg.batch_size, compute=ray.data.ActorPoolStrategy(size=actors),
                  num_gpus=1 if gpus else 0, num_cpus=0 if gpus else per_actor))
        chunk_of = {}
        for c, lo, hi in todo:
            chunk_of.update({r: c for r in range(lo, hi)})
        pending: dict[int, dict] = {c: {} for c, _, _ in todo}
        bounds = {c: (lo, hi) for c, lo, hi in todo}
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for j, r in enumerate(batch["row"]):
                pending[chunk_of[int(r)]][int(r)] = {k: v[j] for k, v in batch.items() if k != "row"}
            if on_batch:
                on_batch(len(batch["row"]))
            for c in [c for c, got in pending.items() if len(got) == bounds[c][1] - bounds[c][0]]:
                got = pending.pop(c)
                order = sorted(got)
                part = {k: np.stack([got[r][k] for r in order]) for k in got[order[0]]}
                if on_chunk:
                    on_chunk(part, dataset.ids[order])
                save_npz(chunk_dir / f"chunk-{c:05d}.npz", **part)
                if after_save:
                    after_save()
        if pending:
            raise SliceLensError(f"the Ray job returned no output for chunks {sorted(pending)}")
    finally:
        if started:
            ray.shutdown()
