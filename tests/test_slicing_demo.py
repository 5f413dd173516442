"""End to end on the planted-bug demo (``demo --fast`` data): the attribution slicer finds
the spurious minority group; find_slices + the mosaic + both CLI commands work on a
real trained model."""

from __future__ import annotations

import argparse

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from slicelens.demo.run import (
        DemoRun,
        DemoState,
        step_build_data,
        step_extract,
        step_train,
    )
    from slicelens.store import Workspace

    mp = pytest.MonkeyPatch()
    mp.setenv("SLICELENS_QUIET", "1")
    st = DemoState(workspace=Workspace(tmp_path_factory.mktemp("demo") / "ws"),
                   cfg=DemoRun.fast(seed=0), echo=lambda s: None)
    for step in (step_build_data, step_train, step_extract):
        step(st)
    yield st
    mp.undo()


def _spurious_group(st) -> set:
    """Val ids of the minority class|background group the model gets most wrong."""
    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import join_ground_truth

    df = join_ground_truth(st.run.samples, load_ground_truth(st.paths.ground_truth))
    val = df[df["split"] == "val"]
    a, b = st.cfg.data.backgrounds[:2]
    minority = [f"0-4|{b}", f"5-9|{a}"]
    worst = min(minority, key=lambda g: val.loc[val["group"] == g, "correct"].astype(float).mean())
    return set(val.loc[val["group"] == worst, "id"])


def _best(slices, truth: set) -> tuple[float, float]:
    """(precision of the best-F1 slice, best P@10 among the 10 top-ranked slices)."""
    from slicelens.slicing.metrics import best_match

    m = best_match(slices, truth)
    return m["precision"], m["p_at_k"]


def test_attribution_slicer_finds_the_spurious_group(demo):
    """Thresholds measured on demo --fast seeds 0, 1, 2 (the group is 25% of val):
    unified slicer best-slice precision 0.58 / 0.60 / 0.80 and P@10 1.0 / 0.83 / 0.83;
    confusion-segregated precision 1.0 on all three. Seed 0 gave P@10 0.67 once inside
    the full suite (training floats vary with what ran before in the process). We ask
    for twice the chance precision (0.5) and P@10 >= 0.6 from the paper's method, 0.9
    precision from the segregated one."""
    from slicelens.slicing.base import get_slicer

    truth = _spurious_group(demo)
    precision, p10 = _best(get_slicer("attribution").fit(demo.run, "val").slices_, truth)
    assert precision >= 0.5 and p10 >= 0.6
    seg = get_slicer("attribution", segregate="confusion").fit(demo.run, "val").slices_
    assert _best(seg, truth)[0] >= 0.9


def _cli(name: str, argv: list[str]) -> int:
    import importlib

    mod = importlib.import_module(f"slicelens.cli.{name}")
    p = argparse.ArgumentParser()
    mod.add_arguments(p)
    return mod.run(p.parse_args(argv))


def test_cli_slices_and_mosaic(demo, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see test_mosaic.py
    try:
        ws = str(demo.workspace.root)
        assert _cli("slices", ["--workspace", ws, "--slicer", "attribution", "--top", "5"]) == 0
        out = capsys.readouterr().out
        assert "attribution-00" in out and "interval" in out and "slicelens mosaic" in out
        assert _cli("mosaic", ["--workspace", ws, "--steps", "3", "--canvas", "256"]) == 0
        out = capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)
    from slicelens.pipeline.slices import load_slices

    ss = load_slices(demo.run, "attribution")
    tiles = demo.run.path / "mosaic" / "attribution"
    assert sorted(p.stem for p in tiles.glob("attribution-*.png")) == sorted(s.id for s in ss.slices)
    assert (tiles / "mosaic.png").exists() and str(tiles / "mosaic.png") in out


def test_cli_rejects_another_slicers_option(demo):
    from slicelens.errors import SliceLensError

    with pytest.raises(SliceLensError, match="--n-slices is not an option of the 'attribution'"):
        _cli("slices", ["--workspace", str(demo.workspace.root), "--slicer", "attribution",
                        "--n-slices", "4"])


def test_cli_error_aware_slices_in_words_with_bug_types(demo, capsys):
    """Words from the attribute matrix, the confusion cell under them, a bug type with
    its evidence for every slice (the demo run has a training split)."""
    from slicelens.attributes.proposal import propose_attributes
    from slicelens.pipeline.attributes import assign_attributes
    from slicelens.pipeline.slices import load_slices

    assign_attributes(demo.run, spec=propose_attributes("builtin", object="digit",
                                                        semantic=False))
    ws = str(demo.workspace.root)
    assert _cli("slices", ["--workspace", ws, "--slicer", "error-aware", "--n-slices", "8",
                           "--top", "8"]) == 0
    out = capsys.readouterr().out
    ss = load_slices(demo.run, "error-aware")
    assert all("explanation" in s.evidence for s in ss.slices)
    assert "why each bug type" in out and ss.slices[0].evidence["explanation"] in out
    worded = [s for s in ss.slices if s.evidence.get("conditions")]
    assert worded, "no slice got words from the attribute matrix"
    s = worded[0]
    assert s.description in out and f"  {s.metrics['confusion_text']}" in out
    assert all(t["q"] <= 0.05 for t in s.evidence["enrichment"])


def test_cli_slices_checks_the_training_labels(demo, capsys):
    """`slicelens slices` also runs the training-label check (the wrong-labels slicer on
    train) and prints its suspect groups: on the demo, whose flipped digit's training
    labels are partly wrong (20 of 600 training samples on demo --fast), the suspects hold
    most flipped samples (measured: 18 of 20 in 46 suspects) at many times their base
    rate; the check is its own stored set, never the preferred one, and
    --no-label-check skips it."""
    import numpy as np

    from slicelens.evaluate.groups import load_ground_truth
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.pipeline.slices import load_slices, suspect_slices
    from slicelens.slicing.runio import preferred_slicer

    ws = str(demo.workspace.root)
    assert _cli("slices", ["--workspace", ws, "--slicer", "error-clustering", "--show", "3"]) == 0
    out = capsys.readouterr().out
    ss = load_slices(demo.run, "wrong-labels")
    assert ss.split == "train"
    sus = suspect_slices(ss)
    assert sus and "Training labels:" in out and sus[0].id in out
    part = out.split("Training labels:")[1]
    line = next(x for x in part.splitlines() if x.startswith(sus[0].id)).split()
    # slice, size, labelled, suggested: class names, as the evidence gives them
    assert line[1:4] == [str(sus[0].size), sus[0].evidence["labelled"], sus[0].evidence["suggested"]]
    assert set(line[2:4]) <= set(demo.run.classes)
    df = join_ground_truth(demo.run.samples, load_ground_truth(demo.paths.ground_truth))
    flipped = set(df.loc[(df["split"] == "train") & df["flipped"].astype(bool), "id"])
    held = [m for s in sus for m in s.members]
    caught = np.mean([m in flipped for m in held])
    assert len(set(held) & flipped) >= 0.6 * len(flipped)
    assert caught >= 5 * len(flipped) / int((df["split"] == "train").sum())
    assert preferred_slicer(demo.run) != "wrong-labels"
    stored = demo.run.artifact_path("slices", "wrong-labels")
    # --list reads the stored check too, beside the stored slices
    assert _cli("slices", ["--workspace", ws, "--list", "--slicer", "error-clustering"]) == 0
    listed = capsys.readouterr().out
    assert "Training labels:" in listed and sus[0].id in listed
    before = stored.stat().st_mtime_ns
    assert _cli("slices", ["--workspace", ws, "--slicer", "error-clustering",
                           "--no-label-check"]) == 0
    out = capsys.readouterr().out
    assert "Training labels" not in out and stored.stat().st_mtime_ns == before
    # asked again, the stored check still holds (the run did not change): reused, said so
    assert _cli("slices", ["--workspace", ws, "--slicer", "error-clustering"]) == 0
    out = capsys.readouterr().out
    assert "check is reused" in out and sus[0].id in out and stored.stat().st_mtime_ns == before
    # a set the person fitted with their own parameters is what the check shows, not
    # overwritten by the defaults
    assert _cli("slices", ["--workspace", ws, "--slicer", "wrong-labels", "--split", "train",
                           "--n-slices", "2"]) == 0
    own = stored.stat().st_mtime_ns
    capsys.readouterr()
    assert _cli("slices", ["--workspace", ws, "--slicer", "error-clustering"]) == 0
    assert "check is reused" in capsys.readouterr().out
    assert stored.stat().st_mtime_ns == own
    assert load_slices(demo.run, "wrong-labels").params["n_slices"] == 2
    before = own
    # a check made by a version with other parameters is fitted again (keeping the
    # person's values)
    import json

    meta = json.loads(stored.read_text())
    del meta["params"]["shape_vote"]
    stored.write_text(json.dumps(meta))
    old = stored.stat().st_mtime_ns
    assert _cli("slices", ["--workspace", ws, "--slicer", "error-clustering"]) == 0
    assert "reused" not in capsys.readouterr().out and stored.stat().st_mtime_ns > old
    params = load_slices(demo.run, "wrong-labels").params
    assert params["n_slices"] == 2 and params["shape_vote"] is True
    before = stored.stat().st_mtime_ns
    # once the run's samples are newer, it is fitted again
    import os

    samples = demo.run.path / "samples.parquet"
    st = samples.stat()
    os.utime(samples, ns=(st.st_atime_ns, before + 10**9))
    try:
        assert _cli("slices", ["--workspace", ws, "--slicer", "error-clustering"]) == 0
        out = capsys.readouterr().out
        assert "reused" not in out and stored.stat().st_mtime_ns > before
        assert load_slices(demo.run, "wrong-labels").params["n_slices"] == 2  # kept
    finally:
        os.utime(samples, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_app_slicing_job_checks_the_training_labels(demo):
    """The app's Find-slices job runs the same label check: its result counts the suspect
    groups of the stored wrong-labels set, which the run's slice-set menu then lists."""
    import time

    from fastapi.testclient import TestClient

    from slicelens.pipeline.slices import load_slices, suspect_slices
    from slicelens.server import Settings, create_app

    client = TestClient(create_app(Settings(workspace=demo.workspace.root)),
                        base_url="http://127.0.0.1")
    run = demo.run.id
    job = client.post(f"/api/runs/{run}/slicesets/error-clustering/jobs", json={}).json()
    deadline = time.monotonic() + 120
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["status"] == "done", job["error"]
    sus = suspect_slices(load_slices(demo.run, "wrong-labels"))
    assert job["result"]["label_check"] == {"slicer": "wrong-labels", "groups": len(sus),
                                            "suspects": sum(s.size for s in sus)}
    assert len(sus) >= 1
    info = next(r for r in client.get("/api/runs").json() if r["id"] == run)
    assert "wrong-labels" in info["slice_sets"] and info["preferred_slicer"] != "wrong-labels"
