#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/test_web_e2e.py drive it with
# Playwright through its executable path; no browser is ever downloaded by a test tool).
# Needs root (apt). Usage: bash scripts/install_browser.sh
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "install_browser: $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
echo "install_browser: apt-get install chromium"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
echo "install_browser: $(chromium --version 2>/dev/null | head -1)"
