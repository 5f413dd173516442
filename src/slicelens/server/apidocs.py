"""``/docs``: Swagger UI from files installed with the package, never from a CDN.

FastAPI's own ``/docs`` page loads Swagger UI's script and stylesheet from jsDelivr, so
it is blank on a machine without internet (the usual place for a workspace of private
images). The ``swagger-ui-bundle`` wheel ships those files (Swagger UI 4.15.5); they are
served under ``/docs-assets``. ReDoc has no such wheel, so ``/redoc`` sends the browser
to ``/docs`` instead of to a page that would need the CDN.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
NO_ASSETS = """<!doctype html><title>slicelens API</title><h1>slicelens API</h1>
<p>Swagger UI is not installed (<code>pip install swagger-ui-bundle</code>, part of the
<code>server</code> extra). The schema is at <a href="/openapi.json">/openapi.json</a>.</p>"""


def mount_api_docs(app: FastAPI) -> None:
    """Add ``/docs`` (Swagger UI from the ``swagger-ui-bundle`` wheel), its assets and a
    ``/redoc`` that points to it; the app must be made with ``docs_url=None, redoc_url=None``."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        swagger_ui_path = None
    if swagger_ui_path is not None:
        app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if swagger_ui_path is None:
            return HTMLResponse(NO_ASSETS)
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> RedirectResponse:
        return RedirectResponse("/docs", status_code=307)
