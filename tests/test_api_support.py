"""Shared fixtures of the API, web and benchmark tests: a workspace with images and a
manifest around a synthetic run (written by ``conftest.write_synthetic_run``, the one run
builder of the tests; no training), and a stand-in slice set for when no slicer is
installed.

Nothing here is a test; the helpers are imported by tests/test_api*.py,
tests/test_web_e2e.py and benchmarks/api_latency.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_synthetic_run(root: Path, n: int, *, n_images: int | None = None, seed: int = 0,
                        grid: int = 4, dim: int = 8, image_size: int = 16, all_val: bool = False):
    """A workspace with one complete run of ``n`` samples and two classes.

    Images are written as PNG for the first ``n_images`` samples (default all); a
    200k-sample run for the latency benchmark sets ``n_images`` small, since its endpoints
    never decode pixels.

    ``all_val`` puts every sample in the validation split (the split slicers fit on).

    Returns
    -------
    Workspace, Run
    """
    from conftest import write_synthetic_run as write_run
    from PIL import Image

    from slicelens.store import Workspace

    rng = np.random.default_rng(seed)
    ws = Workspace(root)
    data = Path(root) / "data"
    (data / "img").mkdir(parents=True, exist_ok=True)
    n_images = n if n_images is None else n_images
    ids = np.array([f"img/{i:06d}.png" for i in range(n)])
    labels = rng.integers(0, 2, n)
    splits = np.where(np.arange(n) % 2 == 0, "val", np.where(np.arange(n) % 4 == 1, "test", "train"))
    if all_val:
        splits[:] = "val"
    for i in range(n_images):
        px = rng.integers(0, 255, (image_size, image_size, 3), dtype=np.uint8)
        Image.fromarray(px).save(data / ids[i])
    pd.DataFrame({"path": ids, "label": np.array(["a", "b"])[labels], "split": splits,
                  "id": ids}).iloc[:n_images].to_csv(data / "manifest.csv", index=False)
    logits = rng.normal(size=(n, 2)).astype(np.float32)
    logits[np.arange(n), labels] += 1.0  # about 75 % correct
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pred = probs.argmax(1)
    run_id, run_dir = ws.new_run_dir("synthetic")
    feats = rng.normal(size=(n, dim)).astype(np.float32)
    maps = rng.random((n, grid, grid)).astype(np.float32)
    write_run(run_dir, labels, pred, splits, ids=ids, probs=probs, logits=logits,
              confidence=probs.max(1), loss=-np.log(probs[np.arange(n), labels]),
              features=feats, fw=feats * 0.5, maps=maps / maps.sum((1, 2), keepdims=True),
              record={"created_at": "2026-01-01T00:00:00+00:00",
                      "data": {"source": str((data / "manifest.csv").resolve()),
                               "skip_bad": False, "classes": ["a", "b"]}})
    return ws, ws.run(run_id)


def write_fixture_slices(run, slicer: str = "attribution", k: int = 8, split: str = "val"):
    """A stand-in slice set (PCA of F_W to 2-D, K-Means) saved in the run's format.

    Used only where the real slicer is not installed; metrics come from the library's
    ``slice_metrics`` when present.

    Returns
    -------
    SliceSet
    """
    from scipy.spatial import ConvexHull
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    from slicelens.slicing.base import Slice, SliceSet

    s = run.samples
    rows = np.flatnonzero((s["split"] == split).to_numpy())
    xy = PCA(2, random_state=0).fit_transform(np.asarray(run.array("fw"))[rows]).astype(np.float32)
    lab = KMeans(k, n_init=2, random_state=0).fit_predict(xy)
    slices = []
    for j in range(k):
        m = lab == j
        sub = s.iloc[rows[m]]
        pts = xy[m]
        poly = pts[ConvexHull(pts).vertices].tolist() if len(pts) >= 3 else None
        slices.append(Slice(id=f"{slicer}-{j:02d}", members=sub["id"].to_numpy(str),
                            description=f"cluster {j}", polygon=poly,
                            metrics=_metrics(sub, run.classes)))
    ss = SliceSet(slicer, {"k": k}, run.id, split, slices, s["id"].to_numpy(str)[rows],
                  lab.astype(np.int64), xy)
    ss.save(run.path)
    return ss


def _metrics(sub: pd.DataFrame, classes) -> dict:
    try:
        from slicelens.slicing.metrics import slice_metrics
    except ImportError:
        return {"size": len(sub), "accuracy": float(sub["correct"].mean()),
                "confidence": float(sub["confidence"].mean())}
    return slice_metrics(sub, classes)


def make_client(name: str, n: int = 120, k: int = 6, **settings):
    """A TestClient on a fresh synthetic workspace with a stand-in slice set.

    The workspace lives in its own temporary directory (removed at exit), not in pytest's
    numbered ones, which a concurrent pytest session may prune.

    Returns
    -------
    client : TestClient
    run : Run
    slice_set : SliceSet
    """
    import atexit
    import shutil
    import tempfile

    from fastapi.testclient import TestClient

    from slicelens.server import Settings, create_app

    tmp = tempfile.mkdtemp(prefix=f"slicelens-{name}-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    root = Path(tmp) / "ws"
    ws, run = write_synthetic_run(root, n)
    ss = write_fixture_slices(run, k=k)
    # the server serves loopback host names only (DNS rebinding): talk to it as 127.0.0.1
    client = TestClient(create_app(Settings(workspace=ws.root, **settings)),
                        base_url="http://127.0.0.1")
    return client, run, ss
