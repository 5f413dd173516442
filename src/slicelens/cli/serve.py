"""Open the slicelens web app on a workspace (http://127.0.0.1:8765 by default).

Every request needs a token. Each start makes a fresh admin token for you, printed once
inside the address it opens (the browser keeps it in a cookie). Tokens for other people
are made with --add-token ROLE:NAME (annotator: marks only; admin: also jobs, repairs and
edits), printed once and stored only as a hash in the workspace's server-tokens.txt; a
--token-file of "<role> <name> <token>" lines adds more. --no-auth turns authentication
off, and is allowed on 127.0.0.1 only.

Example:
  slicelens serve --workspace slicelens-workspace
  slicelens serve --workspace ws --add-token annotator:ana      # prints ana's token once
  slicelens serve --workspace ws --host 0.0.0.0 --allowed-host lab.example --no-browser
  slicelens serve --workspace ws --no-auth                       # loopback only
"""

from __future__ import annotations

from slicelens.cli.common import add_workspace

HELP = "open the web app (slice table, mosaic, annotation, attribution, repair)"


def add_arguments(p):
    add_workspace(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765)")
    p.add_argument("--author", default=None,
                   help="your name on the marks you make (default: your login name)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--token-file", default=None,
                   help="more tokens, one per line: '<annotator|admin> <name> <token>'")
    p.add_argument("--add-token", metavar="ROLE:NAME", default=None,
                   help="make a token for NAME (role annotator or admin), print it once, "
                        "store its hash in the workspace, and exit")
    p.add_argument("--revoke-token", metavar="NAME", default=None,
                   help="remove NAME's token from the workspace and exit")
    p.add_argument("--no-auth", action="store_true",
                   help="no tokens at all (anyone on this machine may mark and start jobs); "
                        "only with --host 127.0.0.1")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="also serve requests for this Host name (repeatable; default: "
                        "loopback names only)")
    p.add_argument("--max-jobs", type=int, default=4, help="jobs queued or running at once")


def run(args) -> int:
    import getpass
    import threading
    import webbrowser

    from pydantic import ValidationError

    from slicelens.errors import SliceLensError
    from slicelens.server import Settings, create_app
    from slicelens.server.auth import (
        WORKSPACE_TOKENS,
        Caller,
        add_token,
        load_tokens,
        make_token,
        revoke_token,
    )
    from slicelens.server.settings import LOOPBACK
    from slicelens.store import Workspace

    ws = Workspace(args.workspace, create=False)
    store = ws.root / WORKSPACE_TOKENS
    if args.add_token:
        role, _, name = args.add_token.partition(":")
        token = add_token(store, role, name)
        print(f"slicelens: {role} token for {name} (shown once; only its hash is kept in "
              f"{store}):\n{token}\n"
              f"open http://<host>:<port>/?token={token} or send 'Authorization: Bearer {token}'")
        return 0
    if args.revoke_token:
        if not revoke_token(store, args.revoke_token):
            raise SliceLensError(f"{args.revoke_token} has no token in {store}")
        print(f"slicelens: {args.revoke_token}'s token is revoked (restart the server)")
        return 0
    author = args.author or _login_name(getpass)
    tokens, own = {}, None
    if args.no_auth:
        if args.token_file:
            raise SliceLensError("--no-auth and --token-file contradict each other")
    else:
        if store.exists() and store.read_text().strip():
            tokens.update(load_tokens(store))
        if args.token_file:
            tokens.update(load_tokens(args.token_file))
        own = make_token()
        tokens[own] = Caller(name=author, role="admin")
    try:
        settings = Settings(workspace=ws.root, host=args.host, port=args.port,
                            author=author, tokens=tokens, max_jobs=args.max_jobs,
                            allowed_hosts=(*LOOPBACK, *(h.lower() for h in args.allowed_host)))
    except ValidationError as e:
        raise SliceLensError("; ".join(err["msg"].removeprefix("Value error, ")
                                       for err in e.errors())) from None
    app = create_app(settings)
    url = f"http://{settings.host}:{settings.port}/"
    print(f"slicelens: serving {settings.workspace} at {url} (Ctrl-C stops)")
    if own:
        url = f"{url}?token={own}"
        print(f"slicelens: your admin token as {author} (shown once, valid until this "
              f"server stops): {url}")
        print(f"slicelens: {len(tokens) - 1} other tokens; make one for an annotator with "
              f"'slicelens serve --workspace {args.workspace} --add-token annotator:NAME'")
    else:
        print("slicelens: --no-auth: no authentication, loopback only (anyone on this "
              "machine can mark and start jobs)")
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def _login_name(getpass) -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "admin"
