"""Uploads: a label oracle CSV sent by the web client, stored in the workspace by content
(``slicelens.store.uploads``) and named by id in repair jobs (``{"oracle": "oracle-…"}``),
so no route ever opens a path chosen by a client."""

from __future__ import annotations

from fastapi import APIRouter, Request

from slicelens.server.deps import StateDep
from slicelens.store.uploads import Upload

router = APIRouter(tags=["uploads"])


@router.post("/uploads/oracles", response_model=Upload, status_code=201)
async def upload_oracle(request: Request, state: StateDep, name: str = "oracle.csv") -> Upload:
    """Store a label oracle: the request body is the CSV itself (``id`` column and a label
    column; ``Content-Type: text/csv``). The same content twice gives the same id."""
    from slicelens.store.uploads import save_upload

    return save_upload(state.workspace, "oracle", name, await request.body())


@router.get("/uploads/oracles", response_model=list[Upload])
def list_oracles(state: StateDep) -> list[Upload]:
    """Label oracles uploaded to this workspace, oldest first."""
    from slicelens.store.uploads import list_uploads

    return list_uploads(state.workspace, "oracle")
