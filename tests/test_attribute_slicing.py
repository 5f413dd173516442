"""Attribute-combination slicing (HiBug Sec. 3.2, 4.4) against a brute-force reference."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from test_attributes_fixtures import make_run, save_matrix

from slicelens.attributes.base import Attribute, AttributeSpec
from slicelens.pipeline.attributes import bug_rows, find_attribute_bugs, save_spec
from slicelens.slicing.base import get_slicer
from slicelens.slicing.slicer_attributes import (
    combination_counts,
    combination_keys,
    decode_keys,
    describe,
)


def _brute(codes, correct, subset, min_support):
    df = pd.DataFrame(codes[:, subset], columns=[f"a{j}" for j in subset])
    df["c"] = correct
    df = df[(df[[f"a{j}" for j in subset]] >= 0).all(axis=1)]
    g = df.groupby([f"a{j}" for j in subset])["c"].agg(["size", "sum"]).reset_index()
    return {tuple(int(v) for v in r[:-2]): (int(r[-2]), int(r[-1])) for r in g.itertuples(index=False)
            if r[-2] >= min_support}


@pytest.mark.parametrize("seed", [0, 1])
def test_combination_counts_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_values = np.array([3, 2, 5, 4])
    codes = np.stack([rng.integers(-1, k, 500) for k in n_values], 1)  # -1 = missing
    correct = rng.random(500) < 0.6
    subsets = [s for k in (1, 2, 4) for s in combinations(range(4), k)]
    got = combination_counts(codes, correct, subsets, n_values, min_support=3)
    for sub in subsets:
        mine = {tuple(int(v) for v in vals): (n, h) for s, vals, n, h in got if s == sub}
        assert mine == _brute(codes, correct, list(sub), 3), sub


def test_huge_key_space_falls_back_to_row_grouping():
    rng = np.random.default_rng(0)
    n_values = np.full(20, 10_000)  # 10^80 combinations do not fit in an int64 key
    codes = rng.integers(0, 2, size=(300, 20))
    correct = rng.random(300) < 0.5
    got = combination_counts(codes, correct, [tuple(range(20))], n_values)
    assert sum(n for *_, n, _ in got) == 300
    assert {tuple(v.tolist()): (n, h) for _, v, n, h in got} == _brute(codes, correct, list(range(20)), 1)


def test_keys_round_trip():
    radices = np.array([3, 4, 2])
    codes = np.array([[2, 3, 1], [0, 0, 0], [1, -1, 0]])
    keys, valid = combination_keys(codes, radices)
    assert valid.tolist() == [True, True, False]
    assert keys[0] == 2 + 3 * 3 + 1 * 12
    assert decode_keys(keys[:2], radices).tolist() == codes[:2].tolist()


def test_describe_reads_like_words():
    spec = AttributeSpec([Attribute("size", phrase="{value} {object}s"),
                          Attribute("background", phrase="on {value} background"),
                          Attribute("digit", phrase="{value}s")], object="digit")
    assert describe({"size": "small", "background": "brick"}, spec) == "small digits on brick background"
    assert describe({"digit": "four", "size": "small"}, spec) == "small fours"
    # two attributes with one phrase are said once, the colour first
    spec = AttributeSpec([Attribute("background", phrase="on {value} background"),
                          Attribute("background colour", measure="background_colour",
                                    phrase="on {value} background"),
                          Attribute("lighting", phrase="in {value} light"),
                          Attribute("digit", phrase="{value}s")], object="digit")
    assert describe({"digit": "four", "background": "brick", "lighting": "dark",
                     "background colour": "black"}, spec) == \
        "fours on black brick background in dark light"


@pytest.fixture
def planted(tmp_path):
    """Val: 'brick' + 'small' fails 80%, the rest fails 10%; train has both."""
    rng = np.random.default_rng(0)
    n = 1200
    split = np.where(np.arange(n) < 600, "val", "train")
    bg = rng.integers(0, 2, n)      # grass / brick
    size = rng.integers(0, 2, n)    # small / large
    light = rng.integers(0, 3, n)   # irrelevant
    label = rng.integers(0, 2, n)
    bad = (bg == 1) & (size == 0)
    wrong = np.where(bad, rng.random(n) < 0.8, rng.random(n) < 0.1)
    pred = np.where(wrong, 1 - label, label)
    run = make_run(tmp_path, label, pred, split)
    save_matrix(run, np.stack([bg, size, light], 1),
                {"background": ["grass", "brick"], "object size": ["small", "large"],
                 "lighting": ["dark", "dim", "bright"]})
    save_spec(run, AttributeSpec([Attribute("background", ["grass", "brick"], phrase="on {value} background"),
                                  Attribute("object size", ["small", "large"], phrase="{value} {object}s"),
                                  Attribute("lighting", ["dark", "dim", "bright"], phrase="in {value} light")],
                                 object="digit"))
    return run, bad


def test_slicer_finds_the_planted_combination_first(planted):
    run, bad = planted
    ss = find_attribute_bugs(run)
    top = ss.slices[0]
    assert top.description == "small digits on brick background"
    assert top.evidence["conditions"] == {"background": "brick", "object size": "small"}
    s = run.samples
    val_ids = s["id"][(s["split"] == "val").to_numpy() & bad]
    assert set(top.members) == set(val_ids)
    assert top.metrics["accuracy"] < 0.35
    row = bug_rows(ss, 1)[0]["bug"]
    assert row.startswith(f"small digits on brick background: {top.metrics['accuracy']:.0%} accuracy, n=")
    # the irrelevant attribute never forms a bug slice on its own
    assert not any(set(x.evidence["conditions"]) == {"lighting"} for x in ss.slices)


def test_min_gain_keeps_the_shortest_description(planted):
    run, _ = planted

    def conds(gain):
        sl = get_slicer("attributes", max_order=3, full_combinations=False, min_gain=gain,
                        significant=False, min_support=10).fit(run)
        return [set(s.evidence["conditions"]) for s in sl.slices_]
    # refinements by the irrelevant attribute exist without the rule...
    assert any("lighting" in c and len(c) > 1 for c in conds(0.0))
    # ...and are dropped when a combination must fail clearly more than its parts
    assert not any("lighting" in c and len(c) > 1 for c in conds(0.2))


def test_mmr_ranks_a_second_failure_above_a_copy_of_the_first(tmp_path):
    """Class 0 (digits zero, one) fails on brick; digit three fails anywhere, less often.
    Without the class as an attribute the first failure reads "zero on brick background"
    and "one on brick background": by the Wilson bound alone both come before the
    second failure; MMR (shared conditions) ranks "three" second."""
    rng = np.random.default_rng(0)
    n = 2400
    digit = rng.integers(0, 4, n)
    label = (digit >= 2).astype(int)
    bg = rng.integers(0, 2, n)
    wrong = np.where((label == 0) & (bg == 1), rng.random(n) < 0.95,
                     np.where(digit == 3, rng.random(n) < 0.6, rng.random(n) < 0.05))
    run = make_run(tmp_path, label, np.where(wrong, 1 - label, label), ["val"] * n)
    save_matrix(run, np.stack([digit, bg], 1), {"digit": ["zero", "one", "two", "three"],
                                                "background": ["grass", "brick"]})
    save_spec(run, AttributeSpec([Attribute("digit", phrase="{value}s"),
                                  Attribute("background", phrase="on {value} background")],
                                 object="digit"))

    def top(ranking):
        sl = get_slicer("attributes", ranking=ranking).fit(run)
        return [s.description for s in sl.slices_[:2]]
    wilson, mmr = top("wilson"), top("mmr")
    assert sorted(wilson) == ["ones on brick background", "zeros on brick background"]
    assert mmr[0] == wilson[0] and mmr[1] == "threes"


def test_assign_maps_other_splits(planted):
    run, bad = planted
    sl = get_slicer("attributes").fit(run)
    lab = sl.assign(run, "train")
    s = run.samples
    tr = (s["split"] == "train").to_numpy()
    assert (lab[bad[tr]] == 0).all()  # every small-on-brick training sample is in slice 0


def test_low_scores_count_as_missing(tmp_path):
    label = np.zeros(100, int)
    pred = np.r_[np.ones(50, int), np.zeros(50, int)]
    run = make_run(tmp_path, label, pred, ["val"] * 100)
    codes = np.r_[np.zeros(50, int), np.ones(50, int)][:, None]
    scores = np.r_[np.full(50, 0.3), np.ones(50)][:, None]
    save_matrix(run, codes, {"bg": ["brick", "grass"]}, scores)
    assert len(get_slicer("attributes", min_support=5).fit(run).slices_) == 1
    assert len(get_slicer("attributes", min_support=5, min_score=0.5).fit(run).slices_) == 0


def test_missing_matrix_is_a_clear_error(tmp_path):
    from slicelens.errors import WorkspaceError

    run = make_run(tmp_path, [0, 1], [0, 1], ["val", "val"])
    with pytest.raises(WorkspaceError, match="slicelens attributes assign"):
        find_attribute_bugs(run)


def _cli(argv):
    import argparse
    import importlib

    mod = importlib.import_module(f"slicelens.cli.{argv[0]}")
    p = argparse.ArgumentParser()
    mod.add_arguments(p)
    return mod.run(p.parse_args(argv[1:]))


def test_cli_bugs_show_and_edit(planted, capsys, tmp_path):
    run, _ = planted
    ws = str(run.path.parent.parent)
    assert _cli(["bugs", "-w", ws, "--top", "3", "--evidence"]) == 0
    out = capsys.readouterr().out
    assert "small digits on brick background:" in out and "% accuracy, n=" in out
    assert _cli(["attributes", "show", "-w", ws]) == 0
    assert "background" in capsys.readouterr().out
    (tmp_path / "mine.yaml").write_text("attributes:\n- name: background\n  values: [grass, brick]\n")
    assert _cli(["attributes", "-w", ws, "--edit", str(tmp_path / "mine.yaml")]) == 0
    from slicelens.pipeline.attributes import load_spec

    assert load_spec(run.path).source == "edited" and load_spec(run.path).names == ["background"]
