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
import torch.nn.functional as F
from pydantic import BaseModel, Field, field_validator

from slicelens import __version__
from slicelens.data.dataset import SPLITS
from slicelens.data.loader import BatchLoader, batches
from slicelens.errors import DataError, ModelError, WorkspaceError
from slicelens.extract.checks import check_finite
from slicelens.extract.methods import METHODS, get_method, normalize_sum1
from slicelens.store.atomic import remove_stale_tmp, save_npy, save_npz, write_json, write_parquet
from slicelens.store.paths import relocatable, workspace_of
from slicelens.store.run import ARRAYS, Run, weights_hash
from slicelens.utils import progress

KILL_ENV = "SLICELENS_TEST_KILL_AFTER_CHUNKS"
_CHUNK_KEYS = (*ARRAYS, "pred", "confidence", "loss")


class ExtractConfig(BaseModel):
    """Parameters of :func:`extract` (stored in the run record)."""

    batch_size: int = Field(64, ge=1, description="images per forward pass")
    method: str = Field("auto", description="attribution method: auto, cam or gradcam")
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

    @field_validator("method")
    @classmethod
    def _known_method(cls, v: str) -> str:
        if v != "auto" and v not in METHODS:
            raise ValueError(f"unknown method {v!r}; choose one of auto, {', '.join(METHODS)}")
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
        data_spec = dict(data_spec, source=save_arrays(dataset, (run_dir / "data.npz").resolve()))
    record, fresh = _start_record(run_dir, dataset, adapter, cfg, method.name, data_spec,
                                  model_spec)
    if record["status"] == "complete":
        shutil.rmtree(run_dir / "chunks", ignore_errors=True)
        return Run(run_dir)

    chunk_dir = run_dir / "chunks"
    chunk_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(chunk_dir)
    remove_stale_tmp(run_dir)
    n, cs, bs = len(dataset), cfg.chunk_size, cfg.batch_size
    size = cfg.image_size or adapter.input_size
    n_chunks = math.ceil(n / cs)
    kill_after = int(os.environ.get(KILL_ENV, "0") or 0)
    written = 0
    bounds = [(lo, min(lo + cs, n)) for lo in range(0, n, cs)]
    todo = [(c, lo, hi) for c, (lo, hi) in enumerate(bounds)
            if not (chunk_dir / f"chunk-{c:05d}.npz").exists()]
    plan = [(c, idx) for c, lo, hi in todo for idx in batches(hi, bs, start=lo)]
    loader = BatchLoader(dataset, [idx for _, idx in plan], size=size, workers=cfg.workers,
                         device=adapter.device)
    parts: dict[int, list[dict]] = {}
    with progress(total=sum(math.ceil((hi - lo) / bs) for lo, hi in bounds),
                  desc="extract", unit="batch") as bar, autocast(adapter.device, cfg.precision):
        bar.update(sum(math.ceil((hi - lo) / bs) for lo, hi in bounds) - len(plan))
        for (c, _), (images, idx) in zip(plan, loader, strict=True):
            parts.setdefault(c, []).append(extract_batch(
                adapter, method, images, torch.from_numpy(dataset.labels[idx])))
            check_finite(parts[c][-1], dataset.ids[idx], model_spec, run_dir,
                         fresh=fresh and written == 0)
            bar.update(1)
            if idx[-1] + 1 == bounds[c][1]:  # the chunk's last batch: write it
                done = parts.pop(c)
                save_npz(chunk_dir / f"chunk-{c:05d}.npz",
                         **{k: np.concatenate([p[k] for p in done]) for k in _CHUNK_KEYS})
                written += 1
                if kill_after and written >= kill_after:
                    os._exit(9)
    _consolidate(run_dir, dataset, record, n_chunks)
    return Run(run_dir)


def extract_batch(adapter, method, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Everything extraction stores for one batch, from one forward pass.

    Parameters
    ----------
    images : Tensor, shape (b, 3, H, W), float in [0, 1]
    labels : Tensor of int64, shape (b,); -1 = unlabeled (loss NaN)

    Returns
    -------
    dict of ndarray
        ``logits``, ``probs`` (b, C); ``features``, ``fw`` (b, d) float32; ``maps``
        (b, m, k) float16 summing to 1; ``pred`` int64, ``confidence``, ``loss`` (b,).
    """
    with torch.set_grad_enabled(method.needs_grad):
        x = images.requires_grad_(True) if method.needs_grad else images
        A, logits = adapter.forward_parts(x)
        pred = logits.detach().argmax(dim=1)
        raw = method.attribute(adapter, A, logits, pred)
    # the rest in float32 even under autocast (bf16 / fp16 is for the forward pass only)
    with torch.no_grad(), torch.autocast(A.device.type, enabled=False):
        A, logits, raw = A.detach().float(), logits.detach().float(), raw.detach().float()
        probs = logits.softmax(dim=1)
        confidence = probs.gather(1, pred[:, None])[:, 0]
        labels = labels.to(logits.device)
        loss = F.cross_entropy(logits, labels.clamp(min=0), reduction="none")
        loss = torch.where(labels >= 0, loss, torch.full_like(loss, float("nan")))
        W = normalize_sum1(raw)
        fw = weighted_features(A, W)
        out = dict(logits=logits, probs=probs, features=A.mean(dim=(2, 3)), fw=fw,
                   maps=W.half(), pred=pred, confidence=confidence, loss=loss)
        return {k: v.cpu().numpy() for k, v in out.items()}


def autocast(device, precision: str):
    """``torch.autocast`` for ``bf16`` / ``fp16`` on ``device``; a no-op context for fp32."""
    import contextlib

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def weighted_features(A: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Attribution-weighted feature vectors (AttributionScanner Sec. III-D(1), Eq. 1).

    ``F_W[n, :] = sum_{i,j} A[n, :, i, j] * W[n, i, j]``: a weighted average of the
    layer's feature vectors when each ``W[n]`` sums to 1 (uniform ``W`` gives ``F``).

    Parameters
    ----------
    A : Tensor, shape (n, d, m, k)
    W : Tensor, shape (n, m, k)

    Returns
    -------
    Tensor, shape (n, d)
    """
    return torch.einsum("ndij,nij->nd", A, W.to(A.dtype))


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
    path = run_dir / "record.json"
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
    out.pop("extract.workers", None)  # ... nor the number of decoding processes
    out.setdefault("extract.precision", "fp32")  # records from before precision existed
    return out


def _consolidate(run_dir: Path, dataset, record: dict, n_chunks: int) -> None:
    """Merge chunks into the final artifacts, mark the record complete, drop the chunks.

    Every file is replaced atomically and the record is written last, so a kill at any
    point leaves either a "running" run (resumable, chunks intact) or a complete one.
    """
    chunks = []
    for c in range(n_chunks):
        with np.load(run_dir / "chunks" / f"chunk-{c:05d}.npz") as z:
            chunks.append({k: z[k] for k in _CHUNK_KEYS})
    data = {k: np.concatenate([ch[k] for ch in chunks]) for k in _CHUNK_KEYS}
    for name in ARRAYS:
        save_npy(run_dir / f"{name}.npy", data[name])
    labels = dataset.labels
    correct = pd.array(data["pred"] == labels, dtype="boolean")
    correct[labels < 0] = pd.NA
    samples = pd.DataFrame({
        "id": dataset.ids, "label": labels, "split": dataset.splits, "pred": data["pred"],
        "confidence": data["confidence"], "loss": data["loss"], "correct": correct,
    })
    write_parquet(run_dir / "samples.parquet", samples)
    record = dict(record, status="complete", finished_at=datetime.now(timezone.utc).isoformat(),
                  n=len(dataset), grid=list(data["maps"].shape[1:]),
                  feature_dim=int(data["features"].shape[1]),
                  arrays={k: {"shape": list(data[k].shape), "dtype": str(data[k].dtype)}
                          for k in ARRAYS})
    write_json(run_dir / "record.json", record)
    shutil.rmtree(run_dir / "chunks", ignore_errors=True)
