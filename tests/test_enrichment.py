"""Words for slices: the enrichment test (Fisher exact + Benjamini-Hochberg) and the
descriptions ``find_slices`` writes from an attribute matrix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import fisher_exact

from slicelens.attributes.enrichment import bh_adjust, enriched_values, top_conditions


def _planted(seed=0, n=400):
    """Attribute 0 (bg): value 1 in 80% of the slice, 20% of the rest; attribute 1
    (tone): random. Half the samples are of the slice's class."""
    rng = np.random.default_rng(seed)
    in_slice = np.zeros(n, bool)
    in_slice[:60] = True
    bg = np.where(in_slice, rng.random(n) < 0.8, rng.random(n) < 0.2).astype(int)
    tone = rng.integers(0, 3, n)
    in_class = np.r_[np.ones(n // 2, bool), np.zeros(n - n // 2, bool)]
    return np.c_[bg, tone], in_slice, in_class


def test_enriched_value_found_and_noise_not():
    codes, s, c = _planted()
    tests = enriched_values(codes, s, c, ["bg", "tone"],
                            {"bg": ["grass", "brick"], "tone": ["a", "b", "c"]})
    top = tests[0]
    assert (top["attribute"], top["value"], top["enriched"]) == ("bg", "brick", True)
    assert not any(t["enriched"] for t in tests if t["attribute"] == "tone")
    assert top_conditions(tests) == {"bg": "brick"}


def test_p_value_is_one_sided_fisher_within_the_class():
    codes, s, c = _planted(1)
    t = next(r for r in enriched_values(codes, s, c, ["bg", "tone"],
                                        {"bg": ["grass", "brick"], "tone": ["a", "b", "c"]})
             if r["value"] == "brick")
    rest = c & ~s  # the reference is the rest of the class, not the whole split
    x, n = int((codes[s, 0] == 1).sum()), int(s.sum())
    y, m = int((codes[rest, 0] == 1).sum()), int(rest.sum())
    assert (t["in_slice"], t["n"], t["in_rest"], t["m"]) == (x, n, y, m)
    _, p = fisher_exact([[x, n - x], [y, m - y]], alternative="greater")
    assert t["p"] == pytest.approx(p, rel=1e-6)


def test_benjamini_hochberg():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    q = bh_adjust(p)
    assert q[0] == pytest.approx(0.01) and q[1] == pytest.approx(0.04)
    assert np.all(np.diff(q[np.argsort(p)]) >= 0) and np.all(q >= p)
    # uncorrected, a random attribute with many values yields "significant" ones often
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 20, (300, 1))
    s = np.zeros(300, bool)
    s[:50] = True
    tests = enriched_values(codes, s, np.ones(300, bool), ["noise"],
                            {"noise": [str(i) for i in range(20)]})
    assert not any(t["enriched"] for t in tests)


def test_find_slices_describes_every_slice_in_words(tmp_path):
    from conftest import write_attribute_matrix as _attribute_matrix
    from test_slicing_support import write_run

    from slicelens.pipeline.slices import find_slices, load_slices

    run = write_run(tmp_path / "runs" / "run-0001-synth")
    _attribute_matrix(run)  # attribute "group" names the planted failure (value g2)
    ss = find_slices(run, "error-clustering", {"n_slices": 4})
    worst = ss.slices[0]
    assert worst.metrics["accuracy"] == 0.0
    assert worst.evidence["conditions"] == {"group": "g2"}
    assert "g2" in worst.description and worst.metrics["confusion_text"].startswith("label: a")
    assert worst.evidence["enrichment"][0]["q"] <= 0.05
    back = load_slices(run, "error-clustering")
    assert back.slices[0].description == worst.description
    # no training split in this run: a type is still attempted, and says why not
    assert all("explanation" in s.evidence for s in back.slices)
