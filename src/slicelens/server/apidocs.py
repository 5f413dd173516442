"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files installed with the package,
never from a CDN.

FastAPI's own pages load their scripts and stylesheets from jsDelivr, so they are blank
on a machine without internet (the usual place for a workspace of private images). The
``fastapi-offline`` wheel ships Swagger UI 5 (which reads the OpenAPI 3.1 schema FastAPI
writes; the ``swagger-ui-bundle`` wheel's Swagger UI 4 cannot) and ReDoc's standalone
script; they are served under ``/docs-assets``. Only the files are used, not the
package's app factory.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
NO_ASSETS = """<!doctype html><title>slicelens API</title><h1>slicelens API</h1>
<p>The API documentation pages are not installed (<code>pip install fastapi-offline</code>,
part of the <code>server</code> extra). The schema is at <a href="/openapi.json">/openapi.json</a>.</p>"""


def _assets() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    static = Path(fastapi_offline.__file__).parent / "static"
    return static if (static / "swagger-ui-bundle.js").exists() else None


def mount_api_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets; the app must be made with
    ``docs_url=None, redoc_url=None``."""
    static = _assets()
    if static is not None:
        app.mount(ASSETS, StaticFiles(directory=static), name="docs-assets")
    schema = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if static is None:
            return HTMLResponse(NO_ASSETS)
        return get_swagger_ui_html(
            openapi_url=schema, title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css", swagger_favicon_url=f"{ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        if static is None:
            return HTMLResponse(NO_ASSETS)
        return get_redoc_html(openapi_url=schema, title=f"{app.title} API",
                              redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)
