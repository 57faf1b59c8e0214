#!/usr/bin/env bash
# Installs what building and testing pg_tokens needs, skipping what is there.
# Debian 12 / Ubuntu, as root or with sudo. Safe to run again: a warm machine
# takes seconds.
set -euo pipefail

PG_MAJOR=15
PGRX_VERSION=0.18.1
CARGO_FUZZ_VERSION=0.13.2
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# --- Debian packages --------------------------------------------------------
need=()
if ! dpkg-query -W -f='${Status}' "postgresql-$PG_MAJOR" 2>/dev/null | grep -q 'install ok installed'; then
  need+=("postgresql-$PG_MAJOR")
fi
for p in libclang-dev clang build-essential pkg-config libssl-dev sudo tmux valgrind; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ! dpkg-query -W -f='${Status}' "postgresql-server-dev-$PG_MAJOR" 2>/dev/null | grep -q 'install ok installed'; then
  need+=("postgresql-server-dev-$PG_MAJOR")
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  as_root apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  # The server first (when missing), then its headers pinned to the server's
  # exact version: unpinned, apt would upgrade the running server.
  if printf '%s\n' "${need[@]}" | grep -qx "postgresql-$PG_MAJOR"; then
    as_root apt-get install -y -qq "postgresql-$PG_MAJOR"
  fi
  server_version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR")
  pkgs=()
  for p in "${need[@]}"; do
    case "$p" in
      "postgresql-$PG_MAJOR") ;;
      "postgresql-server-dev-$PG_MAJOR") pkgs+=("$p=$server_version") ;;
      *) pkgs+=("$p") ;;
    esac
  done
  [ ${#pkgs[@]} -eq 0 ] || as_root apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# --- cargo-pgrx, matching the pgrx the extension is built with -------------
if ! cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION\$"; then
  log "installing cargo-pgrx $PGRX_VERSION (several minutes, once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# --- pgrx pointed at the system PostgreSQL ----------------------------------
pgrx_home=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qs "pg$PG_MAJOR" "$pgrx_home/config.toml"; then
  log "cargo pgrx init --pg$PG_MAJOR"
  cargo pgrx init --pg$PG_MAJOR "$PG_BIN/pg_config"
fi

# --- cargo-fuzz and the nightly toolchain, for scripts/fuzz.sh ---------------
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION (a minute or two, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
if ! rustup toolchain list | grep '^nightly' >/dev/null; then
  log "installing the nightly toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
log "ready: $(cargo pgrx --version), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
