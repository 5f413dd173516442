"""The FastAPI application: API routers under ``/api``, the built front end at ``/``.

Example
-------
>>> from slicelens.server import Settings, create_app        # doctest: +SKIP
>>> app = create_app(Settings(workspace="slicelens-workspace"))   # doctest: +SKIP
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from slicelens import __version__
from slicelens.errors import (
    ConflictError,
    DataError,
    NotFittedError,
    SliceLensError,
    WorkspaceError,
)
from slicelens.server.apidocs import mount_api_docs
from slicelens.server.auth import COOKIE, authorize, find_caller, request_token
from slicelens.server.guard import Guard, validation_errors
from slicelens.server.jobs import QueueFull
from slicelens.server.routers import ROUTERS, write_role
from slicelens.server.settings import Settings
from slicelens.server.state import AppState

NO_BUNDLE = """<!doctype html><title>slicelens</title><h1>slicelens</h1>
<p>The web bundle is not built. Run <code>bash scripts/build_web.sh</code> (or
<code>bash scripts/setup.sh</code>) and reload. The API is up: <a href="/docs">/docs</a>.</p>"""
NEEDS_TOKEN = """<!doctype html><title>slicelens: sign in</title><h1>slicelens</h1>
<p>This server needs a token. Open the address that <code>slicelens serve</code> printed
when it started (it ends in <code>?token=...</code>; a restart makes a new one), or the one
you were given (<code>slicelens serve --add-token annotator:NAME</code>).</p>"""


def _status(e: SliceLensError) -> int:
    """HTTP status of a library error: missing things 404, bad input 422, a full job
    queue 429, else 400."""
    if isinstance(e, QueueFull):
        return 429
    if isinstance(e, ConflictError):
        return 409
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
    app = FastAPI(title="slicelens", version=__version__, docs_url=None, redoc_url=None,
                  description="Find where an image classifier fails and why, confirm the "
                              "cause, trace it to the training data, and repair the model.")
    app.state.slicelens = state

    @app.exception_handler(SliceLensError)
    async def library_error(request: Request, exc: SliceLensError):
        return JSONResponse({"detail": str(exc)}, status_code=_status(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": validation_errors(exc.errors())}, status_code=422)

    for router in ROUTERS:
        app.include_router(router, prefix="/api",
                           dependencies=[Depends(access(write_role(router)))])
    mount_api_docs(app)
    _mount_front_end(app, settings)
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts,
                       max_body_bytes=settings.max_body_bytes)
    return app


def access(write_role: str):
    """Router dependency: the request's caller may read, and write with ``write_role``."""
    def check(request: Request):
        request.state.caller = authorize(request, request.app.state.slicelens.settings.tokens,
                                         write_role)
    return check


def _mount_front_end(app: FastAPI, settings: Settings) -> None:
    static = settings.static_dir
    index = static / "index.html"
    if (static / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=static / "assets"), name="assets")

    @app.get("/", include_in_schema=False)
    def front_end(request: Request, token: str | None = None):
        if token is not None:  # /?token=...: keep it in a cookie, drop it from the address
            if find_caller(settings.tokens, token) is None:
                return HTMLResponse("invalid token", status_code=401)
            r = RedirectResponse("/", status_code=303)
            r.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return r
        if settings.tokens and find_caller(settings.tokens, request_token(request)) is None:
            return HTMLResponse(NEEDS_TOKEN, status_code=401)
        if index.exists():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(NO_BUNDLE)
