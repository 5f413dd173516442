"""The contract every registered slicer keeps (scikit-learn's check_estimator idea).

Each member of the slicer family (``SLICER_FAMILY``) is fitted on a small synthetic run written in the exact format
extraction produces (tests/test_slicing_support.py). A slicer declares the inputs it
reads in ``requires``; the run arrays are always there, other inputs are built by
``INPUT_BUILDERS`` (add one when you add a slicer that needs more, e.g. an attribute
matrix) and a slicer whose inputs nobody can build is skipped with the reason.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import write_attribute_matrix
from test_slicing_support import write_run

from slicelens.errors import NotFittedError, SliceLensError
from slicelens.slicing.base import SLICER_FAMILY, SLICERS, Slice, SliceSet
from slicelens.store.run import ARRAYS

SLICER_FAMILY.discover()


#: requirement name -> function(run) that writes it next to the run; the run arrays need none
INPUT_BUILDERS: dict = {"attribute_matrix": write_attribute_matrix}

# small, fast settings; every other parameter keeps its default
FAST = {"attribution": {"min_clusters": 3, "max_clusters": 12, "n_epochs": 50},
        "error-clustering": {"n_slices": 4}, "error-aware": {"n_slices": 4},
        "wrong-labels": {"folds": 3}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("contract") / "runs" / "run-0001-synth")


def _make(name, run):
    missing = [r for r in SLICERS[name].requires if r not in ARRAYS and r not in INPUT_BUILDERS]
    if missing:
        pytest.skip(f"slicer {name!r} requires {missing}, which no test input builder makes")
    for r in SLICERS[name].requires:
        if r in INPUT_BUILDERS:
            INPUT_BUILDERS[r](run)
    return SLICERS[name](**FAST.get(name, {}))


def _digest(run) -> str:
    h = hashlib.sha1()
    for name in ARRAYS:
        h.update(np.ascontiguousarray(run.array(name)).tobytes())
    h.update(run.samples.to_csv().encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def fitted(run):
    """name -> (fitted slicer or the error fit raised, digest of the run before fitting)."""
    out = {}
    for name in SLICERS:
        before = _digest(run)
        try:
            out[name] = (_make(name, run).fit(run, "val"), before)
        except pytest.skip.Exception:
            pass
        except Exception as e:  # noqa: BLE001 - reported by the test of that slicer only
            out[name] = (e, before)
    return out


def _get(fitted, name):
    if name not in fitted:
        pytest.skip(f"slicer {name!r} cannot be built here (see test_requirements_are_known)")
    s = fitted[name][0]
    if isinstance(s, Exception):
        pytest.fail(f"slicer {name!r} failed to fit on a complete run with "
                    f"requires={SLICERS[name].requires}: {type(s).__name__}: {s}. If it needs "
                    "more than the run arrays, declare it in `requires` and add an input "
                    "builder to INPUT_BUILDERS in this file")
    return s


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_requirements_are_known(name, run):
    _make(name, run)  # skips with a reason when an input cannot be built


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_unknown_parameter_is_refused(name, run):
    # validated at fit (scikit-learn style), before any work: an unknown one is named
    with pytest.raises(SliceLensError, match="no_such_option"):
        SLICERS[name](no_such_option=1).fit(run, "val")


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_not_fitted_error(name, run):
    with pytest.raises(NotFittedError):
        _make(name, run).assign(run, "test")


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_fit_returns_self_with_slices_from_the_fit_split(name, run, fitted):
    s = _get(fitted, name)
    val_ids = set(run.samples.loc[run.samples.split == "val", "id"])
    assert s.slices_ and all(isinstance(x, Slice) for x in s.slices_)
    assert set(s.sample_ids_) == val_ids and s.labels_.shape == (len(val_ids),)
    assert s.labels_.min() >= -1 and s.labels_.max() < len(s.slices_)
    ids = np.asarray(s.sample_ids_)
    for i, sl in enumerate(s.slices_):
        assert set(sl.members) <= val_ids
        if s.overlapping:  # labels_ names the highest-ranked slice holding the sample
            assert set(ids[s.labels_ == i]) <= set(sl.members), sl.id
            assert all(s.labels_[ids == m][0] <= i for m in sl.members), sl.id
        else:
            assert set(sl.members) == set(ids[s.labels_ == i]), sl.id
        assert sl.metrics["size"] == sl.size and sl.description
    assert len({sl.id for sl in s.slices_}) == len(s.slices_)
    # ranked, most problematic first: by the Wilson upper bound of accuracy, after the
    # slices a slicer promoted as bug slices (evidence["promoted"]; in the slicer's order)
    promoted = [bool(sl.evidence.get("promoted", False)) for sl in s.slices_]
    assert promoted == sorted(promoted, reverse=True)
    highs = [sl.metrics["acc_high"] for sl, pr in zip(s.slices_, promoted, strict=True) if not pr]
    assert highs == sorted(highs)
    if getattr(s, "layout_", None) is not None:
        assert s.layout_.shape == (len(val_ids), 2)


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_does_not_mutate_the_run(name, run, fitted):
    s, before = _get(fitted, name), fitted[name][1]
    s.assign(run, "test")
    assert _digest(run) == before


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_deterministic_with_the_same_seed(name, run, fitted):
    a = _get(fitted, name)
    b = _make(name, run).fit(run, "val")
    assert np.array_equal(a.labels_, b.labels_)
    assert [x.members.tolist() for x in a.slices_] == [x.members.tolist() for x in b.slices_]


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_assign_other_split(name, run, fitted):
    s = _get(fitted, name)
    out = s.assign(run, "test")
    assert out.shape == ((run.samples.split == "test").sum(),)
    assert out.dtype.kind == "i" and out.min() >= -1 and out.max() < len(s.slices_)
    assert (out >= 0).mean() > 0.5


@pytest.mark.parametrize("name", sorted(SLICERS))
def test_slice_set_round_trip(name, run, fitted, tmp_path):
    s = _get(fitted, name)
    ss = SliceSet.from_slicer(s, run.id)
    ss.save(tmp_path)
    back = SliceSet.load(tmp_path, name)
    assert back.slicer == name and back.params == s.get_params() and back.split == "val"
    assert np.array_equal(back.labels, ss.labels) and np.array_equal(back.sample_ids, ss.sample_ids)
    assert [x.id for x in back.slices] == [x.id for x in ss.slices]
    assert [x.members.tolist() for x in back.slices] == [x.members.tolist() for x in ss.slices]
    assert back.slices[0].metrics["accuracy"] == pytest.approx(ss.slices[0].metrics["accuracy"])
