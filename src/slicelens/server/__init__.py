"""The slicelens web app: a FastAPI API over the library and the built TypeScript front end.

``create_app(Settings(workspace=...))`` builds it; ``slicelens serve`` and
:func:`slicelens.show` run it (see docs/app.md).
"""

from slicelens.server.app import create_app
from slicelens.server.settings import Settings

__all__ = ["Settings", "create_app"]
