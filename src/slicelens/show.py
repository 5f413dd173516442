"""``slicelens.show(workspace)``: the web app from Python or a notebook.

Starts the server in a daemon thread of the current process (on a free port unless one
is given) and returns its URL; inside a Jupyter notebook it also displays the app in an
IFrame below the cell.

Example
-------
>>> import slicelens
>>> url = slicelens.show("slicelens-workspace")      # doctest: +SKIP
>>> url                                              # doctest: +SKIP
'http://127.0.0.1:40123/'
"""

from __future__ import annotations

import threading
import time
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING

from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.workspace import WorkspaceLike


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def show(workspace: WorkspaceLike, *, port: int = 0, host: str = "127.0.0.1", author: str = "anonymous",
         height: int = 800, timeout: float = 30.0) -> str:
    """Serve ``workspace`` in a background thread and return the app's URL.

    Parameters
    ----------
    workspace : str, Path or Workspace
    port : int, default 0
        0 picks a free port.
    host : str, default "127.0.0.1"
    author : str
        Your name on the marks you make.
    height : int
        Height in pixels of the notebook IFrame.
    timeout : float
        Seconds to wait for the server to start.

    Returns
    -------
    str
        ``http://host:port/``; the server runs until the Python process ends.
    """
    import uvicorn

    from slicelens.server import Settings, create_app
    from slicelens.store import Workspace

    if isinstance(workspace, Workspace):  # a Workspace object, or a path
        workspace = workspace.root
    settings = Settings(workspace=workspace, host=host, port=port, author=author)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="slicelens-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SliceLensError(f"the slicelens server did not start on {host}:{port}")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://{host}:{bound}/"
    if _in_notebook():
        from IPython.display import IFrame, display

        display(IFrame(url, width="100%", height=height))
    return url


class _CallableModule(_ModuleType):
    """``import slicelens.show`` binds this module to ``slicelens.show``; calling it still
    calls :func:`show`, so ``sl.show(ws)`` works however the module was imported."""

    def __call__(self, *args, **kwargs):
        return show(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
