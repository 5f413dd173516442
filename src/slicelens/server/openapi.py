"""The app's OpenAPI document, made without a server: the source of the web client's types.

``scripts/gen_api.sh`` (run by ``scripts/build_web.sh``) writes it to
``web/src/generated/openapi.json`` with ``python -m slicelens.server.openapi OUT``, then
openapi-typescript turns it into ``web/src/generated/api.ts``; ``web/src/api.ts`` names
its types from there, so a schema change that the front end does not follow fails
``tsc``. ``tests/test_openapi_client.py`` fails when the committed files are stale.

Example
-------
>>> doc = openapi_document()
>>> doc["info"]["title"], "TdaRowOut" in doc["components"]["schemas"]
('slicelens', True)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of :func:`slicelens.server.create_app`, built on a temporary
    empty workspace (the document does not depend on the workspace or the settings)."""
    from slicelens.server.app import create_app
    from slicelens.server.settings import Settings
    from slicelens.store.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="slicelens-openapi-") as d:
        ws = Workspace(Path(d) / "ws")
        return create_app(Settings(workspace=ws.root, static_dir=Path(d) / "static")).openapi()


def render(doc: dict[str, Any]) -> str:
    """The document as the committed file has it (FastAPI's key order, 2-space indent)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m slicelens.server.openapi",
                                 description="Write the slicelens API's OpenAPI document.")
    ap.add_argument("out", type=Path, help="the JSON file to write (only if it changed)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 when OUT differs from the current document")
    a = ap.parse_args(argv)
    text = render(openapi_document())
    old = a.out.read_text(encoding="utf-8") if a.out.exists() else None
    if old == text:
        return 0
    if a.check:
        print(f"{a.out} is stale: the API changed; run bash scripts/gen_api.sh", file=sys.stderr)
        return 1
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text, encoding="utf-8")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
