"""The concept alignment of a repair as dataclasses (``pipeline.alignment_types``): the
cache file's JSON (today's and older files) reads back, and the API's derived schemas send
the same JSON the hand-written ones did (``"class"`` key, every field, NaN as null)."""

from __future__ import annotations

import math

from slicelens.pipeline.alignment_types import (
    Alignment,
    ClassFigures,
    Figures,
    RepairAlignment,
)

#: a cache "result" as written before the dataclasses: a skipped class has no fall,
#: concepts; keys that were None could be left out
OLD_RESULT = {
    "run": "run-2", "control": "run-3", "variant": "sel", "source": "compositor",
    "description": "", "added": 6, "tagger": "the run's attribute matrix",
    "control_error": None, "bound_k": 3, "bound_method": "greedy", "bound_skipped": None,
    "overall": {"before": 0.5, "after": 0.25, "control": 0.5, "fall": 0.5, "concepts": 4,
                "bound": 0.125},
    "classes": [{"class": "cat", "before": 0.4, "after": 0.2, "control": 0.4, "fall": 0.5,
                 "concepts": 3, "bound": 0.1},
                {"class": "dog", "before": None, "after": None, "control": None,
                 "skipped": "no tagged validation images", "bound": None}],
}


def test_an_older_cache_result_reads_back_and_round_trips():
    rep = RepairAlignment.from_json(OLD_RESULT)
    assert rep.error is None and rep.overall == Figures(0.5, 0.25, 0.5, 0.5, 0.125, 4)
    assert [c.class_ for c in rep.classes] == ["cat", "dog"]
    assert rep.classes[1].skipped == "no tagged validation images"
    assert rep.classes[1].fall is None and rep.classes[1].concepts is None
    js = rep.to_json()
    assert js["classes"][0]["class"] == "cat" and "class_" not in js["classes"][0]
    assert RepairAlignment.from_json(js) == rep


def test_the_api_sends_the_fields_it_sent_before():
    """Every field of the former hand-written schemas, by the same names, None filled in;
    NaN sent as null."""
    from slicelens.server.routers.concepts import AlignmentOut

    rep = RepairAlignment.from_json(OLD_RESULT)
    rep.classes[0].fall = math.nan
    err = RepairAlignment("run-4", None, "app", None, error="no attributes")
    out = AlignmentOut.of(Alignment("run-1", "divergence, bits", [rep, err])).model_dump(
        mode="json", by_alias=True)
    figures = ["before", "after", "control", "fall", "bound", "concepts", "skipped", "lower"]
    assert list(out) == ["base_run", "jsd", "repairs", "detail"]
    a, b = out["repairs"]
    assert list(a) == ["run", "control", "variant", "source", "description", "added",
                       "tagger", "error", "control_error", "bound_k", "bound_method",
                       "bound_skipped", "lower_method", "overall", "classes"]
    assert list(a["overall"]) == figures and list(a["classes"][0]) == [*figures, "class"]
    assert a["classes"][0] == {"before": 0.4, "after": 0.2, "control": 0.4, "fall": None,
                               "bound": 0.1, "concepts": 3, "skipped": None, "lower": None,
                               "class": "cat"}
    assert a["overall"]["bound"] == 0.125 and a["bound_k"] == 3
    assert b["error"] == "no attributes" and b["overall"] is None and b["classes"] is None
    assert b["description"] == "" and b["added"] is None


def test_a_class_figures_needs_its_class():
    import pytest

    with pytest.raises(TypeError):
        ClassFigures(before=0.1)  # type: ignore[call-arg]
