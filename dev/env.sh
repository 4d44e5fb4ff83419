# Sourced by dev/*.sh: where this clone keeps its services' state, which ports they use, and how
# missing Debian packages get installed. Two clones never share a state dir or a port.
#
#   SHOPFLOOR_DEV_DIR   state dir (default /var/tmp/shopfloor-<uid>-<hash of the clone's path>;
#                       under /var/tmp so the `postgres` OS user can reach it without changing
#                       permissions of any directory above it)
#   SHOPFLOOR_CACHE_DIR download cache shared by clones: Kafka jars (default ~/.cache/shopfloor)
#   KAFKA_PORT, KAFKA_CONTROLLER_PORT, PG_PORT
#                       override the ports; otherwise the first start picks free ones (derived
#                       from the clone's hash) and records them in $SHOPFLOOR_DEV_DIR/ports.env

SHOPFLOOR_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
SHOPFLOOR_CLONE_ID="$(printf '%s' "$SHOPFLOOR_REPO_DIR" | sha256sum | cut -c1-8)"
DEV_DIR="${SHOPFLOOR_DEV_DIR:-/var/tmp/shopfloor-$(id -u)-$SHOPFLOOR_CLONE_ID}"
case "$DEV_DIR" in /*) ;; *) DEV_DIR="$PWD/$DEV_DIR" ;; esac
CACHE_DIR="${SHOPFLOOR_CACHE_DIR:-${HOME:-/tmp}/.cache/shopfloor}"

_port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints KAFKA_PORT, KAFKA_CONTROLLER_PORT and PG_PORT of this clone, allocating them on first use:
# three consecutive ports from 20000-29999 (below the kernel's ephemeral range) that nothing
# answers on, starting at a slot derived from the clone's hash.
dev_ports() {
  local file="$DEV_DIR/ports.env"
  mkdir -p "$DEV_DIR"
  (
    exec 7>"$DEV_DIR/.ports.lock"
    command -v flock >/dev/null 2>&1 && flock -w 60 7
    if [[ ! -s "$file" ]]; then
      local slot=$((16#$SHOPFLOOR_CLONE_ID % 3333)) tries base
      for ((tries = 0; tries < 3333; tries++)); do
        base=$((20000 + ((slot + tries) % 3333) * 3))
        _port_taken "$base" || _port_taken $((base + 1)) || _port_taken $((base + 2)) || break
      done
      printf 'KAFKA_PORT=%s\nKAFKA_CONTROLLER_PORT=%s\nPG_PORT=%s\n' "$base" $((base + 1)) $((base + 2)) >"$file.tmp"
      mv "$file.tmp" "$file"
    fi
    cat "$file"
  )
}

# Sets KAFKA_PORT, KAFKA_CONTROLLER_PORT and PG_PORT unless the caller already did.
load_dev_ports() {
  local line name value
  while IFS='=' read -r name value; do
    [[ "$name" =~ ^(KAFKA_PORT|KAFKA_CONTROLLER_PORT|PG_PORT)$ ]] || continue
    [[ -n "${!name:-}" ]] || printf -v "$name" '%s' "$value"
  done < <(dev_ports)
  export KAFKA_PORT KAFKA_CONTROLLER_PORT PG_PORT
}

# apt-get install PACKAGES..., as root or through sudo, waiting for the dpkg lock (another apt
# run) instead of failing; refreshes the package lists when they are empty or the install fails.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { echo "missing: $* (no apt-get here; install them by hand)" >&2; return 1; }
  local -a sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "missing: $* (run as root or with sudo to install them)" >&2; return 1; }
    sudo=(sudo)
  fi
  local -a apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
  local -a inst=(install -y --no-install-recommends
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@")
  echo "installing Debian packages: $* ..." >&2
  {
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
      "${apt[@]}" update && "${apt[@]}" "${inst[@]}"
    else
      "${apt[@]}" "${inst[@]}" || { "${apt[@]}" update && "${apt[@]}" "${inst[@]}"; }
    fi
  } 1>&2
}
