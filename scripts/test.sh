#!/usr/bin/env bash
# Run the whole test suite (slow end-to-end tests included) on a fresh or set-up clone.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
# the build regenerates the web client's API types; a stale committed copy is an error here
export SLICELENS_CHECK_GENERATED=1
bash scripts/setup.sh
# the browser tests drive Debian's Chromium (never a downloaded browser); needs apt (root)
bash scripts/install_browser.sh
# static checks first (seconds, and a failure names the file and line): lint, then types
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m mypy  # the files and the level are in pyproject.toml [tool.mypy]
export SLICELENS_QUIET=1
# the browser tests fail (not skip) when chromium or playwright is missing
export SLICELENS_REQUIRE_BROWSER=1
exec .venv/bin/python -m pytest -q "$@"
