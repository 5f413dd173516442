"""The Ray engine on a local Ray instance with 2 CPUs: its run equals the local engine's
(same ids, predictions, maps within float tolerance), and a killed Ray job resumes
shard by shard (the local engine's chunk format)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_loader import _folder_dataset

from slicelens.extract import ExtractConfig
from slicelens.extract.extractor import KILL_ENV
from slicelens.store import Workspace

pytest.importorskip("ray.data", reason="the Ray engine is the optional 'ray' extra")
pytestmark = pytest.mark.slow


def _scripted_model(tmp_path) -> Path:
    from test_extract import ScriptableNaNNet

    class Net(ScriptableNaNNet):
        def forward(self, x):
            a = torch.nn.functional.adaptive_avg_pool2d(self.features(x), 1)
            return self.head(torch.flatten(a, 1))

    torch.manual_seed(0)
    path = tmp_path / "net.ts"
    torch.jit.script(Net()).save(str(path))
    return path


def _run(tmp_path, name, model, resume=None, **cfg):
    from slicelens.models import ModelSpec
    from slicelens.pipeline import extract_run

    spec = ModelSpec(spec=str(model), input_size=16)
    return extract_run(Workspace(tmp_path / "ws"), tmp_path / "m.csv", spec,
                       ExtractConfig(batch_size=4, chunk_size=8, **cfg), name=name, resume=resume)


def test_ray_run_equals_local_run_and_a_killed_ray_job_resumes(tmp_path):
    _folder_dataset(tmp_path, n=24)
    model = _scripted_model(tmp_path)
    local = _run(tmp_path, "local", model, workers=0)
    ray_run = _run(tmp_path, "ray", model, engine="ray", ray_cpus=2)
    assert ray_run.record["extract"]["engine"] == "ray"
    a, b = local.samples, ray_run.samples
    assert a["id"].tolist() == b["id"].tolist() and a["pred"].tolist() == b["pred"].tolist()
    for name in ("logits", "probs", "features", "fw", "maps"):
        np.testing.assert_allclose(local.array(name), ray_run.array(name), atol=1e-3, rtol=1e-3)

    # kill the Ray job after its first shard, then resume it (with the Ray engine again)
    tests, tmp, net = str(Path(__file__).parent), str(tmp_path), str(model)
    code = (f"import sys; sys.path.insert(0, {tests!r}); import test_ray_engine as t; "
            f"from pathlib import Path; t._run(Path({tmp!r}), 'killed', Path({net!r}), "
            "engine='ray', ray_cpus=2)")
    env = dict(os.environ, **{KILL_ENV: "1", "SLICELENS_QUIET": "1"})
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=300)
    assert proc.returncode == 9, proc.stderr.decode()[-3000:]
    killed = sorted((tmp_path / "ws" / "runs").glob("*-killed"))[-1]
    assert [p.name for p in (killed / "chunks").glob("chunk-*.npz")] == ["chunk-00000.npz"]
    resumed = _run(tmp_path, "killed", model, engine="ray", ray_cpus=2, resume=killed.name)
    assert resumed.record["status"] == "complete"
    np.testing.assert_allclose(resumed.array("fw"), local.array("fw"), atol=1e-3, rtol=1e-3)


def test_the_ray_engine_refuses_in_memory_arrays(tmp_path):
    from test_extract import build

    from slicelens.errors import DataError
    from slicelens.extract import extract

    ds, ad = build()
    with pytest.raises(DataError, match="reads image files"):
        extract(ds, ad, tmp_path / "r", ExtractConfig(engine="ray"),
                data_spec={"source": "<arrays>"}, model_spec={"spec": "x"})
