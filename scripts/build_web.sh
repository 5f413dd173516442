#!/usr/bin/env bash
# Build the web app's bundle into src/slicelens/server/static/ (served by `slicelens serve`).
# Needs Node.js >= 20 and npm; installs exactly what web/package-lock.json pins.
# First regenerates the client's API types from the server's schemas (scripts/gen_api.sh:
# needs the Python that has slicelens, $PYTHON or .venv/bin/python), then `tsc --noEmit`
# checks the app against them and vite bundles it. Skips tsc/vite when the bundle is newer
# than every source file. Usage: bash scripts/build_web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "build_web: npm not found; install Node.js 20+ to build the web app" >&2
  exit 1
fi
bash scripts/gen_api.sh
out=src/slicelens/server/static/index.html
if [ -f "$out" ] && [ -z "$(find web/src web/index.html web/package-lock.json web/vite.config.ts -newer "$out" -print -quit)" ]; then
  echo "build_web: bundle is up to date"
  exit 0
fi
echo "build_web: npm ci && npm run build"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
echo "build_web: wrote $(dirname "$out")"
