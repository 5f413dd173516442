"""What every request passes before a route: the Host check, the body size limit, and
the refusal of filesystem paths in job parameters.

- **Host**: only the names in ``Settings.allowed_hosts`` (loopback by default) are
  served; any other ``Host`` header (a DNS-rebinding page, a proxy that was not set up
  for it) gets 400 before any route runs.
- **Body size**: a declared ``Content-Length`` over ``Settings.max_body_bytes`` gets 413
  at once; a streamed body is read up to the limit (then 413) before the app sees it. The body is never
  echoed (validation errors are reported without their input either).
- **Paths**: a job never opens a path sent by a client. Runs are addressed by id, and a
  parameter whose name says it is a file (``oracle``, ``ground_truth``, ``*_path``, ...)
  or whose value looks like a path is refused with one message that says nothing about
  what exists on the server.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from slicelens.errors import DataError

if TYPE_CHECKING:
    from slicelens.store.workspace import Workspace

#: parameter names that name files on the machine the job runs on
PATH_NAMES = frozenset({"oracle", "ground_truth", "model_path", "weights", "manifest", "path",
                        "file", "source", "output", "out", "dir", "folder", "root"})
PATH_SUFFIXES = ("_path", "_file", "_dir", "_csv", "_folder")


def _reply(status: int, detail: str):
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    return status, headers, body


class Guard:
    """Pure ASGI middleware: Host allow-list and request body limit.

    Parameters
    ----------
    app : ASGI app
    allowed_hosts : iterable of str
        Host names (without port; IPv6 in brackets, e.g. ``[::1]``), or ``"*"`` for any.
    max_body_bytes : int
    """

    def __init__(self, app, allowed_hosts, max_body_bytes: int):
        self.app = app
        self.hosts = {h.lower() for h in allowed_hosts}
        self.max_body = int(max_body_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if "*" not in self.hosts and host_name(headers.get(b"host", b"").decode("latin-1")) \
                not in self.hosts:
            return await _send(send, *_reply(400, "this host name is not served; start the "
                                             "server with --allowed-host for it"))
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await _send(send, *_reply(413, f"request body over {self.max_body} bytes"))
        # read the body first (at most max_body bytes), then replay it to the app: a
        # streamed body over the limit is refused before any route parses it
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_body:
                return await _send(send, *_reply(413, f"request body over {self.max_body} bytes"))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _send(send, status: int, headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def host_name(host: str) -> str:
    """``"127.0.0.1:8765"`` -> ``"127.0.0.1"``; ``"[::1]:80"`` -> ``"[::1]"`` (lower case)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refuse_client_paths(params: dict[str, Any], where: str = "params") -> None:
    """Raise :class:`DataError` (HTTP 422) when job parameters name a file.

    A parameter is refused when its name is in :data:`PATH_NAMES` or ends with one of
    :data:`PATH_SUFFIXES`, or when a string value holds a path separator or starts with
    ``~`` or ``.``. The message names the field only.
    """
    for key, value in params.items():
        name = f"{where}.{key}"
        if isinstance(value, dict):
            refuse_client_paths(value, name)
            continue
        values = value if isinstance(value, list | tuple) else [value]
        by_name = str(key).lower() in PATH_NAMES or str(key).lower().endswith(PATH_SUFFIXES)
        by_value = any(isinstance(v, str) and ("/" in v or "\\" in v or v[:1] in ("~", "."))
                       for v in values)
        if (by_name and value not in (None, "", [])) or by_value:
            raise DataError("the server does not open files named by a client; set this "
                            "parameter with the command line (e.g. `slicelens repair`) on the "
                            "server's machine", field=name)


#: job parameters that may name an upload of this workspace (by id, never by path)
UPLOAD_PARAMS = ("oracle",)


def resolve_uploads(workspace: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with upload ids (``{"oracle": "oracle-0123456789ab"}``, see
    ``slicelens.store.uploads``) replaced by the stored files; every other file-like
    parameter is refused as :func:`refuse_client_paths` does.

    An unknown upload id is 404 (``WorkspaceError``); anything else in an upload parameter
    is the same 422 as any other path.
    """
    from slicelens.store.uploads import UPLOAD_ID, resolve_upload

    params = dict(params)
    uploads = {k: params.pop(k) for k in UPLOAD_PARAMS if params.get(k) not in (None, "")}
    refuse_client_paths(params)
    for key, value in uploads.items():
        if not (isinstance(value, str) and UPLOAD_ID.fullmatch(value)):
            raise DataError("the server does not open files named by a client; upload the "
                            "file (POST /api/uploads/oracles) and give its id",
                            field=f"params.{key}")
        params[key] = str(resolve_upload(workspace, value))
    return params


def validation_errors(errors) -> list[dict]:
    """Pydantic/FastAPI validation errors without the input they rejected (no echo)."""
    return [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errors]
