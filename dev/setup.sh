#!/usr/bin/env bash
# Installs what `shopfloor demo` needs into this clone only: a virtual environment in .venv (the
# package, editable, and its pinned dependencies) and the pinned browser assets in node_modules.
# Nothing goes into the system's Python. Usage: dev/setup.sh [EXTRAS], e.g. `dev/setup.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=dev/env.sh
source dev/env.sh
extras="${1:-}"

python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || { echo "setup.sh: needs Python 3.11 or newer as '$python' (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    "$python" -m venv .venv
  fi
fi
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".${extras:+[$extras]}"

command -v npm >/dev/null 2>&1 || apt_install npm
if [ ! -d node_modules/htmx.org ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup.sh: ready; run .venv/bin/shopfloor (or 'source .venv/bin/activate' first)" >&2
