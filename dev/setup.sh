#!/usr/bin/env bash
# Installs what `shopfloor demo` needs on a fresh machine: the Python package and the browser assets.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m pip install --disable-pip-version-check -q -e ".${extras:+[$extras]}"
if [ ! -d node_modules/htmx.org ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
