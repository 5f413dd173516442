"""HiBug repair: selection (App. 7.1) with its baselines, and generation (Eq. 2, compositor)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_attributes_fixtures import make_run, save_matrix

from slicelens.attributes.base import Attribute, AttributeSpec
from slicelens.data.arrays import from_arrays
from slicelens.pipeline.attributes import save_spec
from slicelens.repair.base import get_repair
from slicelens.repair.compositor import inpaint_background, paste
from slicelens.repair.generate import (
    GenerationContext,
    class_name_prompts,
    get_generator,
    hibug_prompts,
    prompt_text,
)
from slicelens.repair.select import k_center_greedy, select_slices, split_budget
from slicelens.store import Workspace


def test_budget_split_hand_computed():
    # App. 7.1: slices by error rate until beta of the failures; budget by failures
    errors = np.array([30, 5, 40, 20, 5])
    sizes = np.array([50, 100, 100, 25, 5])   # rates .6 .05 .4 .8 1.0
    chosen = select_slices(errors, sizes, beta=0.9)
    assert chosen.tolist() == [4, 3, 0, 2]     # 5+20+30+40 = 95 >= 0.9*100
    counts = split_budget(100, errors[chosen], np.array([1000] * 4))
    assert counts.tolist() == [5, 21, 32, 42]  # 100 * (5, 20, 30, 40) / 95, largest remainder
    # a slice with too few pool samples passes its share on, in proportion: first pass
    # (5, 21, 32 -> 10, 42) leaves 22 for failures (5, 20, 40): 1.69, 6.77, 13.54 ->
    # floors (1, 6, 13) + the two largest remainders (.77, .69) -> (2, 7, 13)
    assert split_budget(100, errors[chosen], np.array([1000, 1000, 10, 1000])).tolist() == [7, 28, 10, 55]
    assert split_budget(10, np.array([1, 1]), np.array([2, 3])).tolist() == [2, 3]  # pool runs out


def test_k_center_greedy_hand_computed():
    pool = np.array([[0.0], [1.0], [5.0], [10.0]])
    labeled = np.array([[0.0]])
    assert k_center_greedy(pool, labeled, 2).tolist() == [3, 2]  # farthest, then 5 (5 from 0 and 10)


@pytest.fixture
def pool_run(tmp_path):
    """Val: slice 'brick' fails 60%, 'grass' 5%; pool: 100 of each, confidences known."""
    rng = np.random.default_rng(0)
    n_val, n_pool, n_train = 400, 200, 100
    split = np.array(["val"] * n_val + ["pool"] * n_pool + ["train"] * n_train)
    bg = np.r_[rng.integers(0, 2, n_val), np.repeat([0, 1], n_pool // 2), rng.integers(0, 2, n_train)]
    label = np.where(split == "pool", -1, rng.integers(0, 2, len(split)))
    wrong = (split == "val") & np.where(bg == 1, rng.random(len(split)) < 0.6, rng.random(len(split)) < 0.05)
    pred = np.where(wrong, 1 - np.maximum(label, 0), np.maximum(label, 0))
    conf = np.r_[np.full(n_val, 0.9), np.linspace(0.5, 1.0, n_pool), np.full(n_train, 0.9)]
    feats = np.r_[rng.normal(size=(n_val, 2)), rng.normal(size=(n_pool, 2)) * 3,
                  rng.normal(size=(n_train, 2))].astype(np.float32)
    run = make_run(tmp_path, label, pred, split, confidence=conf, features=feats)
    save_matrix(run, bg[:, None], {"background": ["grass", "brick"]})
    truth = rng.integers(0, 2, len(split))
    oracle = tmp_path / "oracle.csv"
    pd.DataFrame({"id": run.samples["id"], "true_label": np.array(["a", "b"])[truth]}).to_csv(oracle, index=False)
    return run, bg, truth, oracle


def test_hibug_select_takes_failing_slice_lowest_confidence_first(pool_run, tmp_path):
    run, bg, truth, oracle = pool_run
    plan = get_repair("hibug-select").plan(Workspace(tmp_path / "ws"), run, budget=30, oracle=str(oracle),
                                           oracle_column="true_label", attributes=["background"])
    s = run.samples.set_index("id")
    chosen = list(plan.add)
    ids = s.index.to_numpy()
    fails = {"grass": 0, "brick": 0}
    val = (s["split"] == "val").to_numpy()
    for b, name in enumerate(("grass", "brick")):
        fails[name] = int((~s["correct"].to_numpy(dtype=bool, na_value=False) & val & (bg == b)).sum())
    expected = split_budget(30, np.array([fails["brick"], fails["grass"]]), np.array([100, 100]))
    got_brick = sum(bg[np.flatnonzero(ids == i)[0]] == 1 for i in chosen)
    assert got_brick == expected[0] and len(chosen) == 30
    brick_pool = s[(s["split"] == "pool").to_numpy() & (bg == 1)]
    lowest = brick_pool.sort_values("confidence").index[: expected[0]]
    assert set(lowest) <= set(chosen)
    assert all(plan.add[i] == truth[np.flatnonzero(ids == i)[0]] for i in chosen)  # oracle labels


def test_hibug_select_says_when_its_slices_cannot_fill_the_budget(pool_run, tmp_path):
    run, *_, oracle = pool_run
    plan = get_repair("hibug-select").plan(Workspace(tmp_path / "ws"), run, budget=500,
                                           oracle=str(oracle), oracle_column="true_label",
                                           attributes=["background"])
    assert 0 < len(plan.add) <= 200  # the pool holds 200
    assert f"(budget 500: these slices hold only {len(plan.add)} pool samples)" in plan.description


def test_baselines_same_budget_and_errors(pool_run, tmp_path):
    from slicelens.errors import DataError

    run, _, _, oracle = pool_run
    for name in ("random-select", "coreset-select"):
        plan = get_repair(name).plan(Workspace(tmp_path / "ws"), run, budget=25, oracle=str(oracle), oracle_column="true_label")
        assert len(plan.add) == 25
        assert set(run.samples.set_index("id").loc[list(plan.add), "split"]) == {"pool"}
    with pytest.raises(DataError, match="no column 'nope'"):
        get_repair("random-select").plan(Workspace(tmp_path / "ws"), run, budget=5, oracle=str(oracle), oracle_column="nope")


def test_prompts_follow_eq2_and_eq3():
    spec = AttributeSpec([Attribute("size", phrase="{value} {object}s"),
                          Attribute("background", phrase="on {value} background")])
    assert prompt_text("dog", {"size": "small", "background": "snow"}, spec) == \
        "A photo of small dog on snow background."
    assert [p.text for p in class_name_prompts(["cat", "dog"])] == ["A photo of cat.", "A photo of dog."]


def test_hibug_prompts_pick_highest_error_slices(pool_run):
    run, *_ = pool_run
    from slicelens.attributes.matrix import AttributeMatrix

    prompts = hibug_prompts(run, AttributeMatrix.load(run.path),
                            AttributeSpec([Attribute("background", phrase="on {value} background")]),
                            ["background"], per_class=1)
    assert [p.label for p in prompts] == [0, 1]
    assert all(p.conditions == {"background": "brick"} for p in prompts)


def test_inpaint_and_paste():
    img = np.full((8, 8, 3), 100, np.uint8)
    img[3:5, 3:5] = 250
    fg = img[..., 0] > 200
    clean = inpaint_background(img, fg, 1.5)
    assert np.abs(clean.astype(int) - 100).max() <= 1      # the object is gone
    core = np.full((8, 8, 3), 0, np.uint8)
    out = paste(clean, core, fg, 0.0)
    assert (out[fg] == 0).all() and (out[~fg] == clean[~fg]).all()


def test_compositor_realises_background_condition(tmp_path):
    """Objects of class 0 land on backgrounds whose attribute value the prompt names."""
    from slicelens.repair.generate import PromptSpec

    n = 40
    imgs = np.zeros((n, 16, 16, 3), np.uint8)
    bgv = np.arange(n) % 2                      # 0 = green, 1 = red background
    imgs[bgv == 0] = (40, 160, 40)
    imgs[bgv == 1] = (170, 40, 40)
    imgs[:, 6:10, 6:10] = 250                   # a white object
    label = np.arange(n) // 20
    run = make_run(tmp_path, label, label, ["train"] * n, confidence=np.full(n, 0.9))
    ds = from_arrays(imgs, label, ["a", "b"], splits="train", ids=run.samples["id"].to_numpy(str))
    m = save_matrix(run, bgv[:, None], {"background colour": ["green", "red"]})
    spec = AttributeSpec([Attribute("background colour", backend="stats", measure="background_colour")])
    save_spec(run, spec)
    ctx = GenerationContext(run, ds, 16, m, spec)
    gen = get_generator("compositor")
    images, labels = gen.generate([PromptSpec(0, {"background colour": "red"})], [6], ctx, seed=0)
    assert images.shape == (6, 16, 16, 3) and labels.tolist() == [0] * 6
    assert (images[:, 0, 0] == (170, 40, 40)).all()      # red background from the matrix
    assert (images[:, 8, 8] >= 240).all()                # the white object pasted
    assert gen.relaxed == 0


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory):
    from slicelens.demo.run import DemoRun, run_demo

    return run_demo(Workspace(tmp_path_factory.mktemp("hibug") / "ws"), DemoRun.fast(), echo=lambda s: None)


@pytest.mark.slow
def test_hibug_loop_end_to_end_on_the_demo(demo_state):
    """Demo steps: attributes, bug slices in words, selection and generation retrained."""
    from slicelens.demo import hibug
    from slicelens.repair.plan import load_extra_images

    st = demo_state
    lines = []
    st.echo = lines.append
    hibug.step_hibug_attributes(st)
    hibug.step_hibug_bugs(st)
    hibug.step_hibug_select(st, budget=40)
    hibug.step_hibug_generate(st, n_images=60)
    res = st.results["hibug"]
    assert "object size" in res["attributes"]
    assert all("% accuracy, n=" in r["bug"] for r in res["bugs"])
    for key in ("select", "generate"):
        new = st.workspace.run(res[key]["run"])
        assert new.record["base_run"] == st.run.id and new.is_complete
        assert 0 <= res[key]["after"]["worst_group_accuracy"] <= res[key]["after"]["average_accuracy"]
    plan = st.workspace.run(res["select"]["run"]).record["plan"]
    n_added = len(plan["add"])  # the budget, or fewer when the chosen slices hold fewer
    assert n_added == 40 or (0 < n_added < 40 and
                             f"budget 40: these slices hold only {n_added}" in plan["description"])
    images, labels = load_extra_images(st.workspace.run(res["generate"]["run"]).record["plan"]["extra_images"])
    assert images.shape[0] == 60 and set(labels.tolist()) <= {0, 1}
    assert 0 <= res["generate"]["params"]["error_on_generated"] <= 1
    gen_params = st.workspace.run(res["generate"]["run"]).record["plan"]["params"]
    assert gen_params["relaxed"] >= 0 and gen_params["uncorrected"] >= 0  # prompt fidelity kept
    assert any("[hibug 2]" in line for line in lines)
    # both repairs are shown beside one matched control (the same plain-retrain regime)
    assert res["select"]["control"] == res["generate"]["control"]
    assert st.workspace.run(res["select"]["control"]).record["plan"]["strategy"] == "control"
    assert sum("against its matched control" in line for line in lines) == 2


def test_compositor_falls_back_to_misclassified_donors(tmp_path):
    """A model that gets no sample of a class right still yields debug images of it (the
    CI crash of a weak --fast model); a class with no sample at all is a clear error."""
    from slicelens.errors import SliceLensError
    from slicelens.repair.generate import PromptSpec

    n = 20
    imgs = np.full((n, 16, 16, 3), 60, np.uint8)
    imgs[:, 6:10, 6:10] = 250
    label = np.zeros(n, int)
    run = make_run(tmp_path, label, np.ones(n, int), ["train"] * n,  # every prediction wrong
                   confidence=np.full(n, 0.9))
    ds = from_arrays(imgs, label, ["a", "b"], splits="train", ids=run.samples["id"].to_numpy(str))
    m = save_matrix(run, (np.arange(n) % 2)[:, None], {"background colour": ["grey", "dark"]})
    ctx = GenerationContext(run, ds, 16, m, None)
    gen = get_generator("compositor")
    images, labels = gen.generate([PromptSpec(0, {})], [4], ctx, seed=0)
    assert images.shape == (4, 16, 16, 3) and labels.tolist() == [0] * 4
    assert gen.uncorrected == 1
    with pytest.raises(SliceLensError, match="no labelled train/val sample of that class"):
        gen.generate([PromptSpec(1, {})], [2], ctx, seed=0)


@pytest.mark.slow
def test_demo_runs_the_aaca_step(demo_state):
    """The demo's AACA step: simulated crowd -> C and V, the repair beside its matched
    control, and the JSD before and after."""
    res = demo_state.results["aaca"]
    backgrounds = {"brick", "bricks", "brick wall", "grass", "lawn", "green grass"}
    for cls in ("0-4", "5-9"):
        assert res["summary"][cls]["C"][0] in backgrounds
        assert res["summary"][cls]["V"][0] in {"digit", "handwritten digit", "digit shape"}
    rep = res["repair"]
    assert rep["control"] != rep["run"] and rep["control_figures"]["average_accuracy"] > 0
    assert 0 <= res["jsd_init_val"] <= 1 and 0 <= res["jsd_aug_val"] <= 1
    # the proven lower bound never exceeds the greedy reachable value
    assert 0 <= res["bound"]["lower"] <= res["bound"]["greedy"] + 1e-12
    # what the debug images are: their share in their class's minority group
    from slicelens.demo.aaca import minority_share
    from slicelens.evaluate.groups import load_ground_truth

    gt = load_ground_truth(demo_state.paths.ground_truth)
    counts = gt[gt["split"] == "train"]["group"].value_counts()
    assert minority_share(gt, gt.index[gt["group"] == counts.idxmin()][:5]) == 1.0
    assert minority_share(gt, gt.index[gt["group"] == counts.idxmax()][:5]) == 0.0
    assert len(rep["added"]) > 0
    assert res["minority_share"] == minority_share(gt, rep["added"])
    # and of the candidates they were chosen from, read from the repair's recorded plan
    cands = demo_state.workspace.run(rep["run"]).record["plan"]["params"]["candidate_ids"]
    assert len(cands) > len(rep["added"])
    assert res["candidate_minority_share"] == minority_share(gt, list(cands))


def test_compositor_matches_shape_clusters_on_the_object_donor():
    """A prompt's shape-cluster value ("sevens") is the object's, its background colour
    the background's: each is matched on the right donor."""
    from types import SimpleNamespace

    from slicelens.repair.compositor import Compositor

    spec = AttributeSpec([Attribute("digit", backend="clusters", measure="shape"),
                          Attribute("background colour", backend="stats",
                                    measure="background_colour")])
    obj, bg = Compositor._split_conditions({"digit": "sevens", "background colour": "brown"},
                                           SimpleNamespace(spec=spec))
    assert obj == {"digit": "sevens"} and bg == {"background colour": "brown"}
