"""Every `slicelens ...` command shown in the README and docs/ parses with today's CLI.

Catches docs that name a command or an option that no longer exists (a page once
pointed at `slicelens attribute-errors`, which never existed). Commands are parsed, not
run; placeholders such as <run> parse as plain strings.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from slicelens.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(page: Path) -> list[tuple[int, str]]:
    """(line number, command) of each slicelens command inside fenced code blocks."""
    out, fenced, pending, start = [], False, "", 0
    for n, line in enumerate(page.read_text().splitlines(), 1):
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            continue
        text = line.split(" # ")[0].split("  #")[0].strip()
        if pending:
            pending += " " + text.rstrip("\\").strip()
        elif re.match(r"^(\.venv/bin/)?slicelens\s", text):
            pending, start = re.sub(r"^\.venv/bin/", "", text.rstrip("\\").strip()), n
        else:
            continue
        if not text.endswith("\\"):
            for part in re.split(r"\s*&&\s*", pending):
                if part.startswith("slicelens "):
                    out.append((start, part))
            pending = ""
    return out


CASES = [(p.name, n, c) for p in PAGES for n, c in _commands(p)]


def test_the_docs_show_commands():
    assert len(CASES) > 30 and {p.name for p in PAGES} >= {"README.md", "app.md", "tda.md"}


@pytest.mark.parametrize(("page", "line", "command"), CASES,
                         ids=[f"{p}:{n}" for p, n, _ in CASES])
def test_documented_command_parses(page, line, command):
    argv = shlex.split(command)[1:]
    try:
        build_parser(argv).parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on an unknown command or option
        pytest.fail(f"{page}:{line}: `{command}` does not parse (exit {e.code})")
