"""End to end on `demo --fast` data: slices -> scripted marks -> propagation -> CoRM ->
new run -> evaluation, through the demo steps and through the CLI commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from slicelens.demo import run as demo_run
from slicelens.demo import scanner
from slicelens.demo.run import DemoRun, DemoState
from slicelens.evaluate.groups import load_ground_truth
from slicelens.feedback import current_spuriousness, list_marks
from slicelens.pipeline.slices import load_slices
from slicelens.repair.plan import TrainingPlan
from slicelens.store import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    lines = []
    ws = Workspace(tmp_path_factory.mktemp("scanner") / "ws")
    st = DemoState(workspace=ws, cfg=DemoRun.fast(), echo=lines.append)
    for step in (demo_run.step_build_data, demo_run.step_train, demo_run.step_extract):  # the run to repair
        step(st)
    st.cfg.train.epochs = 1  # the CoRM retraining: one epoch is enough to test the loop
    for step in scanner.STEPS:
        step(st)
    return st, "\n".join(lines)


def _cli(name: str, argv: list[str]) -> int:
    import importlib

    mod = importlib.import_module(f"slicelens.cli.{name}")
    p = argparse.ArgumentParser()
    mod.add_arguments(p)
    return mod.run(p.parse_args(argv))


def test_demo_steps_walk_the_loop(loop):
    st, out = loop
    ss = load_slices(st.run, "attribution")
    marks = list_marks(st.workspace, st.run, "attribution")
    assert 1 <= len(marks) <= 3 and {m.author for m in marks} == {"demo-script"}
    truth = scanner.slice_truth(ss, st.run.samples, load_ground_truth(st.paths.ground_truth),
                                     st.run.classes)
    truth = truth.set_index("slice_id")
    assert all(m.label == truth.loc[m.target_id, "truth"] for m in marks)  # truthful
    table = current_spuriousness(st.workspace, st.run, "attribution")
    assert (table["source"] == "human").sum() == len(marks)
    new = st.results["repaired_run"]
    assert new.is_complete and new.record["base_run"] == st.run.id
    # the default repair (DFR from the marks), paired with its matched control
    assert new.record["plan"]["strategy"] == "dfr" and new.record["plan"]["head_only"]
    control = st.workspace.run(new.record["control_run"])
    assert control.record["plan"]["strategy"] == "control" and not control.record["plan"]["head_data"]
    ev = st.results["evaluation"]
    assert set(ev) == {"before", "control", "after"}
    assert ev["control"]["run"] == control.id
    assert "matched control" in st.results["verdict"]
    assert ev["before"]["average"] == pytest.approx(
        st.run.samples.query("split == 'test'")["correct"].mean())
    # the first slice table is printed after the attributes are assigned: words (where a
    # value is enriched), the confusion cell beside them, and a bug type for every slice
    table_out = out.split("[scanner 1b]")[1].split("[scanner 2]")[0]
    assert "bug type" in table_out and "confusion" in table_out
    worded = [s for s in ss.slices[:6] if s.evidence.get("conditions")]
    assert worded, "no slice of the demo's table got words"
    for s in worded:
        assert s.description[:60] in table_out and s.description != s.metrics["confusion_text"]
    from slicelens.slicing.bugtype import TYPE_WORDS

    assert all(TYPE_WORDS[s.bug_type] in table_out for s in ss.slices[:6])
    assert "SCRIPTED annotator" in out and "masks: ground_truth" in out and "rcs" in out
    assert "verdict:" in out
    mosaic = st.results["mosaic"]  # the mosaic step: one tile per slice, the composed PNG
    assert mosaic["tiles"] == len(ss.slices) and Path(mosaic["mosaic"]).is_file()
    spaces = [r["space"] for r in st.results["consistency"]]
    assert spaces == ["feature space (F)", "attribution space (F_W)"]
    assert set(st.results["repairs"]) >= {
        "dfr from marks (default)", "matched control of dfr from marks (default)",
        "group oracle: DFR with TRUE groups (evaluation only)"}


def test_demo_shows_the_default_slicers_top_10_and_the_planted_bugs_among_them(loop):
    from slicelens.demo.planted import planted_members
    from slicelens.slicing.base import DEFAULT_SLICER
    from slicelens.slicing.bugtype import TYPE_WORDS

    st, out = loop
    part = out.split("[scanner 1]")[1].split("[scanner 1b]")[0]
    ss = load_slices(st.run, DEFAULT_SLICER)
    assert f"{DEFAULT_SLICER} slices (the default slicer)" in part
    for s in ss.slices[:10]:  # every top slice in words with its bug type
        assert s.id in part and s.description[:64] in part and TYPE_WORDS[s.bug_type] in part
    rows = st.results["discovery"]["planted"]
    groups = planted_members(st.run.samples, load_ground_truth(st.paths.ground_truth),
                             rare_digit=st.cfg.data.rare_digit, flip_digit=st.cfg.data.flip_digit)
    assert [r["planted bug"] for r in rows] == list(groups)
    for r in rows:  # P@10 recomputed from the slice's 10 most typical members
        ids = groups[r["planted bug"]][1]
        best = next(s for s in ss.slices[:10] if s.id == r["best top slice"])
        p10 = sum(m in ids for m in best.members[:10]) / len(best.members[:10])
        assert r["P@10"] == pytest.approx(p10) and r["found"] == (p10 >= 0.8)
        assert all(sum(m in ids for m in s.members[:10]) / max(len(s.members[:10]), 1) <= p10
                   for s in ss.slices[:10])
        assert r["planted bug"] in part
        # whether the bug is a failure at all: its accuracy recomputed from its members
        correct = st.run.samples.set_index("id")["correct"]
        assert r["its accuracy"] == pytest.approx(float(correct.loc[sorted(ids)].mean()))
        if r["reference"] - r["its accuracy"] < 0.10:  # a failure needs the 0.10 gap
            assert not r["a failure"]
    assert "a failure = accuracy >= 0.10 below its reference" in part
    # the training-label check beside the slices, its figures recomputed from the stored set
    from slicelens.evaluate.planted import join_ground_truth
    from slicelens.pipeline.slices import suspect_slices

    lc = st.results["label_check"]
    sus = suspect_slices(load_slices(st.run, "wrong-labels"))
    df = join_ground_truth(st.run.samples, load_ground_truth(st.paths.ground_truth))
    flipped = set(df.loc[(df["split"] == "train") & df["flipped"].astype(bool), "id"])
    held = {m for s in sus for m in s.members}
    assert lc == {"groups": len(sus), "suspects": len(held), "flipped": len(flipped),
                  "flipped_caught": len(held & flipped)}
    assert f"holding {len(held & flipped)} of the {len(flipped)} flipped ones" in part
    assert lc["flipped_caught"] >= 0.5 * lc["flipped"]  # demo --fast: 18 of 20


def test_cli_annotate_repair_evaluate(loop, capsys, tmp_path, monkeypatch):
    st, _ = loop
    ws, base = str(st.workspace.root), st.run.id
    ss = load_slices(st.run, "attribution")
    assert _cli("annotate", ["-w", ws, "--run", base, "--slice", ss.slices[1].id,
                             "--label", "spurious", "--description", "cli mark"]) == 0
    out = capsys.readouterr().out
    assert "spuriousness of attribution slices" in out and "cli mark" in out
    assert _cli("annotate", ["-w", ws, "--run", base, "--list"]) == 0
    assert ss.slices[1].id in capsys.readouterr().out
    seen = {}

    def fake_run_repair(workspace, run, strategy, params, train_cfg, progress, init, name, control):
        seen.update(strategy=strategy, params=params, epochs=train_cfg.epochs, init=init, name=name,
                    control=control)
        return TrainingPlan(**st.results["repaired_run"].record["plan"]), st.results["repaired_run"]

    import slicelens.pipeline.repair

    monkeypatch.setattr(slicelens.pipeline.repair, "run_repair", fake_run_repair)
    assert _cli("repair", ["-w", ws, "--run", base, "--strategy", "corm", "--source", "marks",
                           "--sigma", "0.3", "--set", "dilate=2", "--epochs", "1",
                           "--init", "finetune", "--name", "cli-corm"]) == 0
    assert seen == {"strategy": "corm", "params": {"source": "marks", "sigma": 0.3, "dilate": 2},
                    "epochs": 1, "init": "finetune", "name": "cli-corm", "control": True}
    out = capsys.readouterr().out
    new_id = out.split("new run: ")[1].split(";")[0].split()[0]
    assert new_id == st.results["repaired_run"].id
    # the CLI shows the repair beside its matched control, with the verdict in words
    assert "matched control: " in out and "role" in out and "control" in out and "verdict:" in out
    report = tmp_path / "report.json"
    assert _cli("evaluate", ["-w", ws, "--run", new_id, "--baseline", base, "--ground-truth", "none",
                             "--trials", "1", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    rep = json.loads(report.read_text())
    assert rep["mask_source"] == "annotations" and "masks: annotations" in out
    assert [m["role"] for m in rep["models"]] == ["before", "control", "after"] and rep["slices"]
    assert "acc_control" in rep["slices"][0] and rep["verdict"]
    assert rep["slices"][-1]["slice_id"] == "(all)"
