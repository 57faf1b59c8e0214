#!/usr/bin/env bash
# The "test" command: every tier, cheapest first.
#   1. pure token logic (unit + property tests, no PostgreSQL)
#   1b. a short cargo fuzz run of the core (FUZZ_SECONDS per target, default 20)
#   2. client tests: the extension built in release mode and installed, a
#      fresh project-local cluster, a real client connection
#   3. the console: snapshots, update functions, tmux end-to-end on that cluster
#   4. the client tests again on PostgreSQL 18 (a cluster of its own), unless
#      PG_TOKENS_PG18=0
#   5. the Debian packages: built, installed with dpkg, used, removed
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

export PG_TOKENS_TEST_DIR=${PG_TOKENS_TEST_DIR:-/tmp/pg_tokens_tests}
export PG_TOKENS_TEST_PORT=${PG_TOKENS_TEST_PORT:-55432}

bash scripts/setup.sh

log "tier 1: core unit and property tests"
cargo test --locked -p pg_tokens_core

log "tier 1b: fuzzing the core (token parsing, mint arguments), ${FUZZ_SECONDS:-20}s per target"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

install_extension

log "tier 2: client tests against a fresh cluster in $PG_TOKENS_TEST_DIR"
cluster_stop "$PG_TOKENS_TEST_DIR"
rm -rf "$PG_TOKENS_TEST_DIR"
trap 'cluster_stop "$PG_TOKENS_TEST_DIR"' EXIT
cargo test --locked -p pg_tokens_tests -- --test-threads "${TEST_THREADS:-4}"

log "tier 3: console (tokens-console): screens, update functions, end to end in tmux on the same cluster"
cargo test --locked -p tokens-console -- --test-threads "${TEST_THREADS:-4}"
cluster_stop "$PG_TOKENS_TEST_DIR"
log "PostgreSQL 15 tiers passed in $SECONDS s"

if [ "${PG_TOKENS_PG18:-1}" != 0 ]; then
  started=$SECONDS
  log "tier 4: client tests on PostgreSQL 18 (cluster in $PG_TOKENS_TEST_DIR-pg18, port $((PG_TOKENS_TEST_PORT + 1)))"
  (
    export PG_MAJOR=18
    PG_BIN=$(pg_bin_for 18)
    export PG_BIN PG_CONFIG=$PG_BIN/pg_config
    export PG_TOKENS_TEST_DIR=$PG_TOKENS_TEST_DIR-pg18 PG_TOKENS_TEST_PORT=$((PG_TOKENS_TEST_PORT + 1))
    install_extension
    cluster_stop "$PG_TOKENS_TEST_DIR"
    rm -rf "$PG_TOKENS_TEST_DIR"
    trap 'cluster_stop "$PG_TOKENS_TEST_DIR"' EXIT
    cargo test --locked -p pg_tokens_tests -- --test-threads "${TEST_THREADS:-4}"
  )
  log "tier 4 (PostgreSQL 18) passed in $((SECONDS - started)) s"
fi

started=$SECONDS
log "tier 5: Debian packages"
if [ "${PG_TOKENS_PG18:-1}" != 0 ]; then bash scripts/package.sh; else bash scripts/package.sh 15; fi
bash scripts/package_test.sh
log "tier 5 (packages) passed in $((SECONDS - started)) s"
log "all tests passed in $SECONDS s"
