"""The contract of training-data attribution's two families, over every registered action
and candidate-group kind, on one planted problem (tests/test_tda_result.py's ``planted``:
flipped training labels cause a group of validation errors).

An action owns its change, its plan and its label: its :class:`Change` touches only the
group's training rows (or adds pool samples), ``attribute`` ranks it, ``to_plan`` turns
its row into a TrainingPlan keyed by the group's (or the pool's) ids, and its label reads
in a table. A kind owns its groups: labelled training samples, of its own kind, and
``candidate_groups`` asks it in order. Both families feed ``TDAParams``' choices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_tda_result import planted

from slicelens.attributes.matrix import AttributeMatrix
from slicelens.repair.plan import TrainingPlan
from slicelens.slicing.base import Slice, SliceSet
from slicelens.tda.actions import ACTION_FAMILY, make_change
from slicelens.tda.attribute import attribute
from slicelens.tda.groups import TrainingGroup, candidate_groups, confusion_error_group
from slicelens.tda.kinds.base import KIND_FAMILY, CandidateContext
from slicelens.tda.params import ACTIONS, AUTO_KINDS, KINDS, ActionParams, TDAParams
from slicelens.tda.problem import fit_baseline
from slicelens.tda.report import summary_rows
from slicelens.tda.result import to_plan

ACTION_NAMES, KIND_NAMES = ACTION_FAMILY.names(), KIND_FAMILY.names()


@pytest.fixture(scope="module")
def bed():
    pb, flipped = planted(n=120, flip=20)
    err = confusion_error_group(pb, "pos->neg")
    tr, val = pb.split_index("train"), pb.split_index("val")
    ss = SliceSet("toy", {}, "r", "val", [Slice("right", pb.ids[val[pb.features[val, 0] > 0]]),
                                          Slice("left", pb.ids[val[pb.features[val, 0] <= 0]])],
                  pb.ids[val], (pb.features[val, 0] <= 0).astype(np.int64))
    shade = np.where(pb.features[tr, 1] > 2, "top", "bottom")
    am = AttributeMatrix(pd.DataFrame({"id": pb.ids[tr], "attribute": "height", "value": shade,
                                       "score": 1.0}), {"height": ["top", "bottom"]})
    ctx = CandidateContext(pb, err, [ss], None, am, 3, pb.ids[tr[:3]])
    group = TrainingGroup("flipped", "label", pb.ids[flipped])
    # a labelled pool: some val samples stand in for pool samples with oracle labels
    pool_pos = val[:30]
    pool = {"pos": pool_pos, "labels": pb.labels[pool_pos]}
    return pb, err, ctx, group, pool, fit_baseline(pb, 0.01)


def test_params_choices_come_from_the_families():
    assert ACTIONS == tuple(ACTION_NAMES) and KINDS == tuple(KIND_NAMES)
    assert AUTO_KINDS == tuple(k for k in KIND_NAMES if KIND_FAMILY.get(k).auto)
    fields = set(ActionParams.model_fields)
    for a in ACTION_NAMES:
        assert set(ACTION_FAMILY.get(a).Params.model_fields) <= fields
    assert TDAParams().actions == list(ACTIONS)


@pytest.mark.parametrize("with_pool", [False, True], ids=["no-pool", "pool"])
@pytest.mark.parametrize("name", ACTION_NAMES)
def test_action_change_touches_only_its_group(name, with_pool, bed):
    pb, _, _, group, pool, base = bed
    gpos = pb.positions(group.ids)
    c = make_change(name, gpos, pb, base, ActionParams(), pool if with_pool else None)
    assert c.action == name and c.detail
    assert set(c.rows.tolist()) <= set(base.rows(gpos).tolist())
    assert c.factor is None or c.factor >= 0
    if c.new_labels is not None:
        assert c.new_labels.shape == c.rows.shape
        assert (c.new_labels != pb.labels[gpos][np.isin(base.rows(gpos), c.rows)]).all()
    if c.add_pos is not None:
        assert set(c.add_pos.tolist()) <= set(pool["pos"].tolist()) and len(c.add_labels) == len(c.add_pos)
    X, y, w = base.X, base.y, np.ones(base.n0)
    X2, y2, w2 = c.apply(X, y, w, pb.X(c.add_pos) if c.add_pos is not None else None)
    n_add = 0 if c.add_pos is None else len(c.add_pos)
    assert len(X2) == len(y2) == len(w2) == len(y) + n_add
    untouched = np.setdiff1d(np.arange(len(y)), c.rows)
    assert np.array_equal(y2[untouched], y[untouched]) and np.array_equal(w2[untouched], w[untouched])
    changed = len(y2) > len(y) or not (np.array_equal(y2, y) and np.array_equal(w2, w))
    assert changed, f"{name} changes nothing"


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_action_row_plans_and_labels(name, bed):
    pb, err, _, group, pool, base = bed
    res = attribute(pb, err, [group], TDAParams(actions=[name], top=1, resamples=2, l2=0.01),
                    pool=pool, baseline=base)
    (row,) = res.rows
    assert row.action == name and row.method == "exact" and np.isfinite(row.effect)
    plan = to_plan(row)
    assert isinstance(plan, TrainingPlan) and plan.params["action"] == name
    keyed = [*plan.remove, *plan.relabel, *plan.weights]
    assert set(keyed) <= set(group.ids) and (keyed or plan.add), f"{name}: empty plan"
    assert set(plan.add) <= set(pb.ids[pool["pos"]])
    label = summary_rows([row])[0]["action"]
    assert isinstance(label, str) and label.startswith(name)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_kind_forms_labelled_training_groups_of_its_kind(name, bed):
    pb, err, ctx, *_ = bed
    kind = KIND_FAMILY.create(name)
    assert kind.label
    groups = kind.groups(ctx)
    assert groups, f"kind {name!r} forms no group on the test bed"
    train = set(pb.ids[pb.split_index("train")])
    for g in groups:
        assert isinstance(g, TrainingGroup) and g.kind == name and g.name
        assert set(g.ids) <= train
    asked = candidate_groups(pb, err, (name,), slice_sets=ctx.slice_sets, attributes=ctx.attributes,
                             k=ctx.k, min_size=1, sample_ids=ctx.sample_ids)
    assert {tuple(sorted(g.ids)) for g in asked} <= {tuple(sorted(g.ids)) for g in groups}
