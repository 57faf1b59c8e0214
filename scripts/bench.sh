#!/usr/bin/env bash
# The benchmark: pg_tokens side by side with the hand-written peer and the
# floor, in one fresh cluster, one run; prints figures and ratios.
# Usage: bash scripts/bench.sh        (BENCH_SECONDS=10 per pgbench run)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

SECS=${BENCH_SECONDS:-10}
DIR=${PG_TOKENS_BENCH_DIR:-/tmp/pg_tokens_bench}
PORT=${PG_TOKENS_BENCH_PORT:-55499}
DB=bench

bash scripts/setup.sh >/dev/null
install_extension >/dev/null 2>&1 || install_extension

cluster_stop "$DIR"
rm -rf "$DIR"
cluster_start "$DIR" "$PORT"
as_cluster_user "$PG_BIN/psql" -X -q -h "$DIR/sock" -p "$PORT" -U postgres -d postgres \
  -c "ALTER SYSTEM SET shared_buffers = '512MB'" -c "ALTER SYSTEM SET max_connections = 50" >/dev/null
cluster_stop "$DIR"
cluster_start "$DIR" "$PORT"
trap 'cluster_stop "$DIR"' EXIT

psql_b() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p "$PORT" -U postgres "$@"; }
now_ms() { date +%s%3N; }
timed() { local t0; t0=$(now_ms); psql_b -d "$DB" -c "$1" >/dev/null; echo $(( $(now_ms) - t0 )); }
tps() { # tps SCRIPT [USER] [CLIENTS]
  "$PG_BIN/pgbench" -n -M prepared -c "${3:-4}" -j 2 -T "$SECS" -h "$DIR/sock" -p "$PORT" \
    -U "${2:-postgres}" -f "bench/$1" "$DB" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2fx", a / b }'; }
row() { printf '%-52s %14s %12s %10s\n' "$1" "$2" "$3" "$4"; }

psql_b -d postgres -c "CREATE DATABASE $DB"
psql_b -d "$DB" -c "CREATE EXTENSION pg_tokens" -f bench/baseline_plpgsql.sql -f bench/setup_ours.sql >/dev/null

log "minting 100k tokens with the peer and with pg_tokens"
mint_peer=$(timed "CALL baseline.fill(100000)")
mint_ours=$(timed "INSERT INTO bench.sample SELECT g, (tokens.mint('bench-' || g)).token FROM generate_series(1, 100000) g")
psql_b -d "$DB" -c "VACUUM ANALYZE" >/dev/null

log "pgbench: $SECS s per run, 4 clients"
floor=$(tps pgb_floor.sql)
peer=$(tps pgb_baseline_verify.sql)
peer_hot=$(tps pgb_baseline_hot.sql)
ours=$(tps pgb_ours_verify.sql)
ours_hot=$(tps pgb_ours_hot.sql)

log "server-side verification of 100k tokens in one statement"
floor_bulk=$(timed "SELECT count(*) FROM baseline.sample s JOIN baseline.tokens t ON t.token_hash = encode(sha256(convert_to(s.token, 'UTF8')), 'hex')")
ours_bulk=$(timed "SELECT count(*) FROM bench.sample s, tokens.verify(s.token) v WHERE v.valid")

log "writes made by 100k verifications of 1k tokens"
writes=$(psql_b -d "$DB" -tA <<'SQL'
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE before AS
  SELECT pg_current_wal_insert_lsn() AS lsn,
         (SELECT coalesce(sum(n_tup_upd + n_tup_ins), 0) FROM pg_stat_all_tables WHERE schemaname = 'tokens') AS rows;
SELECT count(*) FROM (SELECT tokens.verify(s.token) FROM bench.sample s, generate_series(1, 100) WHERE s.g <= 1000) v;
SELECT pg_stat_force_next_flush();
SELECT pg_sleep(0.6);
SELECT (SELECT coalesce(sum(n_tup_upd + n_tup_ins), 0) FROM pg_stat_all_tables WHERE schemaname = 'tokens') - rows
       || ' ' || pg_wal_lsn_diff(pg_current_wal_insert_lsn(), lsn)
  FROM before;
SQL
)
writes=$(echo "$writes" | tail -n 1)
rows_written=${writes% *}
wal_bytes=${writes#* }

log "RLS: the example policy over 1M rows"
psql_b -d "$DB" -f bench/setup_rls.sql >/dev/null
rls_none=$(tps pgb_rls_none.sql postgres 1)
rls_policy=$(tps pgb_rls_policy.sql bench_app 1)
rls_row=$(tps pgb_rls_per_row.sql bench_app 1)

echo
row "measure" "pg_tokens" "reference" "ratio"
row "verify TPS, random tokens (ref: floor)" "$ours" "$floor" "$(ratio "$ours" "$floor")"
row "verify TPS, random tokens (ref: peer)" "$ours" "$peer" "$(ratio "$ours" "$peer")"
row "verify TPS, one hot token (ref: floor)" "$ours_hot" "$floor" "$(ratio "$ours_hot" "$floor")"
row "peer TPS, random / hot (ref: floor)" "$peer / $peer_hot" "$floor" "$(ratio "$peer" "$floor") / $(ratio "$peer_hot" "$floor")"
row "verify 100k in one statement, ms (ref: floor)" "$ours_bulk" "$floor_bulk" "$(ratio "$ours_bulk" "$floor_bulk")"
row "mint 100k, ms (ref: peer)" "$mint_ours" "$mint_peer" "$(ratio "$mint_ours" "$mint_peer")"
row "rows written by 100k verifies of 1k tokens" "$rows_written" "" ""
row "WAL bytes by 100k verifies of 1k tokens" "$wal_bytes" "" ""
# Time ratios (reference TPS / ours): 1.30x means the policy query takes 1.3 times as long.
row "RLS query TPS, policy (ref: no RLS, owner filter)" "$rls_policy" "$rls_none" "$(ratio "$rls_none" "$rls_policy") time"
row "RLS query TPS, per-row current_owner() (ref: same)" "$rls_row" "$rls_none" "$(ratio "$rls_none" "$rls_row") time"
