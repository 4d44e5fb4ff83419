#!/usr/bin/env bash
# The whole test suite on real components: installs what it needs (into .venv and node_modules,
# Chromium, Java, Maven and PostgreSQL with apt-get when missing), starts this clone's own Kafka
# and PostgreSQL (state and ports per clone, see dev/env.sh), checks lint, runs every test (unit,
# integration, end-to-end in Chromium) and the quick benchmark harness check.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=dev/env.sh
source dev/env.sh
started=$(date +%s)

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)  # the shipped proxy config is tested
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi
bash dev/setup.sh test,bench  # the bench extra for the quick benchmark harness, before anything runs
SHOPFLOOR_TEST_KAFKA="$(bash dev/kafka.sh start | tail -n1)"
SHOPFLOOR_TEST_POSTGRES="$(bash dev/postgres.sh start | tail -n1)"
export SHOPFLOOR_TEST_KAFKA SHOPFLOOR_TEST_POSTGRES
echo "test.sh: Kafka $SHOPFLOOR_TEST_KAFKA, PostgreSQL $SHOPFLOOR_TEST_POSTGRES (state in $DEV_DIR)" >&2

.venv/bin/ruff format --check --quiet . || { echo "test.sh: ruff format would change files (run: .venv/bin/ruff format .)" >&2; exit 1; }
.venv/bin/ruff check --quiet .

if [ $# -gt 0 ]; then
  .venv/bin/python -m pytest -p no:cacheprovider "$@"
else
  # Most tests wait on Kafka, PostgreSQL and servers of their own and share nothing (own topics,
  # databases, ports), so two workers take them. Those marked `alone` (pages in Chromium, paced
  # kills and restarts, a lock wait: timing is part of what they check) run afterwards one at a time.
  # The default distribution, by index: scope-based ones (loadfile, loadgroup) key tests by node id
  # and silently run one of the schemathesis tests that share one.
  # The quick benchmark harness (a check that the benchmarks run; its figures are not measurements)
  # runs beside the shared tests at a lower priority, its output held until it ends; the alone run
  # starts once both have ended. `timeout` bounds it and gives it a process group of its own, which
  # the exit trap stops whole (its servers and Chromium with it) however this script ends.
  shared=0 alone=0 harness=0
  harness_log="$(mktemp)"
  nice -n 10 timeout -k 30 900 .venv/bin/python bench/run.py --quick >"$harness_log" 2>&1 &
  harness_pid=$!
  trap 'kill -TERM -- "-$harness_pid" 2>/dev/null || true; rm -f "$harness_log"' EXIT
  trap 'exit 143' TERM  # a stop sent to the run's process group ends pytest too; then the exit trap runs
  trap 'exit 129' HUP
  .venv/bin/python -m pytest -p no:cacheprovider -n 2 -m "not alone" || shared=$?
  # 2: interrupted (Ctrl-C), or collection errors or lost workers: stop here.
  [ "$shared" -ne 2 ] || { echo "test.sh: the shared run stopped (exit 2); the alone run skipped" >&2; exit 2; }
  wait "$harness_pid" || harness=$?
  cat "$harness_log"
  echo "test.sh: shared tests and harness done after $(( $(date +%s) - started ))s" >&2
  .venv/bin/python -m pytest -p no:cacheprovider -m alone || alone=$?
  [ "$harness" -eq 0 ] || echo "test.sh: the quick benchmark harness failed (see its output above)" >&2
  [ "$shared" -eq 0 ] && [ "$alone" -eq 0 ] && [ "$harness" -eq 0 ] || { echo "test.sh: tests failed (see above)" >&2; exit 1; }
fi
echo "test.sh: wall time $(( $(date +%s) - started ))s"
