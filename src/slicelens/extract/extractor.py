"""One-pass extraction: predictions, features and attribution maps for every sample.

Per batch there is exactly ONE forward pass (``adapter.forward_parts``); logits,
probabilities, prediction, confidence, loss, correctness, the pooled feature
``F = mean_hw(A)``, the predicted class's attribution map ``W`` (summing to 1 over the
``m x k`` grid) and the attribution-weighted feature (AttributionScanner, Sec. III-D(1),
Eq. 1)::

    F_W = sum_{i,j} A[:, i, j] * W[i, j]

all come from it. The closed-form ``cam`` method needs no backward pass (the batch runs
under ``torch.no_grad``); ``gradcam`` adds one backward pass per batch.

Results are written per chunk of ``chunk_size`` samples, atomically, to
``<run_dir>/chunks/``; a killed extraction started again with the same data, model and
config skips finished chunks. At the end the chunks are consolidated into the run's final
arrays (see :mod:`slicelens.store.run`), ``record.json`` turns ``"complete"`` and the
chunks are deleted.

Images come through the shared data pipeline (:class:`slicelens.data.loader.BatchLoader`):
decoded and resized in ``workers`` processes, prefetched, so the next batch decodes while
the model runs on this one. ``precision`` ``bf16`` / ``fp16`` runs the forward pass under
``torch.autocast`` (for accelerators); every stored array stays float32 (maps float16).

Test hook: with the environment variable ``SLICELENS_TEST_KILL_AFTER_CHUNKS=N`` the
process ends itself with ``os._exit(9)`` (like a SIGKILL: no cleanup, no ``finally``)
right after writing its N-th chunk. Only tests set it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, Field, field_validator

from slicelens import __version__
from slicelens.data.dataset import SPLITS
from slicelens.errors import DataError, ModelError, WorkspaceError
from slicelens.extract.batch import autocast, extract_batch, weighted_features  # noqa: F401 (API)
from slicelens.extract.checks import check_finite
from slicelens.extract.local_engine import run_chunks_local
from slicelens.extract.methods import get_method, method_names
from slicelens.store.artifacts import artifact_path
from slicelens.store.atomic import remove_stale_tmp, save_npy_stream, write_json, write_parquet
from slicelens.store.paths import relocatable, workspace_of
from slicelens.store.run import ARRAYS, Run, weights_hash
from slicelens.utils import progress

KILL_ENV = "SLICELENS_TEST_KILL_AFTER_CHUNKS"
_CHUNK_KEYS = (*ARRAYS, "pred", "confidence", "loss")


class ExtractConfig(BaseModel):
    """Parameters of :func:`extract` (stored in the run record)."""

    batch_size: int = Field(64, ge=1, description="images per forward pass")
    method: str = Field("auto", description="attribution method (read from the registry): "
                        + ", ".join(method_names()))
    chunk_size: int = Field(1024, ge=1, description="samples per resumable chunk")
    image_size: int | None = Field(None, ge=1, description="input side in pixels "
                                   "(default: the model's input size)")
    device: str | None = Field(None, description="device the model was loaded on")
    splits: list[str] | None = Field(None, description="only extract these splits")
    workers: int | None = Field(None, ge=0, description="image-decoding processes (default: "
                                "the CPU count minus one; 0 for in-memory arrays)")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="forward-pass precision (bf16 / fp16 autocast, for accelerators; "
                            "stored arrays stay float32)")
    engine: Literal["local", "ray"] = Field(
        "local", description="local (this process and its decoding workers) or ray (a Ray "
                             "cluster via Ray Data; pip install 'slicelens[ray]')")
    address: str | None = Field(None, description="Ray cluster address (default: start a "
                                "local Ray instance)")
    actors: int | None = Field(None, ge=1, description="Ray model actors (default: one per "
                               "GPU, else CPUs / (cpus-per-actor + 1))")
    cpus_per_actor: int = Field(1, ge=1, description="CPUs (torch threads) per Ray model actor")
    ray_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance "
                                 "(default: all)")

    @field_validator("method")
    @classmethod
    def _known_method(cls, v: str) -> str:
        if v not in method_names():
            raise ValueError(f"unknown method {v!r}; choose one of {', '.join(method_names())}")
        return v

    @field_validator("splits")
    @classmethod
    def _known_splits(cls, v):
        bad = [s for s in v or () if s not in SPLITS]
        if bad:
            raise ValueError(f"unknown split {bad[0]!r}; expected some of {', '.join(SPLITS)}")
        return v


def extract(dataset, adapter, run_dir: str | os.PathLike, cfg: ExtractConfig | None = None, *,
            data_spec: dict, model_spec: dict) -> Run:
    """Run (or resume) an extraction into ``run_dir``.

    Parameters
    ----------
    dataset : ImageDataset
        ``n`` samples (after ``cfg.splits``); its classes must be the adapter's.
    adapter : ModelAdapter
    run_dir : path
        The run directory (``Workspace.new_run_dir``); an interrupted run is resumed.
    cfg : ExtractConfig, optional
    data_spec : dict
        How to reload the data: ``source`` plus further ``load_dataset`` keyword
        arguments (``{"source": "<arrays>"}`` for in-memory data).
    model_spec : dict
        Keyword arguments of ``slicelens.models.load_model`` (``spec``, ``weights``, ...);
        ``classes``, ``input_size`` and ``layer`` are filled in from the adapter.

    Returns
    -------
    Run
        Complete; arrays ``logits``/``probs`` (n, C), ``features``/``fw`` (n, d) float32,
        ``maps`` (n, m, k) float16 summing to 1, and ``samples``.

    Examples
    --------
    >>> ws = Workspace()                                            # doctest: +SKIP
    >>> run_id, path = ws.new_run_dir("small-cnn")                  # doctest: +SKIP
    >>> run = extract(ds, adapter, path, ExtractConfig(batch_size=128),
    ...               data_spec={"source": "data/manifest.csv"},
    ...               model_spec={"spec": "small-cnn", "weights": "w.pt"})  # doctest: +SKIP
    """
    cfg = cfg or ExtractConfig()
    run_dir = Path(run_dir)
    if cfg.device is not None and torch.device(cfg.device) != adapter.device:
        raise ModelError(f"the model is on {adapter.device} but the config asks for "
                         f"{cfg.device}; load the model with device={cfg.device!r}")
    if list(dataset.classes) != list(adapter.classes):
        raise ModelError(f"dataset classes {dataset.classes} differ from the model's "
                         f"{adapter.classes}")
    adapter.check_classes()
    method = get_method(cfg.method, adapter)
    if cfg.splits:
        dataset = dataset.subset(np.isin(dataset.splits, cfg.splits))
    if len(dataset) == 0:
        raise DataError(f"nothing to extract: no samples in splits {cfg.splits}",
                        file=dataset.source, field="split")
    if "source" not in data_spec:
        raise DataError("data_spec needs a 'source' (how to reload the data)", field="source")

    if data_spec["source"] == "<arrays>" and dataset.arrays is not None:
        # in-memory images are saved with the run, so it reloads them (repair, heatmaps)
        from slicelens.data.arrays import save_arrays

        run_dir.mkdir(parents=True, exist_ok=True)
        arrays_file = save_arrays(dataset, artifact_path(run_dir, "data").resolve())
        data_spec = dict(data_spec, source=arrays_file)
    record, fresh = _start_record(run_dir, dataset, adapter, cfg, method.name, data_spec,
                                  model_spec)
    if record["status"] == "complete":
        shutil.rmtree(artifact_path(run_dir, "chunks"), ignore_errors=True)
        return Run(run_dir)

    chunk_dir = artifact_path(run_dir, "chunks")
    chunk_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(chunk_dir)
    remove_stale_tmp(run_dir)
    n, cs, bs = len(dataset), cfg.chunk_size, cfg.batch_size
    size = cfg.image_size or adapter.input_size
    n_chunks = math.ceil(n / cs)
    kill_after = int(os.environ.get(KILL_ENV, "0") or 0)
    bounds = [(lo, min(lo + cs, n)) for lo in range(0, n, cs)]
    todo = [(c, lo, hi) for c, (lo, hi) in enumerate(bounds)
            if not (chunk_dir / f"chunk-{c:05d}.npz").exists()]
    total = sum(math.ceil((hi - lo) / bs) for lo, hi in bounds)
    state = {"written": 0}

    def check(part, ids):
        check_finite(part, ids, model_spec, run_dir, fresh=fresh and state["written"] == 0)

    def saved():
        state["written"] += 1
        if kill_after and state["written"] >= kill_after:
            os._exit(9)

    with progress(total=total, desc=f"extract ({cfg.engine})", unit="batch") as bar:
        bar.update(total - sum(math.ceil((hi - lo) / bs) for _, lo, hi in todo))
        if cfg.engine == "ray":
            from slicelens.extract.ray_engine import run_chunks_ray

            run_chunks_ray(dataset, record, todo, chunk_dir, cfg, on_chunk=check,
                           after_save=saved, on_batch=lambda n: bar.update(math.ceil(n / bs)))
        else:
            with autocast(adapter.device, cfg.precision):
                run_chunks_local(dataset, adapter, method, todo, chunk_dir, cfg, size,
                                 check, saved, bar)
    _consolidate(run_dir, dataset, record, n_chunks)
    return Run(run_dir)


def _fingerprint(dataset, adapter) -> dict:
    ids = hashlib.sha1()
    for a in (dataset.ids, dataset.splits):
        ids.update("\n".join(a.tolist()).encode())
    ids.update(dataset.labels.tobytes())
    w = hashlib.sha1()
    for name, t in adapter.module.state_dict().items():
        w.update(name.encode())
        w.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return {"n": len(dataset), "samples_sha1": ids.hexdigest(), "weights_sha1": w.hexdigest()}


def _start_record(run_dir: Path, dataset, adapter, cfg, method, data_spec,
                  model_spec) -> tuple[dict, bool]:
    """The run's record: written as "running" (then ``fresh`` is True), or the existing
    one if it matches."""
    model = dict(model_spec)
    for key, value in (("classes", list(adapter.classes)), ("input_size", adapter.input_size),
                       ("layer", adapter.layer_name),
                       ("normalize", getattr(adapter, "normalization", None))):
        if model.get(key) is None:  # pin defaults, so a reload gets the same model
            model[key] = value
    new = json.loads(json.dumps({
        "format": 1, "run_id": run_dir.name, "status": "running",
        "created_at": datetime.now(timezone.utc).isoformat(), "finished_at": None,
        "slicelens_version": __version__, "torch_version": torch.__version__,
        "data": dict(data_spec), "model": model, "extract": cfg.model_dump(), "method": method,
        "classes": list(adapter.classes), "layer": adapter.layer_name,
        "fingerprint": _fingerprint(dataset, adapter),
        "weights_sha256": weights_hash(model),  # checked by Run.adapter() on reload
    }, default=str))
    new = relocatable(new, workspace_of(run_dir))  # a moved workspace still finds its files
    path = artifact_path(run_dir, "record")
    if path.exists():
        old = json.loads(path.read_text())
        a, b = _replay_keys(old), _replay_keys(new)
        diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if diff:
            raise WorkspaceError(
                f"{run_dir} holds a run with a different {', '.join(diff)}; it cannot be "
                "resumed with this config - use a new run directory")
        return old, False
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, new)
    return new, True


def _replay_keys(record: dict) -> dict:
    """The record's fields that must match for chunks to be reused, flattened one level."""
    out = {}
    for key in ("data", "model", "extract", "method", "fingerprint"):
        value = record.get(key)
        if isinstance(value, dict):
            out.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            out[key] = value
    out.pop("extract.device", None)  # the device may change on resume; nothing else may
    for key in ("workers", "engine", "address", "actors", "cpus_per_actor", "ray_cpus"):
        out.pop(f"extract.{key}", None)  # ... nor how the work is spread
    out.setdefault("extract.precision", "fp32")  # records from before precision existed
    return out


def _consolidate(run_dir: Path, dataset, record: dict, n_chunks: int) -> None:
    """Merge chunks into the final artifacts, mark the record complete, drop the chunks.

    Every file is replaced atomically and the record is written last, so a kill at any
    point leaves either a "running" run (resumable, chunks intact) or a complete one.
    """
    files = [artifact_path(run_dir, "chunks") / f"chunk-{c:05d}.npz" for c in range(n_chunks)]

    def column(name):  # one chunk of one array in memory at a time (10^6 x 1280 is 5 GB)
        for f in files:
            with np.load(f) as z:
                yield z[name]

    with np.load(files[0]) as z:
        first = {k: z[k] for k in _CHUNK_KEYS}
    n = len(dataset)
    for name in ARRAYS:
        save_npy_stream(run_dir / f"{name}.npy", (n, *first[name].shape[1:]),
                        first[name].dtype, column(name))
    data = {k: np.concatenate(list(column(k))) for k in ("pred", "confidence", "loss")}
    labels = dataset.labels
    correct = pd.array(data["pred"] == labels, dtype="boolean")
    correct[labels < 0] = pd.NA
    samples = pd.DataFrame({
        "id": dataset.ids, "label": labels, "split": dataset.splits, "pred": data["pred"],
        "confidence": data["confidence"], "loss": data["loss"], "correct": correct,
    })
    write_parquet(artifact_path(run_dir, "samples"), samples)
    record = dict(record, status="complete", finished_at=datetime.now(timezone.utc).isoformat(),
                  n=len(dataset), grid=list(first["maps"].shape[1:]),
                  feature_dim=int(first["features"].shape[1]),
                  arrays={k: {"shape": [n, *first[k].shape[1:]], "dtype": str(first[k].dtype)}
                          for k in ARRAYS})
    write_json(artifact_path(run_dir, "record"), record)
    shutil.rmtree(artifact_path(run_dir, "chunks"), ignore_errors=True)
