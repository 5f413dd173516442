#!/usr/bin/env bash
# Set up slicelens on a fresh machine: a virtual environment in .venv, the CPU build of
# PyTorch, the package with its extras, and the web app's bundle. Idempotent: a second
# run only checks. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
$VPY -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# torch first, pinned: it takes the CPU wheel on disk; a range would pull CUDA builds.
if ! $VPY -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  echo "setup: installing torch==2.13.0 (CPU)"
  $VPY -m pip install -q torch==2.13.0
fi
echo "setup: installing slicelens and its dependencies"
$VPY -m pip install -q -e ".[dev,server,text,ray,demo,diagnostics,efficientnet]" 2>&1 | grep -vE "^WARNING: Location|^$" || true
$VPY -c "import slicelens, torch; print('setup: slicelens', slicelens.__version__, '/ torch', torch.__version__)"
if [ -f web/package.json ]; then
  bash scripts/build_web.sh
fi
echo "setup: done. Activate with: source .venv/bin/activate"
