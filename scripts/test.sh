#!/usr/bin/env bash
# The "test" command: every tier, cheapest first.
#   1. pure token logic (unit + property tests, no PostgreSQL)
#   1b. a short cargo fuzz run of the core (FUZZ_SECONDS per target, default 20)
#   2. the extension, built in release mode and installed
#   3. client tests: a fresh project-local cluster, a real client connection
#   4. the console: snapshots, update functions, tmux end-to-end on that cluster
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
log "all tests passed"
