"""Open the slicelens web app on a workspace (http://127.0.0.1:8765 by default).

Example:
  slicelens serve --workspace slicelens-workspace
  slicelens serve --workspace ws --port 9000 --no-browser
"""

from __future__ import annotations

from slicelens.cli.common import add_workspace

HELP = "open the web app (slice table, mosaic, annotation, attribution, repair)"


def add_arguments(p):
    add_workspace(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765)")
    p.add_argument("--author", default="anonymous", help="your name on the marks you make")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")


def run(args) -> int:
    import threading
    import webbrowser

    import uvicorn

    from slicelens.server import Settings, create_app

    settings = Settings(workspace=args.workspace, host=args.host, port=args.port,
                        author=args.author)
    app = create_app(settings)
    url = f"http://{settings.host}:{settings.port}/"
    print(f"slicelens: serving {settings.workspace} at {url} (Ctrl-C stops)")
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0
