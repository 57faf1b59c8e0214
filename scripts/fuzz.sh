#!/usr/bin/env bash
# Fuzzes pg_tokens_core with cargo fuzz (libFuzzer, nightly, AddressSanitizer):
#   parse_token  token parsing and leak triage, on arbitrary bytes
#   mint_args    the rules for mint's arguments (and allowlist, rate limit,
#                grace, reason), on arbitrary structured arguments
# Usage: scripts/fuzz.sh [seconds per target] (default 20). Fails on any crash,
# leaving the input in fuzz/artifacts/<target>/. The corpus is kept in
# fuzz/corpus/<target>/ (not committed), so later runs go on from it.
# Needs cargo-fuzz and the nightly toolchain: scripts/setup.sh installs them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

seconds=${1:-20}
case "$seconds" in
  ''|*[!0-9]*|0) log "usage: scripts/fuzz.sh [seconds per target, at least 1]"; exit 2 ;;
esac
targets=(parse_token mint_args)

if ! rustup toolchain list | grep '^nightly' >/dev/null; then
  log "fuzzing needs the nightly toolchain: run scripts/setup.sh"; exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "fuzzing needs cargo-fuzz: run scripts/setup.sh"; exit 1
fi

# The committed fuzz/Cargo.lock is used as it is (cargo fuzz has no --locked).
cargo +nightly fetch --locked --manifest-path fuzz/Cargo.toml
log "fuzz: building ${targets[*]} (nightly, release, AddressSanitizer)"
cargo +nightly fuzz build

# A seed for parse_token: the SPEC's example token.
mkdir -p fuzz/corpus/parse_token
[ -e fuzz/corpus/parse_token/spec-example ] \
  || printf 'tbm_3KVNsn-zEVWQ3IzOXQxfe3e3AvQOx7Wz' > fuzz/corpus/parse_token/spec-example

for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  logfile=fuzz/target/fuzz-$target.log
  log "fuzz: $target for ${seconds}s (log: $logfile)"
  if ! cargo +nightly fuzz run "$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
      >"$logfile" 2>&1; then
    tail -n 60 "$logfile" >&2
    log "fuzz: $target FAILED; the crashing input is in fuzz/artifacts/$target/"
    log "reproduce with: cargo +nightly fuzz run $target fuzz/artifacts/$target/<file>"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logfile" | tail -n 1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$logfile" | tail -n 1 || true)
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  log "fuzz: $target: no crash in ${seconds}s, ${runs:-?} executions, corpus of $corpus inputs"
  [ -z "$done_line" ] || log "fuzz: $target: $done_line"
done
