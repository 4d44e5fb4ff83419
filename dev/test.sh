#!/usr/bin/env bash
# The whole test suite on real components: installs what it needs, starts Kafka and PostgreSQL,
# checks lint, runs every test (unit, integration, end-to-end in Chromium) and the quick benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

if [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing Debian's chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
bash dev/setup.sh test
bash dev/kafka.sh start >/dev/null
bash dev/postgres.sh start >/dev/null

ruff format --check --quiet . || { echo "test.sh: ruff format would change files (run: ruff format .)" >&2; exit 1; }
ruff check --quiet .

python3 -m pytest -p no:cacheprovider "$@"
if [ -d bench ] && [ -f bench/run.py ] && [ $# -eq 0 ]; then
  python3 bench/run.py --quick
fi
echo "test.sh: wall time $(( $(date +%s) - started ))s"
