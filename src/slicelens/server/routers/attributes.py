"""HiBug attributes (HiBug Sec. 3, App. 7.2): the attribute list with its values
(editable), a histogram per attribute, and assigning attributes + finding attribute bug
slices as a background job. The attribute bug slices themselves are the slice set
``attributes`` (table, detail and marks through the slices and annotations routes).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from slicelens.errors import DataError
from slicelens.server.deps import RunDep, StateDep
from slicelens.server.guard import refuse_client_paths
from slicelens.server.routers.jobs import job_out
from slicelens.server.schemas import JobOut

router = APIRouter(tags=["attributes"])


class Bar(BaseModel):
    value: str
    n: int
    mean_score: float | None
    n_labeled: int = Field(0, description="labelled samples with this value")
    accuracy: float | None = Field(None, description="accuracy on them (None: no labels)")
    acc_low: float | None = Field(None, description="Wilson 95% interval, low end")
    acc_high: float | None = Field(None, description="Wilson 95% interval, high end")


class AttributeOut(BaseModel):
    name: str
    values: list[str]
    backend: str | None
    histogram: list[Bar]


class AttributesOut(BaseModel):
    status: str = Field(description="'ok', or what to run first")
    command: str
    split: str
    source: str | None = Field(None, description="who made the attribute list")
    attributes: list[AttributeOut]
    has_bug_slices: bool
    overall_accuracy: float | None = Field(None, description="accuracy on the split's labelled samples")


class AttributeEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="the attribute to edit")
    new_name: str | None = Field(None, min_length=1, max_length=100)
    values: list[str] | None = Field(None, max_length=200, description="the new value list")


class AttributeJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: str = Field("default", max_length=50, description="assigner for every attribute")
    params: dict[str, Any] = Field(default_factory=dict, description="the attributes slicer's Params")


def _num(v) -> float | None:
    return None if v is None or v != v else float(v)


def _bar(r: dict) -> Bar:
    return Bar(value=str(r["value"]), n=int(r["n"]), mean_score=_num(r.get("mean_score")),
               n_labeled=int(r.get("n_labeled", 0)), accuracy=_num(r.get("accuracy")),
               acc_low=_num(r.get("acc_low")), acc_high=_num(r.get("acc_high")))


@router.get("/runs/{run_id}/attributes", response_model=AttributesOut)
def get_attributes(rd: RunDep, state: StateDep, split: str = "val") -> AttributesOut:
    """The attribute list and a histogram of values per attribute on ``split``."""
    from slicelens.pipeline.attributes import histograms, load_spec, overall_accuracy

    run = rd.run
    spec = load_spec(run.path)
    command = f"slicelens attributes --workspace {state.workspace.root} --run {run.id}"
    has_bugs = run.has_artifact("slices", "attributes")
    if not run.has_artifact("attribute_matrix"):
        attrs = [] if spec is None else [
            AttributeOut(name=a.name, values=list(a.values), backend=a.backend, histogram=[])
            for a in spec.attributes]
        return AttributesOut(status="not computed yet: assign attributes first", command=command,
                             split=split, source=None if spec is None else spec.source,
                             attributes=attrs, has_bug_slices=has_bugs)
    hist = histograms(run, split)
    by_name = {a.name: a for a in spec.attributes} if spec else {}
    attrs = [AttributeOut(name=name, values=[b["value"] for b in bars],
                          backend=getattr(by_name.get(name), "backend", None),
                          histogram=[_bar(b) for b in bars]) for name, bars in hist.items()]
    return AttributesOut(status="ok", command=command, split=split,
                         source=None if spec is None else spec.source, attributes=attrs,
                         has_bug_slices=has_bugs, overall_accuracy=overall_accuracy(run, split))


@router.put("/runs/{run_id}/attributes", response_model=AttributesOut)
def edit_attribute(body: AttributeEditIn, rd: RunDep, state: StateDep) -> AttributesOut:
    """Rename an attribute and/or replace its values (HiBug App. 7.2: users edit the
    proposed attributes); assign again to use the edited list."""
    from slicelens.attributes.base import AttributeSpec
    from slicelens.pipeline.attributes import load_spec, save_spec

    spec = load_spec(rd.run.path)
    if spec is None:
        raise DataError(f"run {rd.run.id} has no attribute list yet; assign attributes first",
                        field="name")
    d = spec.to_json()
    hit = [a for a in d["attributes"] if a["name"] == body.name]
    if not hit:
        raise DataError(f"no attribute {body.name!r}; have {spec.names}", field="name")
    if body.new_name:
        hit[0]["name"] = body.new_name
    if body.values is not None:
        hit[0]["values"] = [v.strip() for v in body.values if v.strip()]
    d["source"] = "edited"
    save_spec(rd.run, AttributeSpec.from_json(d))
    return get_attributes(rd, state)


@router.post("/runs/{run_id}/attributes/jobs", response_model=JobOut, status_code=202)
def start_attributes(body: AttributeJobIn, rd: RunDep, state: StateDep) -> JobOut:
    """Assign attributes (``assign_attributes``) and find attribute bug slices
    (``find_attribute_bugs``) as one background job."""
    from slicelens.pipeline.attributes import assign_attributes, find_attribute_bugs

    refuse_client_paths(body.params)

    def work(report):
        report(0.1, f"assigning attributes ({body.backend})")
        matrix = assign_attributes(rd.run, body.backend)
        report(0.7, "finding attribute bug slices")
        ss = find_attribute_bugs(rd.run, body.params)
        return {"attributes": list(matrix.attributes), "n_slices": len(ss.slices)}

    return job_out(state.jobs.submit("attributes", work, {"run": rd.run.id, **body.model_dump()}))
