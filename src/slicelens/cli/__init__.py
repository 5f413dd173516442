"""The ``slicelens`` command.

Each sub-command is a module of this package with ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; adding one is one entry in ``COMMANDS``. Commands only parse,
call library functions and print: no algorithm code lives here.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from slicelens.errors import SliceLensError

COMMANDS = ("demo", "train", "extract", "runs", "slices", "mosaic", "annotate", "repair",
            "evaluate", "attributes", "bugs", "tda", "concepts", "report", "export", "serve")


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The parser; only the chosen command's options are built (they import torch)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if a in COMMANDS), None)
    parser = argparse.ArgumentParser(
        prog="slicelens",
        description="Find where an image classifier fails and why, confirm the cause, "
                    "trace it to the training data, and repair the model.")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        mod = importlib.import_module(f"slicelens.cli.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=mod.HELP, description=(mod.__doc__ or mod.HELP).strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == chosen:
            mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _version() -> str:
    from slicelens import __version__
    return f"slicelens {__version__}"


def main(argv=None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.quiet:
        os.environ["SLICELENS_QUIET"] = "1"
    try:
        return int(args._run(args) or 0)
    except SliceLensError as e:
        print(f"slicelens {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" writing {e.filename}" if e.filename else ""
            print(f"slicelens {args.command}: error: no space left on the device{where}; free "
                  "some space and run the command again (finished work is kept, an "
                  "interrupted extraction resumes with --resume)", file=sys.stderr)
            return 2
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            what = "read-only file system" if e.errno == errno.EROFS else "permission denied"
            print(f"slicelens {args.command}: error: {what}: {e.filename or '(no file name)'}; "
                  "check the owner and mode of that path, or choose another --workspace "
                  "(finished work is kept)", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print(f"slicelens {args.command}: interrupted; finished work is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
