"""The one settings object of the web app (workspace, address, where the bundle is)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

STATIC_DIR = Path(__file__).parent / "static"


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
