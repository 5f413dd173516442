"""Two ``slicelens repair`` processes at once on one workspace: both models intact.

Both repairs have the same strategy and name, so before names were claimed atomically
they both wrote ``models/repair-corm-1.pt`` and one run's model was the other's. Each
repaired run must reload (through its record, with the weights hash checked) to the
logits it stored.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from demo_bed import fast_demo_run

from slicelens.feedback import annotate_slice
from slicelens.store import Workspace


@pytest.mark.slow
def test_two_concurrent_repairs_keep_both_models(tmp_path):
    import torch

    from slicelens.pipeline.slices import find_slices

    st = fast_demo_run(tmp_path / "ws", epochs=1)
    ws = st.workspace
    ss = find_slices(st.run, "attribution")
    annotate_slice(ws, st.run, "attribution", ss.slices[0].id, "spurious", "bed", "t")
    cmd = [sys.executable, "-m", "slicelens", "repair", "--workspace", str(ws.root), "--run",
           st.run.id, "--strategy", "corm", "--no-control", "--epochs", "1", "--num-threads", "1"]
    env = {**os.environ, "SLICELENS_QUIET": "1"}
    procs = [subprocess.Popen([*cmd, "--seed", str(seed)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for seed in (1, 2)]
    outs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    repaired = [r for r in Workspace(ws.root, create=False).runs()
                if r.record.get("base_run") == st.run.id]
    assert len(repaired) == 2
    weights = [r.record["model"]["weights"] for r in repaired]
    assert len(set(weights)) == 2 and all(os.path.getsize(w) > 0 for w in weights)
    for run in repaired:
        adapter = run.adapter()  # checks the weights hash stored in the record
        ds = run.dataset()
        ids = run.samples["id"].to_numpy()[:32]
        with torch.no_grad():
            logits = adapter.logits(ds.load(ds.index_of(ids), adapter.input_size)).numpy()
        stored = run.array("logits")[:32]
        assert np.abs(logits - stored).max() < 1e-4, run.id
