"""End to end on `demo --fast` data: attribute_errors, the CLI, whole-model effects, the
demo step, and applying a row as a training plan."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from slicelens.demo.run import DemoRun, run_demo
from slicelens.errors import SliceLensError
from slicelens.evaluate.groups import load_ground_truth
from slicelens.models import TrainConfig
from slicelens.store import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("tda") / "ws")
    return run_demo(ws, DemoRun.fast(), echo=lambda *_: None)


@pytest.fixture(scope="module")
def oracle(demo):
    gt = load_ground_truth(demo.paths.ground_truth)
    pool = gt[gt["split"] == "pool"]
    return {i: demo.run.classes.index(lab) for i, lab in pool["true_label"].items()}


@pytest.fixture(scope="module")
def result(demo, oracle):
    from slicelens.pipeline.tda import attribute_errors, load_problem
    from slicelens.tda.groups import worst_confusion_cell

    cell = worst_confusion_cell(load_problem(demo.run))
    return attribute_errors(demo.run, cell, top=4, resamples=3, oracle=oracle)


def test_attribute_errors_answers_on_the_demo(demo, result):
    from slicelens.pipeline.tda import result_path
    from slicelens.tda.result import TDAResult

    saved = result_path(demo.run, result.error_group)
    assert saved.exists() and TDAResult.load(saved).to_json() == result.to_json()
    exact = [r for r in result.rows if r.method == "exact"]
    assert len(exact) == 4 and [r.rank for r in exact] == [1, 2, 3, 4]
    for r in exact:
        assert r.ci_low <= r.effect <= r.ci_high and 0 <= r.p_value <= 1
        assert np.isfinite(r.global_effect) and r.n_retrains == 3
    assert {r.action for r in result.rows} == {"remove", "relabel", "upweight", "add"}
    assert any(r.action == "add" and r.add for r in result.rows)          # pool + oracle used
    assert 0.5 <= result.baseline["agreement_val"] <= 1.0
    assert result.run_id == demo.run.id


def test_apply_row_makes_a_new_run_with_the_plan(demo, result):
    from slicelens.pipeline.tda import apply_row

    new = apply_row(demo.workspace, demo.run, result, 1, TrainConfig(epochs=1))
    assert new.is_complete and new.record["base_run"] == demo.run.id
    plan = new.record["plan"]
    assert plan["strategy"] == "tda-action" and plan["params"]["group"] == result.row(1).group.name
    control = demo.workspace.run(new.record["control_run"])   # judged against its control
    assert control.record["plan"]["strategy"] == "control" and control.id != new.id


def test_model_effects_pair_baseline_and_action_per_seed(demo, result):
    from slicelens.pipeline.tda import _cached_baseline, model_effects

    n_runs = len(demo.workspace.runs())
    row = model_effects(demo.workspace, demo.run, result, 1, seeds=(0, 1), train_cfg=TrainConfig(epochs=1))
    assert row.method == "model" and row.n_retrains == 2 and np.isfinite(row.effect)
    assert np.isfinite(row.p_value) and row.ci_low <= row.effect <= row.ci_high
    assert len(demo.workspace.runs()) == n_runs + 4
    base0 = _cached_baseline(demo.workspace, demo.run, TrainConfig(epochs=1, seed=0), "scratch")
    assert base0 is not None and base0.record["plan"]["strategy"] == "tda-baseline"  # reused next time
    assert _cached_baseline(demo.workspace, demo.run, TrainConfig(epochs=1, seed=7), "scratch") is None
    with pytest.raises(SliceLensError, match="two seeds"):
        model_effects(demo.workspace, demo.run, result, 1, seeds=(0,))


def _cli(argv):
    from slicelens.cli import tda

    p = argparse.ArgumentParser()
    tda.add_arguments(p)
    return tda.run(p.parse_args(argv))


def test_cli_prints_the_table_and_wrong_labels(demo, result, capsys, tmp_path):
    ws = str(demo.workspace.root)
    run_id = demo.run.id
    cell = f"{result.error_group.source['true']}->{result.error_group.source['pred']}"
    assert _cli(["-w", ws, "--run", run_id, "--confusion", cell, "--top", "2", "--resamples", "2",
                 "--actions", "remove", "relabel", "--show", "5"]) == 0
    out = capsys.readouterr().out
    assert "loss change [95% CI]" in out and "exact" in out and "agrees with the model" in out
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(result.error_group.ids[:5]))
    assert _cli(["-w", ws, "--run", run_id, "--ids", str(ids), "--no-exact", "--metric", "gt_prob"]) == 0
    assert "gt_prob change" in capsys.readouterr().out
    assert _cli(["-w", ws, "--run", run_id, "--wrong-labels", "--show", "3"]) == 0
    out = capsys.readouterr().out
    assert "mislabelled" in out and "margin" in out
    with pytest.raises(SliceLensError, match="unknown class"):
        _cli(["-w", ws, "--run", run_id, "--confusion", "cats->dogs"])
    # the demo has attribution slices by now: an unknown id is named with the ones there are
    with pytest.raises(SliceLensError, match="no slice 's1' in attribution; slices: attribution-00"):
        _cli(["-w", ws, "--run", run_id, "--slice", "attribution:s1"])


def test_demo_step_answers_and_scores_wrong_labels(demo):
    from slicelens.demo.tda import step_tda

    lines = []
    demo.echo = lines.append
    step_tda(demo)
    out = demo.results["tda"]
    assert out["top"] and set(out["wrong_label_auroc"]) == {"margin", "self_influence", "loss"}
    assert all(0 <= v <= 1 for v in out["wrong_label_auroc"].values())
    assert "AUROC" in "\n".join(lines) and "[tda]" in lines[0]


def test_repair_strategy_plans_the_same_best_row(demo, result, oracle, tmp_path):
    import pandas as pd

    import slicelens.tda.strategy  # noqa: F401  registers "tda-action"
    from slicelens.repair.base import REPAIRS
    from slicelens.tda.result import to_plan

    csv = tmp_path / "pool.csv"
    pd.DataFrame({"id": list(oracle), "label": list(oracle.values())}).to_csv(csv, index=False)
    cell = f"{result.error_group.source['true']}->{result.error_group.source['pred']}"
    plan = REPAIRS["tda-action"]().plan(demo.workspace, demo.run, error_group=cell, top=4,
                                        resamples=3, oracle=str(csv))
    assert plan == to_plan(result.row(1))
    with pytest.raises(SliceLensError, match="error_group"):
        REPAIRS["tda-action"]().plan(demo.workspace, demo.run)
