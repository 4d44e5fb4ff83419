#!/usr/bin/env bash
# Local PostgreSQL server for development and CI, without Docker.
#
# Uses Debian's `postgresql` package (installed on first use if missing) but runs its own
# cluster, in the dev dir, on 127.0.0.1:$PG_PORT only; the system's main cluster is not touched.
#
# Usage: dev/postgres.sh start|stop|status|url [DB]|createdb NAME|dropdb NAME|psql [ARGS...]
#   start          install if needed, initdb (first time), start, wait for readiness, and ensure
#                  role `shopfloor` (password `shopfloor`) and database `shopfloor`. Idempotent.
#   stop           fast shutdown (PG_STOP_MODE=immediate: a crash, recovered on the next start). Idempotent.
#   status         exit 0 if running and accepting connections, 1 if running but not ready, 3 if stopped.
#   url [DB]       print the SQLAlchemy URL, postgresql+psycopg://shopfloor:shopfloor@127.0.0.1:$PG_PORT/${DB:-shopfloor}
#   createdb NAME  create database NAME owned by shopfloor if missing (starts the server if needed);
#                  prints its URL.
#   dropdb NAME    drop database NAME if it exists (terminating its connections).
#   psql [ARGS]    psql as shopfloor over TCP to database shopfloor (ARGS passed to psql).
#
# Environment:
#   SHOPFLOOR_DEV_DIR   state dir of this clone (default: see dev/env.sh, under /var/tmp); the
#                       cluster lives in $SHOPFLOOR_DEV_DIR/postgres-$PG_PORT/{data,run,postgres.log}.
#                       Run as root, the server runs as the `postgres` OS user: every directory
#                       above the state dir must let it pass (/var/tmp and /tmp do); nothing
#                       outside the state dir has its permissions changed.
#   PG_PORT             TCP port (default: this clone's, see dev/env.sh)
#   PG_BIN              PostgreSQL bin dir (default: newest /usr/lib/postgresql/*/bin)
#   PG_START_TIMEOUT    seconds to wait for readiness (default 60)
#   PG_EXTRA_CONF       lines appended to the generated server config (later settings win)
#   PG_STOP_MODE        pg_ctl stop mode for `stop`: fast (default) or immediate
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=dev/env.sh
source "$SCRIPT_DIR/env.sh"
load_dev_ports
PORT="$PG_PORT"
HOST=127.0.0.1
TIMEOUT="${PG_START_TIMEOUT:-60}"
APP_USER=shopfloor
APP_PASSWORD=shopfloor
APP_DB=shopfloor

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { printf 'postgres.sh: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "PG_PORT must be a number, got '$PORT'"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "PG_START_TIMEOUT must be a number of seconds, got '$TIMEOUT'"
[[ "$DEV_DIR" != *"'"* ]] || die "SHOPFLOOR_DEV_DIR must not contain a single quote: $DEV_DIR"

PG_DIR="$DEV_DIR/postgres-$PORT"
DATA="$PG_DIR/data"
RUN="$PG_DIR/run"
LOG="$PG_DIR/postgres.log"
CONF_NAME="shopfloor-dev.conf"

# The server runs as the `postgres` OS user, which cannot enter root's cwd: work from /.
cd /

if [[ $EUID -eq 0 ]]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; } # a non-root developer runs the cluster as themselves
fi

# ---------------------------------------------------------------------------------------------
# installation

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/initdb" ]] || die "PG_BIN=$PG_BIN has no initdb"
    echo "$PG_BIN"
    return 0
  fi
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && best="$(printf '%s\n%s\n' "$best" "$d" | sed '/^$/d' | sort -V | tail -n1)"
  done
  [[ -n "$best" ]] || return 1
  echo "$best"
}

install_postgres() {
  log "PostgreSQL is not installed; installing Debian's 'postgresql' ..."
  # Keep the package's own 'main' cluster from being started by invoke-rc.d during install.
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if [[ $EUID -eq 0 && ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
  fi
  local ok=""
  apt_install postgresql && ok=1
  [[ -z "$added_policy" ]] || rm -f "$policy"
  [[ -n "$ok" ]] || die "could not install the 'postgresql' package with apt-get (see output above)"
}

ensure_installed() {
  find_bin >/dev/null || install_postgres
  BIN="$(find_bin)" || die "PostgreSQL installed but no /usr/lib/postgresql/*/bin/initdb found"
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (it comes with the postgresql package)"
  fi
}

BIN=""
need_bin() { [[ -n "$BIN" ]] || BIN="$(find_bin)" || die "PostgreSQL is not installed (run: dev/postgres.sh start)"; }

# ---------------------------------------------------------------------------------------------
# cluster

# The server runs as the `postgres` OS user, which must reach the state dir. The state dir is
# ours to open up; a directory above it that postgres cannot pass (e.g. a 0700 home) is reported,
# never changed.
ensure_traversable() {
  [[ $EUID -eq 0 ]] || return 0
  chmod o+x "$DEV_DIR"
  local path="" part
  local IFS=/
  for part in $DEV_DIR; do
    [[ -n "$part" ]] || continue
    path="$path/$part"
    [[ -d "$path" ]] || break
    runuser -u postgres -- test -x "$path" \
      || die "the postgres OS user cannot enter $path; set SHOPFLOOR_DEV_DIR to a directory under /var/tmp or /tmp"
  done
}

pick_locale() {
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

ensure_cluster() {
  mkdir -p "$DEV_DIR"
  ensure_traversable
  if [[ $EUID -eq 0 ]]; then
    install -d -o postgres -g postgres -m 0755 "$PG_DIR" "$RUN"
    [[ -f "$LOG" ]] || install -o postgres -g postgres -m 0644 /dev/null "$LOG"
  else
    mkdir -p "$PG_DIR" "$RUN"
    touch "$LOG"
  fi
  local want_major
  want_major="$("$BIN/postgres" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')"
  if [[ -f "$DATA/PG_VERSION" ]]; then
    local have
    have="$(cat "$DATA/PG_VERSION")"
    [[ "$have" == "$want_major" ]] || die "$DATA was made by PostgreSQL $have but $BIN is $want_major; remove $PG_DIR (or set PG_BIN)"
  else
    [[ ! -e "$DATA" ]] || [[ -z "$(ls -A "$DATA")" ]] || die "$DATA exists, is not empty and is no PostgreSQL data dir; remove it"
    log "initializing a new cluster (PostgreSQL $want_major) in $DATA ..."
    if [[ $EUID -eq 0 ]]; then install -d -o postgres -g postgres -m 0700 "$DATA"; else mkdir -p "$DATA" && chmod 0700 "$DATA"; fi
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale="$(pick_locale)" >"$PG_DIR/initdb.log" 2>&1 \
      || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  # Our settings live in their own file, rewritten on every start (port, paths, tuning).
  local conf="$DATA/$CONF_NAME"
  as_pg tee "$conf" >/dev/null <<EOF
# Generated by dev/postgres.sh; rewritten on every start. Edit PG_EXTRA_CONF instead.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$RUN'
unix_socket_permissions = 0777
max_connections = 300
shared_buffers = 256MB
timezone = 'UTC'
log_timezone = 'UTC'
${PG_EXTRA_CONF:-}
EOF
  if ! grep -q "include_if_exists = '$CONF_NAME'" "$DATA/postgresql.conf"; then
    printf "\n# dev/postgres.sh settings\ninclude_if_exists = '%s'\n" "$CONF_NAME" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
  fi
}

is_running() { [[ -f "$DATA/PG_VERSION" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
is_ready() { "$BIN/pg_isready" -q -h "$HOST" -p "$PORT" -d postgres -t 2 >/dev/null 2>&1; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

log_tail() {
  if [[ -f "$LOG" ]]; then
    echo "----- last 30 lines of $LOG -----" >&2
    tail -n 30 "$LOG" >&2 || true
    echo "-----" >&2
  fi
}

wait_ready() {
  local start=$SECONDS
  until is_ready; do
    is_running || { log_tail; die "the server is not running (startup failed?)"; }
    (( SECONDS - start < TIMEOUT )) || { log_tail; die "not accepting connections on $HOST:$PORT after ${TIMEOUT}s"; }
    sleep 0.2
  done
}

admin_psql() { # superuser psql over the unix socket (trust); notices silenced
  PGOPTIONS="-c client_min_messages=warning" as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres -d postgres "$@"
}

valid_name() { [[ "$1" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]]; }

ensure_role_and_db() {
  admin_psql >/dev/null <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$APP_USER', '$APP_PASSWORD')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER') \gexec
ALTER ROLE "$APP_USER" WITH LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
SQL
  create_db "$APP_DB"
}

create_db() {
  local name="$1"
  admin_psql >/dev/null <<SQL
SELECT format('CREATE DATABASE %I OWNER %I', '$name', '$APP_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$name') \gexec
SQL
}

url() { echo "postgresql+psycopg://$APP_USER:$APP_PASSWORD@$HOST:$PORT/${1:-$APP_DB}"; }

lock() {
  mkdir -p "$DEV_DIR"
  exec 9>"$DEV_DIR/.postgres-$PORT.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "could not lock $DEV_DIR/.postgres-$PORT.lock (another postgres.sh running?)"
  fi
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_start() {
  lock
  ensure_installed
  if is_running; then
    wait_ready
    ensure_role_and_db
    log "already running ($PG_DIR)"
    url
    return 0
  fi
  port_open && die "port $HOST:$PORT is already in use by another process (set PG_PORT, or stop it)"
  local t0=$SECONDS
  ensure_cluster
  log "starting PostgreSQL on $HOST:$PORT ..."
  # 9>&-: the server must not inherit our lock.
  if ! as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$TIMEOUT" start >/dev/null 9>&-; then
    log_tail
    die "pg_ctl start failed"
  fi
  wait_ready
  ensure_role_and_db
  log "ready ($((SECONDS - t0))s); data: $DATA; log: $LOG"
  url
}

cmd_stop() {
  lock
  need_bin
  if ! is_running; then
    log "not running"
    return 0
  fi
  local mode="${PG_STOP_MODE:-fast}"
  [[ "$mode" == fast || "$mode" == immediate ]] || die "PG_STOP_MODE must be fast or immediate, got '$mode'"
  log "stopping PostgreSQL ($DATA, $mode) ..."
  if ! as_pg "$BIN/pg_ctl" -D "$DATA" -m "$mode" -w -t 60 stop >/dev/null; then
    log "fast shutdown failed; trying immediate"
    as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null || die "could not stop the server"
  fi
  log "stopped"
}

cmd_status() {
  if ! BIN="$(find_bin)" || ! is_running; then
    echo "postgres: stopped"
    return 3
  fi
  if is_ready; then
    echo "postgres: running on $HOST:$PORT ($DATA), $(url)"
    return 0
  fi
  echo "postgres: running but not accepting connections on $HOST:$PORT (see $LOG)"
  return 1
}

cmd_createdb() {
  local name="${1:-}"
  [[ -n "$name" ]] || die "usage: dev/postgres.sh createdb NAME"
  valid_name "$name" || die "invalid database name '$name' (letters, digits, _; not starting with a digit)"
  BIN="$(find_bin)" || BIN=""
  if [[ -z "$BIN" ]] || ! is_running || ! is_ready; then
    cmd_start >/dev/null
  fi
  lock
  create_db "$name"
  url "$name"
}

cmd_dropdb() {
  local name="${1:-}"
  [[ -n "$name" ]] || die "usage: dev/postgres.sh dropdb NAME"
  valid_name "$name" || die "invalid database name '$name'"
  need_bin
  is_running || die "not running (start it with: dev/postgres.sh start)"
  lock
  admin_psql -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
}

cmd_psql() {
  need_bin
  PGPASSWORD="$APP_PASSWORD" "$BIN/psql" -h "$HOST" -p "$PORT" -U "$APP_USER" -d "$APP_DB" "$@"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) url "${2:-}" ;;
  createdb) cmd_createdb "${2:-}" ;;
  dropdb) cmd_dropdb "${2:-}" ;;
  psql) shift; cmd_psql "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
