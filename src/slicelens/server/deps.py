"""Typed dependencies shared by the routers (state, run, slice set, author)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from slicelens.server.auth import Caller
from slicelens.server.state import AppState, RunData, SliceSetData

#: names that become file names inside the run (no separators, no "..")
NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"


def get_state(request: Request) -> AppState:
    return request.app.state.slicelens


StateDep = Annotated[AppState, Depends(get_state)]
RunId = Annotated[str, Path(pattern=NAME, max_length=200, description="run id")]
SlicerName = Annotated[str, Path(pattern=NAME, max_length=100, description="slicer name")]


def get_run(run_id: RunId, state: StateDep) -> RunData:
    return state.run_data(run_id)


RunDep = Annotated[RunData, Depends(get_run)]


def get_slice_set(run_id: RunId, slicer: SlicerName, state: StateDep) -> SliceSetData:
    return state.slice_set(run_id, slicer)


SliceSetDep = Annotated[SliceSetData, Depends(get_slice_set)]


def get_caller(request: Request) -> Caller | None:
    """The token holder making the request (set by the routers' access check; None when
    the server has no tokens)."""
    return getattr(request.state, "caller", None)


CallerDep = Annotated[Caller | None, Depends(get_caller)]


def author_or_default(state: AppState, author: str, caller: Caller | None = None) -> str:
    """The token holder's name; without tokens the client's author name, else the
    server's default."""
    if caller is not None:
        return caller.name
    return author.strip() or state.settings.author
