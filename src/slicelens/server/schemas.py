"""Input (``...In``) and output schemas of the HTTP API; they make the OpenAPI schema.

Outputs that show a library object are derived from its dataclass
(:func:`slicelens.server.derive.derived_from`); the web client's types are generated from the
OpenAPI document (``python -m slicelens.server.openapi``, docs/app.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from slicelens.server.derive import View, derived_from
from slicelens.server.jobs import Job
from slicelens.store.db import Annotation, Event

SliceLabel = Literal["core", "spurious", "wrong_labels"]
Author = Field("", max_length=100, description="who marks (empty: the server's default)")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- outputs -----------------------------------------------------------------------
class Health(BaseModel):
    status: str
    version: str


class Meta(BaseModel):
    """What menus are built from: registries, labels, the workspace."""

    workspace: str
    author: str
    slice_labels: list[str]
    bug_types: list[str]
    slicers: list[str]
    repair_strategies: list[str]


class RunSummary(BaseModel):
    id: str
    n_samples: int
    classes: list[str]
    accuracy: dict[str, float | None] = Field(description="accuracy per split (labelled samples)")
    created_at: str
    model: str
    slice_sets: list[str]
    preferred_slicer: str | None = Field(
        None, description="the slice set shown when none is chosen: error-aware, else "
        "attribution, else the newest (slicelens.slicing.runio.preferred_slicer)")
    base_run: str | None = Field(None, description="the run this one repairs, if any")
    plan: str | None = Field(None, description="summary of the repair plan, if any")
    control_run: str | None = Field(None, description="the repair's matched control run, if any")
    is_control: bool = Field(False, description="this run is a matched control (unchanged data)")


class SampleRow(BaseModel):
    id: str
    split: str
    label: int
    pred: int
    label_name: str
    pred_name: str
    confidence: float
    loss: float | None
    correct: bool | None


class SamplePage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[SampleRow]


# a mark as the API shows it: the store's Annotation (``store.db``) less its target type
@derived_from(Annotation, exclude=("target_type",))
class AnnotationOut(View):
    slice_now: str | None = Field(None, description="the current slice holding the images "
                                  "the mark was made on (null: orphaned or not resolved)")
    anchor: str | None = Field(None, description="kept, moved, orphaned or unanchored "
                               "(listed marks only)")


# one entry of a mark's history: the store's Event less the annotation id
@derived_from(Event, exclude=("annotation_id",))
class EventOut(View):
    pass


class SliceRow(BaseModel):
    """One row of the slice table (Fig. 2 B): every number comes from the library."""

    id: str
    size: int
    accuracy: float | None
    confidence: float | None
    spuriousness: float | None
    spuriousness_source: str | None = Field(None, description="'human' or 'propagated'")
    bug_type: str | None
    description: str = Field(description="words: the attribute values enriched in the slice "
                                         "(else its confusion cell)")
    confusion: str = Field("", description="the dominant confusion cell (the second line)")
    bug_evidence: str | None = Field(None, description="why the bug type, in one sentence")
    annotation: AnnotationOut | None
    polygon: list[list[float]] | None
    metrics: dict[str, Any]
    conditions: dict[str, str] | None = Field(
        None, description="attribute = value of an attribute bug slice (HiBug), else null")


class LabelCheck(BaseModel):
    """The training-label check stored beside a slice set (``slicelens slices`` runs it:
    the ``wrong-labels`` slicer on the training split)."""

    slicer: str = Field(description="the slice set that holds it (open it like any set)")
    split: str
    groups: int = Field(description="groups of suspect labels")
    suspects: int = Field(description="samples in them")
    checked: int = Field(description="labelled samples checked")


class SliceTable(BaseModel):
    run_id: str
    slicer: str
    split: str
    params: dict[str, Any]
    n_samples: int
    has_layout: bool
    spuriousness_status: str = Field(description="how spuriousness was made, or why there is none")
    spuriousness_pending: bool = Field(False, description="new marks are still being propagated")
    label_check: LabelCheck | None = Field(
        None, description="the run's stored training-label check (not on that set itself)")
    slices: list[SliceRow]


class Cell(BaseModel):
    """A confusion-matrix cell of a slice, named in words (AttributionScanner App. A-V)."""

    label: int
    pred: int
    name: str
    n: int


class SliceDetail(BaseModel):
    row: SliceRow
    evidence: dict[str, Any]
    cells: list[Cell]


# a background job: the server's Job (``server.jobs``), its status spelled out
@derived_from(Job)
class JobOut(View):
    status: Literal["queued", "running", "done", "failed"]
    result: Any = None


class Spuriousness(BaseModel):
    slice_id: str
    spuriousness: float | None = Field(description="in [0, 1]; null where nothing reached it")
    source: str = Field(description="'human', 'propagated' or 'none'")


class SpuriousnessOut(BaseModel):
    status: str
    pending: bool
    scores: list[Spuriousness]


# -- inputs ------------------------------------------------------------------------
class AnnotationIn(_In):
    slicer: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    slice_id: str = Field(min_length=1, max_length=200)
    label: SliceLabel
    description: str = Field("", max_length=2000)
    author: str = Author


class AnnotationEditIn(_In):
    label: SliceLabel | None = None
    description: str | None = Field(None, max_length=2000)
    author: str = Author


class AuthorIn(_In):
    author: str = Author


class CustomSliceIn(_In):
    """A lasso selection: positions into the slice set's scatter payload."""

    indices: list[Annotated[int, Field(ge=0, lt=2**31)]] = Field(
        min_length=1, description="positions in the points payload")
    description: str = Field("", max_length=500)


class SliceJobIn(_In):
    params: dict[str, Any] = Field(default_factory=dict, description="the slicer's Params")
    split: str = Field("val", pattern=r"^(train|val|test|pool)$")
