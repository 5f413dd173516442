"""One schema end to end: the API's schemas derive from the library's dataclasses, and the
web client's types (web/src/generated/) are generated from the API's OpenAPI document.

The committed generated files must match what the code makes now: a schema change that
was not regenerated (``bash scripts/gen_api.sh``) and committed fails here, and the
regenerated types then make ``tsc`` (``scripts/build_web.sh``) check every use.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from slicelens.server.derive import View, derived_from
from slicelens.server.openapi import openapi_document, render

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "web" / "src" / "generated"
CODEGEN = ROOT / "web" / "codegen" / "node_modules" / ".bin" / "openapi-typescript"
FIX = "the API changed: run `bash scripts/gen_api.sh` and commit web/src/generated/"


def test_committed_openapi_document_is_current():
    committed = (GENERATED / "openapi.json").read_text(encoding="utf-8")
    assert render(openapi_document()) == committed, FIX


def test_committed_client_types_are_generated_from_it(tmp_path):
    if not CODEGEN.exists() or shutil.which("node") is None:
        if os.environ.get("CI") or os.environ.get("SLICELENS_REQUIRE_BROWSER"):
            pytest.fail("openapi-typescript missing: run scripts/setup.sh (web/codegen npm ci)")
        pytest.skip("openapi-typescript not installed (web/codegen: npm ci)")
    out = tmp_path / "api.ts"
    subprocess.run([str(CODEGEN), str(GENERATED / "openapi.json"), "-o", str(out)],
                   check=True, capture_output=True, timeout=120)
    assert out.read_text(encoding="utf-8") == (GENERATED / "api.ts").read_text(encoding="utf-8"), FIX


def test_tda_row_schema_is_the_library_row():
    """The TDA row the API sends is TDARow's fields (less the plan's details), its group
    flattened, NaN as null: no hand-kept copy."""
    from dataclasses import fields

    from slicelens.server.routers.tda import TdaRowOut
    from slicelens.tda.groups import TrainingGroup
    from slicelens.tda.result import TDARow

    sent = set(TdaRowOut.model_fields)
    assert sent <= {f.name for f in fields(TDARow)} | {"errors_fixed", "kind", "size"}
    assert {"effect", "ci_low", "p_value", "global_effect", "errors_fixed", "rank"} <= sent
    row = TDARow(TrainingGroup("label a", "label", ["s1", "s2"]), "remove", "loss",
                 effect=-0.25, error_accuracy_effect=0.5, rank=3)
    out = TdaRowOut.of(row, group=row.group.name, kind=row.group.kind, size=row.group.size)
    assert (out.group, out.kind, out.size, out.rank) == ("label a", "label", 2, 3)
    assert out.effect == -0.25 and out.errors_fixed == 0.5
    assert math.isnan(row.ci_low) and out.ci_low is None      # JSON has no NaN
    schema = TdaRowOut.model_json_schema()
    assert set(schema["required"]) == sent
    assert {"type": "null"} in schema["properties"]["effect"]["anyOf"]


def test_a_library_field_reaches_the_schema():
    """A field added to the library type appears in the API schema (and so in the
    generated TypeScript), with its type; excluded and renamed fields follow the rules."""
    from dataclasses import dataclass

    @dataclass
    class Thing:
        name: str
        score: float
        tags: list[str]
        hidden: int = 0

    @derived_from(Thing, exclude=("hidden",), rename={"score": "value"})
    class ThingOut(View):
        note: str = ""

    props = ThingOut.model_json_schema()["properties"]
    assert list(props) == ["name", "value", "tags", "note"]
    assert props["tags"] == {"items": {"type": "string"}, "title": "Tags", "type": "array"}
    out = ThingOut.of(Thing("a", float("inf"), ["x"], hidden=3), note="n")
    assert out.model_dump() == {"name": "a", "value": None, "tags": ["x"], "note": "n"}
    with pytest.raises(TypeError, match="no fields"):
        derived_from(Thing, exclude=("nope",))

    # optional fields may be left out; ``order`` sets the keys' order (all of them, once)
    @derived_from(Thing, rename={"score": "value"}, optional=("tags",),
                  order=("note", "value", "name", "tags", "hidden"))
    class Ordered(View):
        note: str = ""

    assert list(Ordered.model_fields) == ["note", "value", "name", "tags", "hidden"]
    assert "tags" not in Ordered.model_json_schema()["required"]
    assert Ordered.model_validate({"name": "a", "value": 1.0, "hidden": 0}).model_dump(
        exclude_unset=True) == {"value": 1.0, "name": "a", "hidden": 0}
    with pytest.raises(TypeError, match="must name each field"):
        derived_from(Thing, order=("name",))(View)


def test_comparison_and_concept_answer_schemas_are_the_library_types():
    """The compare route's answer is the EvaluationReport with its typed rows (their
    optional fields optional), the concept answer is ConceptAnswer: no hand-kept copy."""
    from dataclasses import fields

    from slicelens.concepts.answers import ConceptAnswer
    from slicelens.evaluate.report import EvaluationReport, GroupRow, ModelScores, SliceRow
    from slicelens.server.routers.concepts import ConceptAnswerOut
    from slicelens.server.routers.repair import (
        ComparedGroupOut,
        ComparedModelOut,
        ComparedSliceOut,
        ComparisonOut,
    )

    for view, row in ((ComparedModelOut, ModelScores), (ComparedGroupOut, GroupRow),
                      (ComparedSliceOut, SliceRow)):
        assert list(view.model_fields) == [f.name for f in fields(row)]
        required = set(view.model_json_schema()["required"])
        assert required == {f.name for f in fields(row)} - set(row.OPTIONAL)
    assert list(ComparisonOut.model_fields) == [f.name for f in fields(EvaluationReport)] + [
        "computed"]
    assert set(ConceptAnswerOut.model_fields) == (
        {f.name for f in fields(ConceptAnswer)} - {"worker"} | {"author", "id", "status",
                                                                "updated_at"})


def test_openapi_module_check_mode(tmp_path, capsys):
    from slicelens.server.openapi import main

    out = tmp_path / "openapi.json"
    assert main([str(out), "--check"]) == 1 and not out.exists()
    assert main([str(out)]) == 0
    assert json.loads(out.read_text())["info"]["title"] == "slicelens"
    assert main([str(out), "--check"]) == 0
