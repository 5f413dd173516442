"""Options and printing shared by several commands."""

from __future__ import annotations

import argparse

DEFAULT_WORKSPACE = "slicelens-workspace"


def add_workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", "-w", default=DEFAULT_WORKSPACE,
                   help=f"workspace directory (default: ./{DEFAULT_WORKSPACE})")


def add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default=None, help="run id (default: the latest complete run)")


def open_run(args):
    from slicelens.store import Workspace

    ws = Workspace(args.workspace, create=False)
    return ws, (ws.run(args.run) if args.run else ws.latest_run())


def table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = ".3f") -> str:
    """A plain text table (no dependency) for terminal output."""
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])

    def fmt(v):
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)
    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)
