"""Propagated spuriousness per slice (AttributionScanner Sec. III-E 2, App. A-IV)."""

from __future__ import annotations

from fastapi import APIRouter

from slicelens.server.deps import RunDep, SliceSetDep, StateDep
from slicelens.server.schemas import Spuriousness, SpuriousnessOut
from slicelens.server.views import slice_marks, spuriousness_scores

router = APIRouter(tags=["spuriousness"])


@router.get("/runs/{run_id}/slicesets/{slicer}/spuriousness", response_model=SpuriousnessOut)
def get_spuriousness(rd: RunDep, ssd: SliceSetDep, state: StateDep) -> SpuriousnessOut:
    """Spuriousness in [0, 1] per slice: the human mark where there is one ('human'), else
    label spreading from the marks ('propagated'); empty until a slice is marked core or
    spurious (``status`` says why)."""
    marks = slice_marks(state, rd, ssd.slice_set.slicer)
    status, scores, pending = spuriousness_scores(state, rd, ssd, marks)
    return SpuriousnessOut(status=status, pending=pending, scores=[
        Spuriousness(slice_id=k, spuriousness=v[0], source=v[1]) for k, v in scores.items()])
