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
for p in libclang-dev clang build-essential pkg-config libssl-dev openssl sudo tmux valgrind; do
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

# --- PostgreSQL 18 (a pinned build in the project's cache) -------------------
# PG_TOKENS_PG18=0 skips it (and the PG 18 tier of the tests).
if [ "${PG_TOKENS_PG18:-1}" != 0 ]; then
  bash "$(dirname "$0")/pg18.sh"
fi

# --- pgrx pointed at each major's pg_config ---------------------------------
source "$(dirname "$0")/lib.sh"
pgrx_home=${PGRX_HOME:-$HOME/.pgrx}
init=()
for major in "${PG_MAJORS[@]}"; do
  [ -x "$(pg_bin_for "$major")/pg_config" ] && init+=("--pg$major" "$(pg_bin_for "$major")/pg_config")
done
for ((i = 0; i < ${#init[@]}; i += 2)); do
  if ! grep -qsF "${init[i]#--} = \"${init[i+1]}\"" "$pgrx_home/config.toml"; then
    log "cargo pgrx init ${init[*]}"
    cargo pgrx init "${init[@]}"
    break
  fi
done

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
