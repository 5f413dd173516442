"""The one settings object of the web app (workspace, address, where the bundle is)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from slicelens.server.auth import Caller

STATIC_DIR = Path(__file__).parent / "static"
#: Host header names of the loopback interface (the default allow-list)
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
#: addresses that mean "every interface"
WILDCARD = ("0.0.0.0", "::", "")


class Settings(BaseModel):
    """How ``slicelens serve`` / :func:`slicelens.show` run the app.

    Parameters
    ----------
    workspace : Path
        The workspace directory to show (must exist: ``slicelens demo`` or ``extract``
        makes one).
    host : str, default "127.0.0.1"
        Interface to bind; loopback only unless the user says otherwise.
    port : int, default 8765
        TCP port (0 lets the operating system choose, used by tests and ``show``).
    author : str, default "anonymous"
        Annotator name used when a client does not send one.
    static_dir : Path
        The built front end (``scripts/build_web.sh`` writes it).
    allowed_hosts : list of str, default loopback names
        Host header names served (``"*"``: any); others get 400 (DNS rebinding).
    max_body_bytes : int, default 8 MiB
        Larger request bodies get 413.
    max_jobs : int, default 4
        Jobs queued or running at once; more get 429.
    tokens : dict token -> Caller, default none
        With tokens every request needs one (see ``slicelens.server.auth``).

    Examples
    --------
    >>> Settings(workspace="ws").host
    '127.0.0.1'
    """

    model_config = ConfigDict(frozen=True)

    workspace: Path = Field(description="workspace directory to show")
    host: str = Field("127.0.0.1", description="interface to bind")
    port: int = Field(8765, ge=0, le=65535, description="TCP port (0: any free port)")
    author: str = Field("anonymous", min_length=1, max_length=100,
                        description="annotator name when the client sends none")
    static_dir: Path = Field(STATIC_DIR, description="directory of the built web bundle")
    allowed_hosts: tuple[str, ...] = Field(LOOPBACK, description="Host header names served")
    max_body_bytes: int = Field(8 << 20, ge=1024, description="largest request body, bytes")
    max_jobs: int = Field(4, ge=1, le=1000, description="jobs queued or running at once")
    tokens: dict[str, Caller] = Field(default_factory=dict, repr=False,
                                      description="token -> caller (empty: no authentication)")

    @model_validator(mode="after")
    def _open_only_with_tokens(self):
        """No tokens: loopback only. A specific bind address is always an allowed host."""
        loopback = self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")
        if not self.tokens and not loopback:
            raise ValueError(f"without tokens the server is open to anyone who reaches it, so "
                             f"it binds to 127.0.0.1 only; drop --no-auth to serve on "
                             f"{self.host!r} with tokens")
        if self.host not in WILDCARD:
            name = f"[{self.host}]" if ":" in self.host else self.host
            if name.lower() not in self.allowed_hosts:
                object.__setattr__(self, "allowed_hosts", (*self.allowed_hosts, name.lower()))
        return self
