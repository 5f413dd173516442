"""The repair-family contract, over every registered strategy (like scikit-learn's
check_estimator): parameters validated, the plan typed, keyed by the run's sample ids,
replayable (save -> load -> equal), deterministic with its seed, and carried out by
``apply_plan``; plus the pseudo-groups every group strategy reads.

One fast-demo run (tiny data, 2 epochs) with attribution slices and two scripted marks
(the worst slice spurious, the best core) is the shared test bed.
"""

from __future__ import annotations

import numpy as np
import pytest
from demo_bed import fast_demo_run

from slicelens.errors import SliceLensError
from slicelens.feedback import annotate_slice
from slicelens.models import TrainConfig
from slicelens.repair.base import REPAIRS, get_repair, load_repairs
from slicelens.repair.groups import PseudoGroupParams, pseudo_groups
from slicelens.repair.plan import TrainingPlan

#: parameters each strategy needs on the test bed (a strategy missing here fails the test)
PARAMS = {
    "corm": {"source": "marks"},
    "counterfactual": {},
    "dfr": {},
    "gdro": {},
    "group-balance": {},
    "jtt": {"id_epochs": 1},
    "random-select": {"budget": 20, "oracle": "<gt>", "oracle_column": "true_label"},
    "coreset-select": {"budget": 20, "oracle": "<gt>", "oracle_column": "true_label"},
    "hibug-select": {"budget": 20, "oracle": "<gt>", "oracle_column": "true_label"},
    "hibug-generate": {"n_images": 20},
    "tda-action": {"error_group": "<worst>", "top": 2},
    "aaca": {"k": 5, "candidates": 10, "oracle": "<gt>", "oracle_column": "true_label"},
}
#: an invalid value of one parameter per strategy (validation must name the field)
INVALID = {"corm": ("sigma", -1.0), "counterfactual": ("mask_threshold", 2.0),
           "dfr": ("holdout", 1.5), "gdro": ("eta", 0.0), "group-balance": ("power", 3.0),
           "jtt": ("id_epochs", 0), "random-select": ("budget", 0), "coreset-select": ("budget", 0),
           "hibug-select": ("beta", 2.0), "hibug-generate": ("n_images", 0),
           "tda-action": ("rank", 0), "aaca": ("lam", 2.0)}


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    from slicelens.pipeline import hibug_demo, scanner_demo
    from slicelens.pipeline.slices import find_slices

    st = fast_demo_run(tmp_path_factory.mktemp("contract") / "ws", epochs=2)
    ws = st.workspace
    ss = find_slices(st.run, "attribution")
    annotate_slice(ws, st.run, "attribution", ss.slices[0].id, "spurious", "test bed", "t")
    annotate_slice(ws, st.run, "attribution", ss.slices[-1].id, "core", "test bed", "t")
    hibug_demo.step_hibug_attributes(st)
    # AACA reads concept answers: a simulated crowd on a few seed images
    from slicelens.concepts.store import save_answer
    from slicelens.pipeline.aaca_demo import simulate_crowd
    from slicelens.pipeline.concepts import pick_seeds

    answers, _ = simulate_crowd(st.run, st.paths.ground_truth, pick_seeds(st.run, 3), workers=3,
                                spammers=0, gold_items=0)
    for a in answers:
        save_answer(ws, st.run, a)
    del scanner_demo
    return st


def _params(name, st):
    p = dict(PARAMS[name])
    for k, v in p.items():
        if v == "<gt>":
            p[k] = str(st.paths.ground_truth)
        if v == "<worst>":
            s = st.run.samples
            wrong = s[(s["split"] == "val") & (s["label"] >= 0) & (s["label"] != s["pred"])]
            t, pr = wrong.groupby(["label", "pred"]).size().idxmax()
            p[k] = f"{st.run.classes[t]}->{st.run.classes[pr]}"
    return p


def test_every_registered_strategy_has_contract_parameters():
    assert set(load_repairs()) == set(PARAMS) == set(INVALID)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameters_are_validated_by_field(name, bed):
    field, bad = INVALID[name]
    with pytest.raises(SliceLensError, match=field):
        get_repair(name).plan(bed.workspace, bed.run, **{**_params(name, bed), field: bad})
    with pytest.raises(SliceLensError, match="no_such_option"):
        get_repair(name).plan(bed.workspace, bed.run, **_params(name, bed), no_such_option=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PARAMS))
def test_plan_is_typed_keyed_by_sample_id_replayable_and_deterministic(name, bed, tmp_path):
    run = bed.run
    plan = get_repair(name).plan(bed.workspace, run, **_params(name, bed))
    assert isinstance(plan, TrainingPlan) and plan.strategy == REPAIRS[name].name
    ids = set(run.samples["id"].astype(str))
    keyed = [*plan.remove, *plan.relabel, *plan.weights, *plan.add, *plan.groups,
             *plan.head_data, *(plan.val_ids or [])]
    assert set(keyed) <= ids, f"{name} names ids the run does not have"
    assert keyed or plan.noise_masks or plan.swap_masks or plan.extra_images, f"{name}: empty plan"
    again = TrainingPlan.load(plan.save(tmp_path / "plan.json"))
    assert again.to_json() == plan.to_json()
    twin = get_repair(name).plan(bed.workspace, run, **_params(name, bed))
    for f in ("remove", "relabel", "weights", "add", "groups", "head_data", "val_ids"):
        assert getattr(twin, f) == getattr(plan, f), f"{name}: {f} differs between two plans"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dfr", "group-balance", "gdro", "counterfactual", "jtt"])
def test_new_strategies_are_carried_out(name, bed):
    from slicelens.pipeline.retrain import apply_plan

    plan = get_repair(name).plan(bed.workspace, bed.run, **_params(name, bed))
    new = apply_plan(bed.workspace, bed.run, plan, TrainConfig(epochs=1, seed=0))
    assert new.is_complete and new.record["plan"]["strategy"] == name
    assert new.record["fit"]["selection_score"] >= 0
    if plan.head_only:   # DFR: only the head changed, so the features are the base run's
        assert np.allclose(np.asarray(new.array("features")), np.asarray(bed.run.array("features")),
                           atol=1e-4)
        assert not np.allclose(np.asarray(new.array("logits")), np.asarray(bed.run.array("logits")))


def test_pseudo_groups_follow_the_marks(bed):
    pg = pseudo_groups(bed.workspace, bed.run, PseudoGroupParams(min_spurious=1))
    ss_first = bed.run.samples.set_index("id")
    val_ids, val_group = pg.of("val")
    from slicelens.slicing.base import SliceSet

    ss = SliceSet.load(bed.run.path, "attribution")
    members = set(ss.slices[0].members)
    in_marked = np.array([i in members for i in val_ids])
    # members of the spurious slice are exactly the odd (spurious-half) val groups
    assert ((val_group % 2 == 1) == in_marked).all()
    assert (val_group // 2 == ss_first.loc[val_ids, "label"].to_numpy()).all()
    assert pg.slices == (ss.slices[0].id,)
    counts = pg.counts()
    assert counts["n"].sum() == len(pg.ids)


def test_small_spurious_halves_are_merged_into_their_class(bed):
    from slicelens.slicing.base import SliceSet

    ss = SliceSet.load(bed.run.path, "attribution")
    s = bed.run.samples.set_index("id")
    labels = s.loc[list(ss.slices[0].members), "label"].to_numpy()
    per_class = {c: int((labels == c).sum()) for c in set(labels.tolist())}
    k = max(per_class.values())   # the largest class share of the marked slice stays
    pg = pseudo_groups(bed.workspace, bed.run, PseudoGroupParams(min_spurious=k))
    _, val_group = pg.of("val")
    kept = {c for c, n in per_class.items() if n >= k}
    assert {int(g) // 2 for g in val_group if g % 2 == 1} == kept
    assert set(pg.merged) == {bed.run.classes[c] for c in range(len(bed.run.classes))} - {
        bed.run.classes[c] for c in kept}
    assert pg.summary()["merged_classes"] == list(pg.merged)
    with pytest.raises(SliceLensError, match="fewer than"):
        pseudo_groups(bed.workspace, bed.run, PseudoGroupParams(min_spurious=k + 1000))


def test_pseudo_groups_need_a_spurious_mark(tmp_path, bed):
    from slicelens.feedback import list_marks, undo_mark

    marks = [m for m in list_marks(bed.workspace, bed.run, "attribution") if m.label == "spurious"]
    assert marks
    undo_mark(bed.workspace, marks[0].id)
    try:
        with pytest.raises(SliceLensError, match="mark a slice spurious first"):
            pseudo_groups(bed.workspace, bed.run, PseudoGroupParams())
    finally:
        annotate_slice(bed.workspace, bed.run, "attribution", marks[0].target_id, "spurious",
                       "test bed", "t")
