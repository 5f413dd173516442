"""Who may do what: optional bearer tokens with two roles, checked per router.

Without tokens the server is open to whoever can reach it, so ``slicelens serve`` binds
it to the loopback interface only (and says so). With a token file every request needs
a token, sent as ``Authorization: Bearer <token>`` or in the ``slicelens_token`` cookie
(opening ``/?token=<token>`` once in a browser sets it, so the web app needs no change):

- ``annotator``: read everything, and create / edit / undo / redo marks;
- ``admin``: also start jobs (slicing, mosaic, attributes, training-data attribution,
  repair, retraining, comparison) and edit attribute lists.

A caller's marks carry the token's name as author: a client cannot mark as someone else.

Token file: one token per line, ``<role> <name> <token>``; ``#`` starts a comment. A
token may be stored as its hash, ``sha256:<64 hex digits>``, so the file does not hold
the secret: ``slicelens serve --add-token ROLE:NAME`` writes such lines to the
workspace's token file (:func:`add_token`, shown once), and every ``slicelens serve``
makes a fresh admin token for the person who starts it (:func:`make_token`), printed once
in the address it opens. ``--no-auth`` turns all of this off, on the loopback interface only.

Example
-------
>>> import tempfile, pathlib
>>> f = pathlib.Path(tempfile.mkdtemp()) / "tokens.txt"
>>> _ = f.write_text("admin ana s3cret-token-0123456789\\n")
>>> load_tokens(f)["s3cret-token-0123456789"].role
'admin'
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict

from slicelens.errors import DataError

#: Roles in increasing power; a role may do what every role before it may.
ROLES = ("annotator", "admin")
COOKIE = "slicelens_token"
MIN_TOKEN_LENGTH = 16
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HASHED = re.compile(r"sha256:[0-9a-f]{64}")
#: the workspace's own token file (hashes only), written by ``serve --add-token``
WORKSPACE_TOKENS = "server-tokens.txt"


def hash_token(token: str) -> str:
    """How a token is stored: ``sha256:<hex>`` (a token has 192 random bits, so a plain
    hash is enough; nothing is gained by a slow password hash).

    >>> hash_token("abc")[:15]
    'sha256:ba7816bf'
    """
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def make_token() -> str:
    """A new random token (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


class Caller(BaseModel):
    """The holder of a token: a name (the author of their marks) and a role."""

    model_config = ConfigDict(frozen=True)
    name: str
    role: Literal["annotator", "admin"]


def load_tokens(path: str | Path) -> dict[str, Caller]:
    """Token -> Caller from a token file; every error names the file, row and field."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise DataError(f"cannot read token file: {e.strerror}", file=str(path)) from None
    out: dict[str, Caller] = {}
    for row, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) != 3:
            raise DataError("expected '<role> <name> <token>'", file=str(path), row=row)
        role, name, token = parts
        if role not in ROLES:
            raise DataError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}",
                            file=str(path), row=row, field="role")
        if token.startswith("sha256:") and not HASHED.fullmatch(token):
            raise DataError("a stored hash is 'sha256:' and 64 lowercase hex digits",
                            file=str(path), row=row, field="token")
        if len(token) < MIN_TOKEN_LENGTH or not re.fullmatch(r"[\x21-\x7e]+", token):
            raise DataError(f"a token needs at least {MIN_TOKEN_LENGTH} printable characters",
                            file=str(path), row=row, field="token")
        if token in out:
            raise DataError("token listed twice", file=str(path), row=row, field="token")
        out[token] = Caller(name=name, role=role)
    if not out:
        raise DataError("no token in the token file", file=str(path))
    return out


def request_token(request: Request) -> str | None:
    """The token a request carries (bearer header first, then the cookie)."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.cookies.get(COOKIE)


def find_caller(tokens: dict[str, Caller], token: str | None) -> Caller | None:
    """The caller holding ``token`` (compared in constant time), or None."""
    if not token:
        return None
    hashed = hash_token(token)
    found = None
    for known, caller in tokens.items():
        presented = hashed if known.startswith("sha256:") else token
        if hmac.compare_digest(known.encode(), presented.encode()):
            found = caller
    return found


def add_token(path: str | Path, role: str, name: str) -> str:
    """Make a token for ``name`` with ``role``, store its hash in ``path``, return it.

    The token itself is stored nowhere: the caller shows it once. The file is written
    atomically with mode 0600; an existing entry of the same name is replaced (a new
    token for a person revokes the old one).
    """
    from slicelens.store.atomic import atomic_open

    if role not in ROLES:
        raise DataError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}",
                        field="role")
    if not re.fullmatch(r"[\w.@-]{1,100}", name):
        raise DataError(f"a token's name is letters, digits, '.', '@', '-' or '_', got {name!r}",
                        field="name")
    path = Path(path)
    kept = [line for line in (path.read_text().splitlines() if path.exists() else [])
            if line.split("#", 1)[0].split()[1:2] != [name]]
    token = make_token()
    with atomic_open(path, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write("\n".join([*kept, f"{role} {name} {hash_token(token)}"]) + "\n")
    return token


def revoke_token(path: str | Path, name: str) -> bool:
    """Remove ``name``'s token from ``path``; False when it had none."""
    from slicelens.store.atomic import atomic_open

    path = Path(path)
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split("#", 1)[0].split()[1:2] != [name]]
    if len(kept) == len(lines):
        return False
    with atomic_open(path, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write("\n".join(kept) + ("\n" if kept else ""))
    return True


def authorize(request: Request, tokens: dict[str, Caller], write_role: str) -> Caller | None:
    """Check a request; returns its caller (None when the server has no tokens).

    Reads (GET, HEAD, OPTIONS) need any valid token, writes need ``write_role`` or more.
    401 without a valid token, 403 with too weak a role.
    """
    if not tokens:
        return None
    caller = find_caller(tokens, request_token(request))
    if caller is None:
        raise HTTPException(401, "a valid token is required (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and ROLES.index(caller.role) < ROLES.index(write_role):
        raise HTTPException(403, f"{caller.name} is an {caller.role}; this needs {write_role}")
    return caller
