"""The FastAPI application: API routers under ``/api``, the built front end at ``/``.

Example
-------
>>> from slicelens.server import Settings, create_app        # doctest: +SKIP
>>> app = create_app(Settings(workspace="slicelens-workspace"))   # doctest: +SKIP
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from slicelens import __version__
from slicelens.errors import DataError, NotFittedError, SliceLensError, WorkspaceError
from slicelens.server.routers import ROUTERS
from slicelens.server.settings import Settings
from slicelens.server.state import AppState

NO_BUNDLE = """<!doctype html><title>slicelens</title><h1>slicelens</h1>
<p>The web bundle is not built. Run <code>bash scripts/build_web.sh</code> (or
<code>bash scripts/setup.sh</code>) and reload. The API is up: <a href="/docs">/docs</a>.</p>"""


def _status(e: SliceLensError) -> int:
    """HTTP status of a library error: missing things 404, bad input 422, else 400."""
    if isinstance(e, NotFittedError):
        return 409
    if isinstance(e, WorkspaceError):
        return 404
    if isinstance(e, DataError):
        return 422
    return 400


def create_app(settings: Settings) -> FastAPI:
    """Build the app for one workspace.

    Parameters
    ----------
    settings : Settings

    Returns
    -------
    FastAPI
        ``app.state.slicelens`` holds the :class:`AppState` (workspace, caches, jobs).
    """
    state = AppState(settings)
    app = FastAPI(title="slicelens", version=__version__,
                  description="Find where an image classifier fails and why, confirm the "
                              "cause, trace it to the training data, and repair the model.")
    app.state.slicelens = state

    @app.exception_handler(SliceLensError)
    async def library_error(request: Request, exc: SliceLensError):
        return JSONResponse({"detail": str(exc)}, status_code=_status(exc))

    for router in ROUTERS:
        app.include_router(router, prefix="/api")
    _mount_front_end(app, settings)
    return app


def _mount_front_end(app: FastAPI, settings: Settings) -> None:
    static = settings.static_dir
    index = static / "index.html"
    if (static / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=static / "assets"), name="assets")

    @app.get("/", include_in_schema=False)
    def front_end():
        if index.exists():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(NO_BUNDLE)
