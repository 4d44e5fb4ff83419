#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller) for development and CI, without Docker.
#
# The broker is run from Maven Central jars (dev/kafka/pom.xml) on the machine's Java 17; Java 17
# and Maven are installed with apt-get when missing (root or sudo).
#
# Usage: dev/kafka.sh start|resume|stop|status|wait|restart|logs|bootstrap
#   start      resolve jars (first time only), format a FRESH data dir, start the broker in the
#              background and wait until it answers metadata requests. Idempotent.
#   resume     like start, but keep the data dir (topics, records, group offsets) if it was
#              formatted before; formats only when there is none. Same as KAFKA_KEEP_DATA=1 start.
#   stop       SIGTERM, then SIGKILL after 20 s; removes the pid file. Idempotent.
#   status     exit 0 if running and answering, 1 if running but not answering, 3 if stopped.
#   wait       wait (up to KAFKA_START_TIMEOUT s) until the running broker answers.
#   restart    stop + start (fresh data dir; KAFKA_KEEP_DATA=1 keeps it, as for a broker outage).
#   logs       print the tail of the broker log.
#   bootstrap  print the bootstrap address (127.0.0.1:$KAFKA_PORT).
#
# Environment:
#   SHOPFLOOR_DEV_DIR         state dir of this clone (default: see dev/env.sh, under /var/tmp)
#   KAFKA_LIBS_DIR            jar dir (default ~/.cache/shopfloor/kafka-libs, or kafka-libs-$KAFKA_VERSION;
#                             a download cache that clones share)
#   KAFKA_VERSION             override the pom's Kafka version (default 3.9.1, from the pom)
#   KAFKA_PORT                PLAINTEXT listener port (default: this clone's, see dev/env.sh)
#   KAFKA_CONTROLLER_PORT     KRaft controller port (default: this clone's)
#   KAFKA_START_TIMEOUT       seconds to wait for readiness (default 90)
#   KAFKA_KEEP_DATA           1: start/restart keep an already formatted data dir (see resume)
#   KAFKA_EXTRA_PROPERTIES    lines appended to server.properties (later keys override earlier
#                             ones, e.g. a `listeners=` line adding a SASL listener). The
#                             PLAINTEXT listener on 127.0.0.1:$KAFKA_PORT must stay: it is what
#                             the readiness check talks to.
#   KAFKA_STORAGE_FORMAT_ARGS extra args for `StorageTool format`, word-split, e.g.
#                             "--add-scram SCRAM-SHA-256=[name=alice,password=alice-secret]"
#   KAFKA_JAVA_OPTS           extra JVM options for the broker (e.g. -Djava.security.auth.login.config=...)
#   PYTHON                    python used for the readiness check if it can import aiokafka
#                             (default: the repo's .venv/bin/python if present, else python3);
#                             otherwise kafka.admin.BrokerApiVersionsCommand is used.
#
# State lives in $SHOPFLOOR_DEV_DIR/kafka-$KAFKA_PORT/: server.properties, data/, kafka.log, kafka.pid.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"

# shellcheck source=dev/env.sh
source "$SCRIPT_DIR/env.sh"
KAFKA_VERSION="${KAFKA_VERSION:-}"
if [[ -n "$KAFKA_VERSION" ]]; then
  LIBS="${KAFKA_LIBS_DIR:-$CACHE_DIR/kafka-libs-$KAFKA_VERSION}"
else
  LIBS="${KAFKA_LIBS_DIR:-$CACHE_DIR/kafka-libs}"
fi
HOST=127.0.0.1
load_dev_ports
PORT="$KAFKA_PORT"
CPORT="$KAFKA_CONTROLLER_PORT"
BOOTSTRAP="$HOST:$PORT"
TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_GRACE=20

RUN_DIR="$DEV_DIR/kafka-$PORT"
DATA_DIR="$RUN_DIR/data"
PROPS="$RUN_DIR/server.properties"
LOG="$RUN_DIR/kafka.log"
PID_FILE="$RUN_DIR/kafka.pid"
STAMP_FILE="$LIBS/.shopfloor-stamp"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

[[ "$PORT" =~ ^[0-9]+$ ]] || die "KAFKA_PORT must be a number, got '$PORT'"
[[ "$CPORT" =~ ^[0-9]+$ ]] || die "KAFKA_CONTROLLER_PORT must be a number, got '$CPORT'"
[[ "$PORT" != "$CPORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both $PORT)"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "KAFKA_START_TIMEOUT must be a number of seconds, got '$TIMEOUT'"

# need COMMAND PACKAGE: installs the Debian package when the command is missing.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "'$1' not found; installing $2 ..."
  apt_install "$2" || die "could not install $2 (needed for '$1')"
  command -v "$1" >/dev/null 2>&1 || die "'$1' still not on PATH after installing $2"
}

# ---------------------------------------------------------------------------------------------
# process helpers

# Prints the broker pid if the pid file names a live kafka.Kafka process; else returns 1.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must be our broker.
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  fi
  echo "$pid"
}

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

log_tail() {
  if [[ -f "$LOG" ]]; then
    echo "----- last 40 lines of $LOG -----" >&2
    tail -n 40 "$LOG" >&2 || true
    echo "-----" >&2
  fi
}

# ---------------------------------------------------------------------------------------------
# jars

libs_stamp() {
  local sum
  sum="$(sha256sum "$POM" | cut -d' ' -f1)"
  echo "pom=$sum version=${KAFKA_VERSION:-pom}"
}

ensure_libs() {
  [[ -f "$POM" ]] || die "missing $POM"
  local want
  want="$(libs_stamp)"
  if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$want" ]] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  need java openjdk-17-jre-headless
  need mvn maven
  log "resolving Kafka jars from Maven Central into $LIBS (first run only) ..."
  mkdir -p "$(dirname "$LIBS")"
  local tmp
  tmp="$(mktemp -d "$(dirname "$LIBS")/.kafka-libs.XXXXXX")"
  local -a mvn_args=(-B -q -f "$POM"
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies
    -DincludeScope=runtime "-DoutputDirectory=$tmp")
  [[ -n "$KAFKA_VERSION" ]] && mvn_args+=("-Dkafka.version=$KAFKA_VERSION")
  if ! mvn "${mvn_args[@]}" >"$tmp.mvn.log" 2>&1; then
    cat "$tmp.mvn.log" >&2
    rm -rf "$tmp" "$tmp.mvn.log"
    die "Maven could not resolve the Kafka jars (see output above)"
  fi
  rm -f "$tmp.mvn.log"
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "Maven ran but no kafka_2.13 jar appeared in $tmp"; }
  echo "$want" >"$tmp/.shopfloor-stamp"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  local jars=("$LIBS"/*.jar)
  log "resolved ${#jars[@]} jars into $LIBS"
}

# ---------------------------------------------------------------------------------------------
# readiness: the broker must answer a metadata request, not merely accept TCP connections

pick_python() {
  if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
  if [[ -x "$REPO_DIR/.venv/bin/python" ]]; then echo "$REPO_DIR/.venv/bin/python"; return; fi
  command -v python3 2>/dev/null || true
}

CHECK_MODE=""
choose_check() {
  [[ -n "$CHECK_MODE" ]] && return 0
  local py
  py="$(pick_python)"
  if [[ -n "$py" ]] && "$py" -c 'import aiokafka' >/dev/null 2>&1; then
    CHECK_MODE="python"
    CHECK_PY="$py"
  else
    CHECK_MODE="java"
    # Kafka 4.x moved this command out of the core jar (into kafka-tools, not resolved here).
    local core=("$LIBS"/kafka_2.13-*.jar)
    grep -qa 'kafka/admin/BrokerApiVersionsCommand.class' "${core[0]}" 2>/dev/null \
      || die "no way to check readiness: '${py:-python3}' cannot import aiokafka, and ${core[0]##*/} has no kafka.admin.BrokerApiVersionsCommand; install aiokafka (or set PYTHON to a python that has it)"
  fi
}

# One metadata round trip; returns 0 when the broker answered with at least one broker.
kafka_answers() {
  port_open "$HOST" "$PORT" || return 1
  choose_check
  if [[ "$CHECK_MODE" == python ]]; then
    timeout 20 "$CHECK_PY" - "$BOOTSTRAP" >/dev/null 2>&1 <<'PY'
import asyncio, sys
from aiokafka.client import AIOKafkaClient

async def main() -> int:
    client = AIOKafkaClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000)
    try:
        await client.bootstrap()
        return 0 if client.cluster.brokers() else 1
    except Exception:
        return 1
    finally:
        await client.close()

sys.exit(asyncio.run(main()))
PY
  else
    # BrokerApiVersionsCommand fetches cluster metadata, then ApiVersions from every broker.
    local out
    out="$(timeout 30 java -Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms32m -Xmx128m \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
      -cp "$LIBS/*" kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$BOOTSTRAP" 2>&1)" || return 1
    grep -q "$HOST:$PORT" <<<"$out"
  fi
}

wait_ready() {
  local pid="$1" start=$SECONDS
  while true; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      log_tail
      die "the broker (pid $pid) exited during startup"
    fi
    if kafka_answers; then
      return 0
    fi
    if (( SECONDS - start >= TIMEOUT )); then
      log_tail
      die "the broker (pid $pid) did not answer metadata requests on $BOOTSTRAP within ${TIMEOUT}s (still running; see $LOG; 'dev/kafka.sh stop' to kill it)"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
# commands

lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "could not lock $RUN_DIR/.lock (another kafka.sh running?)"
  fi
}

random_cluster_id() {
  local id
  while true; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ ${#id} -eq 22 && "$id" != -* ]] && { echo "$id"; return; }
  done
}

write_properties() {
  cat >"$PROPS" <<EOF
# Generated by dev/kafka.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CPORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
# The default 128 MB dedupe buffer can exhaust a 512 MB heap.
log.cleaner.dedupe.buffer.size=8388608
EOF
  if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
    printf '\n# KAFKA_EXTRA_PROPERTIES\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$PROPS"
  fi
}

cmd_start() {
  lock
  local pid
  if pid="$(running_pid)"; then
    if kafka_answers; then
      log "already running (pid $pid) and answering"
      echo "$BOOTSTRAP"
      return 0
    fi
    log "already running (pid $pid) but not answering yet; waiting ..."
    wait_ready "$pid"
    echo "$BOOTSTRAP"
    return 0
  fi
  rm -f "$PID_FILE"

  need java openjdk-17-jre-headless
  local p
  for p in "$PORT" "$CPORT"; do
    port_open "$HOST" "$p" && die "port $HOST:$p is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT, or stop it)"
  done

  local t0=$SECONDS
  ensure_libs
  choose_check # fail before launching if readiness cannot be checked

  # Split on whitespace without glob expansion ("[name=...]" is a glob pattern).
  local -a fmt_extra=() java_extra=()
  read -r -a fmt_extra <<<"${KAFKA_STORAGE_FORMAT_ARGS:-}"
  read -r -a java_extra <<<"${KAFKA_JAVA_OPTS:-}"
  if [[ "${KAFKA_KEEP_DATA:-}" == 1 && -f "$DATA_DIR/meta.properties" ]]; then
    write_properties
    log "keeping the data in $DATA_DIR (KAFKA_KEEP_DATA=1)"
  else
    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
    write_properties
    : >"$LOG"
    local cluster_id
    cluster_id="$(random_cluster_id)"
    if ! java -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$LIBS/*" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" ${fmt_extra[@]+"${fmt_extra[@]}"} >>"$LOG" 2>&1; then
      log_tail
      die "formatting the storage in $DATA_DIR failed"
    fi
  fi

  # setsid: own session, so the broker outlives this shell and its terminal; the inner bash
  # records its own pid and then execs java, so the pid file names the JVM itself.
  # shellcheck disable=SC2016
  nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-start "$PID_FILE" \
    java -Xms256m -Xmx512m -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true \
    ${java_extra[@]+"${java_extra[@]}"} \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$LOG" 2>&1 </dev/null 9>&- &

  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.05
  done
  pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { log_tail; die "could not launch the broker"; }

  wait_ready "$pid"
  local core=("$LIBS"/kafka_2.13-*.jar) version
  version="$(basename "${core[0]}" .jar)"
  log "Kafka ${version#kafka_2.13-} ready (pid $pid, ${CHECK_MODE} check, $((SECONDS - t0))s); log: $LOG"
  echo "$BOOTSTRAP"
}

cmd_stop() {
  lock
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  local start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS - start >= STOP_GRACE )); then
      log "still running after ${STOP_GRACE}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if ! pid="$(running_pid)"; then
    echo "kafka: stopped"
    return 3
  fi
  if kafka_answers; then
    echo "kafka: running (pid $pid), bootstrap $BOOTSTRAP"
    return 0
  fi
  echo "kafka: process running (pid $pid) but not answering on $BOOTSTRAP (starting, or unhealthy; see $LOG)"
  return 1
}

cmd_wait() {
  local pid
  pid="$(running_pid)" || die "not running (start it with: dev/kafka.sh start)"
  wait_ready "$pid"
  echo "$BOOTSTRAP"
}

case "${1:-}" in
  start) cmd_start ;;
  resume) KAFKA_KEEP_DATA=1 cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wait) cmd_wait ;;
  restart) cmd_stop; cmd_start ;;
  logs) if [[ -f "$LOG" ]]; then tail -n "${2:-100}" "$LOG"; else die "no log at $LOG"; fi ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
