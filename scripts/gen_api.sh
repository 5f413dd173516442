#!/usr/bin/env bash
# Generate the web client's API types from the server's schemas (docs/app.md, "One schema"):
#   1. python -m slicelens.server.openapi  -> web/src/generated/openapi.json (no server started)
#   2. openapi-typescript (web/codegen/, pinned) -> web/src/generated/api.ts
# Files are rewritten only when their content changes (the bundle's up-to-date check reads
# their times). Python: $PYTHON, else .venv/bin/python, else python3 (it must import
# slicelens with the server extra). With SLICELENS_CHECK_GENERATED=1 (scripts/test.sh) a
# committed file that was stale is an error, after it has been rewritten.
# Usage: bash scripts/gen_api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
gen=web/src/generated
before=$({ cat "$gen/openapi.json" "$gen/api.ts" 2>/dev/null || true; } | cksum)
"$PY" -m slicelens.server.openapi "$gen/openapi.json" >/dev/null
cg=web/codegen
if [ ! -x "$cg/node_modules/.bin/openapi-typescript" ] || [ "$cg/package-lock.json" -nt "$cg/node_modules/.package-lock.json" ]; then
  echo "gen_api: npm ci in $cg"
  (cd "$cg" && npm ci --no-audit --no-fund --loglevel=error)
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if ! log=$("$cg/node_modules/.bin/openapi-typescript" "$gen/openapi.json" -o "$tmp" 2>&1); then
  echo "$log" >&2
  exit 1
fi
if ! cmp -s "$tmp" "$gen/api.ts"; then
  cp "$tmp" "$gen/api.ts"
fi
after=$(cat "$gen/openapi.json" "$gen/api.ts" | cksum)
if [ "$before" != "$after" ]; then
  echo "gen_api: the API changed: rewrote $gen/openapi.json and $gen/api.ts (commit them)"
  if [ "${SLICELENS_CHECK_GENERATED:-0}" = 1 ]; then
    echo "gen_api: the committed client types were stale (SLICELENS_CHECK_GENERATED=1)" >&2
    exit 1
  fi
else
  echo "gen_api: client types up to date"
fi
