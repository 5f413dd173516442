"""Open the slicelens web app on a workspace (http://127.0.0.1:8765 by default).

Without --token-file the server has no authentication, so it binds to 127.0.0.1 only.
With one (lines "<role> <name> <token>", role annotator or admin) every request needs a
token, and it may bind to other interfaces (add their host names with --allowed-host).

Example:
  slicelens serve --workspace slicelens-workspace
  slicelens serve --workspace ws --port 9000 --no-browser
  slicelens serve --workspace ws --host 0.0.0.0 --token-file tokens.txt --allowed-host lab.example
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
    p.add_argument("--token-file", default=None,
                   help="tokens, one per line: '<annotator|admin> <name> <token>'")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="also serve requests for this Host name (repeatable; default: "
                        "loopback names only)")
    p.add_argument("--max-jobs", type=int, default=4, help="jobs queued or running at once")


def run(args) -> int:
    import threading
    import webbrowser

    import uvicorn
    from pydantic import ValidationError

    from slicelens.errors import SliceLensError
    from slicelens.server import Settings, create_app
    from slicelens.server.auth import load_tokens
    from slicelens.server.settings import LOOPBACK

    tokens = load_tokens(args.token_file) if args.token_file else {}
    try:
        settings = Settings(workspace=args.workspace, host=args.host, port=args.port,
                            author=args.author, tokens=tokens, max_jobs=args.max_jobs,
                            allowed_hosts=(*LOOPBACK, *(h.lower() for h in args.allowed_host)))
    except ValidationError as e:
        raise SliceLensError("; ".join(err["msg"].removeprefix("Value error, ")
                                       for err in e.errors())) from None
    app = create_app(settings)
    url = f"http://{settings.host}:{settings.port}/"
    print(f"slicelens: serving {settings.workspace} at {url} (Ctrl-C stops)")
    if tokens:
        print(f"slicelens: {len(tokens)} tokens; open {url}?token=<your token> in a browser")
    else:
        print("slicelens: no --token-file: no authentication, so loopback only (anyone on "
              "this machine can mark and start jobs)")
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0
