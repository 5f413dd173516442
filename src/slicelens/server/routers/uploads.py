"""Uploads: a label oracle CSV sent by the web client, stored in the workspace by content
(``slicelens.store.uploads``) and named by id in repair jobs (``{"oracle": "oracle-…"}``),
so no route ever opens a path chosen by a client."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from slicelens.server.deps import StateDep

router = APIRouter(tags=["uploads"])


class UploadOut(BaseModel):
    id: str
    kind: str
    name: str
    rows: int
    columns: list[str]
    bytes: int


@router.post("/uploads/oracles", response_model=UploadOut, status_code=201)
async def upload_oracle(request: Request, state: StateDep, name: str = "oracle.csv") -> UploadOut:
    """Store a label oracle: the request body is the CSV itself (``id`` column and a label
    column; ``Content-Type: text/csv``). The same content twice gives the same id."""
    from slicelens.store.uploads import save_upload

    content = await request.body()
    return UploadOut(**save_upload(state.workspace, "oracle", name, content).__dict__)


@router.get("/uploads/oracles", response_model=list[UploadOut])
def list_oracles(state: StateDep) -> list[UploadOut]:
    """Label oracles uploaded to this workspace, oldest first."""
    from slicelens.store.uploads import list_uploads

    return [UploadOut(**u.__dict__) for u in list_uploads(state.workspace, "oracle")]
