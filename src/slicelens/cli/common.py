"""Options and printing shared by several commands."""

from __future__ import annotations

import argparse
import sys

from slicelens.utils import table  # noqa: F401 - re-exported: the table moved down to utils

DEFAULT_WORKSPACE = "slicelens-workspace"


def add_workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", "-w", default=DEFAULT_WORKSPACE,
                   help=f"workspace directory (default: ./{DEFAULT_WORKSPACE})")


def add_run(p: argparse.ArgumentParser, default: str = "base") -> None:
    which = ("the newest complete run" if default == "latest" else
             "the analysed base run: the newest one that is not a repair or control")
    p.add_argument("--run", default=None, help=f"run id (default: {which})")


def open_run(args, default: str = "base", echo=print):
    """The workspace and the run a command reads, said in the command's first line.

    Without ``--run`` the run is the analysed base run (the newest run that is not a
    repair, retraining or matched control), or with ``default="latest"`` the newest run.
    """
    from slicelens.api import Workspace

    ws = Workspace(args.workspace, create=False)
    if args.run:
        run, why = ws.run(args.run), "--run"
    elif default == "latest":
        run, why = ws.latest_run(), "the newest run; --run to choose"
    else:
        run, why = ws.base_run(), "the analysed base run; --run to choose"
    echo(f"run {run.id} in {ws.root} ({why})")
    return ws, run


class Deprecated(argparse.Action):
    """An old option spelling that still works for one release, with a note on stderr."""

    def __init__(self, option_strings, dest, use: str = "", **kwargs):
        self.use = use
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"slicelens: {option_string} is deprecated and will be removed in the next "
              f"release; use {self.use}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated(p, flag: str, dest: str, use: str, **kwargs) -> None:
    """Keep ``flag`` working as a deprecated spelling of ``use`` (same ``dest``)."""
    p.add_argument(flag, dest=dest, action=Deprecated, use=use, default=argparse.SUPPRESS,
                   help=f"deprecated: use {use}", **kwargs)


def add_show(p, default: int) -> None:
    """``--show N``: rows of the table to print (``--top`` kept as a deprecated spelling)."""
    p.add_argument("--show", type=int, default=default, metavar="N",
                   help=f"rows of the table to print (default: {default})")
    add_deprecated(p, "--top", "show", "--show", type=int, metavar="N")


def parse_sets(items: list[str]) -> dict:
    """``--set KEY=VALUE`` options as a dict (VALUE read as JSON when it parses)."""
    import json

    from slicelens.errors import SliceLensError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SliceLensError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out
