#!/usr/bin/env bash
# The benchmark: pg_tokens side by side with the hand-written peer and the
# floor, in one fresh cluster, one run; prints figures and ratios.
# Usage: bash scripts/bench.sh
#   BENCH_SECONDS=10         seconds per pgbench run
#   BENCH_BIG_TOKENS=10000000  tokens for the latency-at-scale row (0 skips it)
#   BENCH_CALLGRIND=1        instruction counts per verify under valgrind (0 skips)
#   BENCH_ONLY=owner_cost    only the owner-limit and cost rows (after the mint)
#   BENCH_ONLY=capped        only the floor and the capped-verify rows (after the mint)
# About 10 minutes with the defaults (the 10M-token table takes most of it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

SECS=${BENCH_SECONDS:-10}
BIG=${BENCH_BIG_TOKENS:-10000000}
CALLGRIND=${BENCH_CALLGRIND:-1}
DIR=${PG_TOKENS_BENCH_DIR:-/tmp/pg_tokens_bench}
PORT=${PG_TOKENS_BENCH_PORT:-55499}
DB=bench

bash scripts/setup.sh >/dev/null
install_extension >/dev/null 2>&1 || install_extension

cluster_stop "$DIR"
rm -rf "$DIR"
cluster_start "$DIR" "$PORT"
as_cluster_user "$PG_BIN/psql" -X -q -h "$DIR/sock" -p "$PORT" -U postgres -d postgres \
  -c "ALTER SYSTEM SET shared_buffers = '1GB'" -c "ALTER SYSTEM SET max_connections = 50" \
  -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
  -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_tokens'" \
  -c "ALTER SYSTEM SET pg_tokens.max_tracked_tokens = 200000" \
  -c "ALTER SYSTEM SET pg_tokens.max_tracked_per_owner = 0" >/dev/null
# The 100k (and 10M) tokens here are all one owner's, as for one service
# holding a token per customer: such a deployment sizes the usage table
# for them (README, "Memory bound"), or 90% of the capped tokens would be
# refused for want of an entry and the capped rows would time refusals.
cluster_stop "$DIR"
cluster_start "$DIR" "$PORT"
trap 'cluster_stop "$DIR"' EXIT

psql_b() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p "$PORT" -U postgres "$@"; }
now_ms() { date +%s%3N; }
timed() { local t0; t0=$(now_ms); psql_b -d "$DB" -c "$1" >/dev/null; echo $(( $(now_ms) - t0 )); }
best_of_3() { local a b c; a=$(timed "$1"); b=$(timed "$1"); c=$(timed "$1"); printf '%s\n' "$a" "$b" "$c" | sort -n | head -n 1; }
pgb() { # pgb SCRIPT [USER] [CLIENTS]: pgbench's report
  "$PG_BIN/pgbench" -n -M prepared -c "${3:-4}" -j 2 -T "$SECS" -h "$DIR/sock" -p "$PORT" \
    -U "${2:-postgres}" -f "bench/$1" "$DB" 2>/dev/null
}
tps() { pgb "$@" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
latency_us() { pgb "$1" postgres 1 | awk '/^latency average/ { printf "%.1f", $4 * 1000 }'; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2fx", a / b }'; }
row() { printf '%-52s %14s %12s %10s\n' "$1" "$2" "$3" "$4"; }

psql_b -d postgres -c "CREATE DATABASE $DB"
psql_b -d "$DB" -c "CREATE EXTENSION pg_tokens" -f bench/baseline_plpgsql.sql -f bench/setup_ours.sql >/dev/null

log "minting 100k tokens with the peer and with pg_tokens"
mint_peer=$(timed "CALL baseline.fill(100000)")
mint_ours=$(timed "INSERT INTO bench.sample SELECT g, (tokens.mint('bench-' || g)).token FROM generate_series(1, 100000) g")
psql_b -d "$DB" -c "VACUUM ANALYZE" >/dev/null

# Owner limits (tokens.set_owner_limits: one rate limit and one pool
# shared by every token of the owner; here every token has the same owner,
# so all clients share one entry and one lease) against none; and capped
# verifies spending 5 credits against 1.
owner_cost_section() {
  log "verify TPS with an owner limit and pool (never reached), and with a cost"
  local owners="SELECT DISTINCT owner FROM tokens.token_store"
  set_owner() { psql_b -d "$DB" -c "SELECT count(tokens.set_owner_limits(owner, $1)) FROM ($owners) o" >/dev/null; }
  # Five runs each way, interleaved (without, with, without, ...), and the
  # median of each: a noisy run or two on a shared machine move neither.
  local plain=() limited=()
  for _ in 1 2 3 4 5; do
    plain+=("$(tps pgb_ours_verify.sql)")
    set_owner "2000000000, '1 day', 1000000000000, NULL, NULL"
    limited+=("$(tps pgb_ours_verify.sql)")
    set_owner "NULL, NULL, NULL, NULL, NULL"
  done
  owner_plain=$(median "${plain[@]}")
  ours_owner=$(median "${limited[@]}")
  owner_runs="$(printf '%.0f ' "${limited[@]}")vs $(printf '%.0f ' "${plain[@]}")"
  # A cap on every token (straight into the tables, as below), its first
  # leases taken by a warm-up pass.
  psql_b -d "$DB" -c "CREATE TEMP TABLE cost_pools AS SELECT id, nextval('tokens.credit_pool_seq') AS pool FROM tokens.token_store;
      INSERT INTO tokens.credit_store (pool, remaining, started_at) SELECT pool, 1000000000000, now() FROM cost_pools;
      UPDATE tokens.token_store t SET credit_pool = c.pool FROM cost_pools c WHERE c.id = t.id" \
    -c "VACUUM FULL tokens.token_store" -c "ANALYZE tokens.token_store" >/dev/null
  tps pgb_ours_cost1.sql >/dev/null
  ours_cost1=$(tps pgb_ours_cost1.sql)
  ours_cost5=$(tps pgb_ours_cost5.sql)
  psql_b -d "$DB" -c "UPDATE tokens.token_store SET credit_pool = NULL" \
    -c "VACUUM FULL tokens.token_store" -c "ANALYZE tokens.token_store" >/dev/null
}
owner_cost_rows() {
  row "verify TPS with an owner limit (ref: without, medians of 5 interleaved)" "$ours_owner" "$owner_plain" "$(ratio "$ours_owner" "$owner_plain")"
  row "  ... the runs, with vs without" "$owner_runs" "" ""
  row "capped verify TPS, cost 5 (ref: cost 1)" "$ours_cost5" "$ours_cost1" "$(ratio "$ours_cost5" "$ours_cost1")"
}
capped_section() {
  log "verify TPS of usage-capped tokens (a cap on every token, never used up)"
  # Straight into the tables, as the rate limits above: one pool of 10^12
  # credits per token. The first pass over random tokens takes each token's
  # first lease (a durable write of its pool row); the second spends leases.
  psql_b -d "$DB" -c "INSERT INTO tokens.credit_store (pool, remaining, started_at)
      SELECT row_number() OVER (ORDER BY id), 1000000000000, now() FROM tokens.token_store" \
    -c "UPDATE tokens.token_store t SET credit_pool = p.n
          FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM tokens.token_store) p WHERE p.id = t.id" \
    -c "SELECT setval('tokens.credit_pool_seq', (SELECT max(pool) FROM tokens.credit_store))" \
    -c "VACUUM FULL tokens.token_store" -c "ANALYZE tokens.token_store" -c "CHECKPOINT" >/dev/null
  wal0=$(psql_b -d "$DB" -tA -c "SELECT pg_current_wal_insert_lsn()")
  ours_capped_first=$(tps pgb_ours_verify.sql)
  wal_capped=$(psql_b -d "$DB" -tA -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal0')")
  ours_capped=$(tps pgb_ours_verify.sql)
  ours_capped_hot=$(tps pgb_ours_hot.sql)
  psql_b -d "$DB" -c "UPDATE tokens.token_store SET credit_pool = NULL" \
    -c "VACUUM FULL tokens.token_store" -c "ANALYZE tokens.token_store" >/dev/null
}
capped_rows() {
  row "capped verify TPS, random, first leases (ref: floor)" "$ours_capped_first" "$floor" "$(ratio "$ours_capped_first" "$floor")"
  row "  ... WAL bytes of that run (leases written in place)" "$wal_capped" "" ""
  row "capped verify TPS, random, second pass (ref: floor)" "$ours_capped" "$floor" "$(ratio "$ours_capped" "$floor")"
  row "capped verify TPS, one hot token (ref: floor)" "$ours_capped_hot" "$floor" "$(ratio "$ours_capped_hot" "$floor")"
}
if [ "${BENCH_ONLY:-}" = capped ]; then
  floor=$(tps pgb_floor.sql)
  capped_section
  row "measure" "pg_tokens" "reference" "ratio"
  capped_rows
  exit 0
fi

if [ "${BENCH_ONLY:-}" = owner_cost ]; then
  owner_cost_section
  row "measure" "pg_tokens" "reference" "ratio"
  owner_cost_rows
  exit 0
fi

log "application transactions (authenticate + INSERT + audit) at 16 clients and at 1"
app_plain16=$(tps pgb_app_plain.sql postgres 16)
app_audit16=$(tps pgb_app_audit.sql postgres 16)
app_plain1=$(tps pgb_app_plain.sql postgres 1)
app_audit1=$(tps pgb_app_audit.sql postgres 1)
sleep 2 # the last commits' seal
# How long after its transaction began each event was sealed (ms).
seal_delay=$(psql_b -d "$DB" -tA -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d))::int || ' / ' ||
      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d))::int || ' / ' || round(max(d))::int
    FROM (SELECT extract(epoch FROM c.sealed_at - s.at) * 1000 AS d FROM tokens.audit_store s
            JOIN tokens.audit_chain c ON c.event_id = s.id WHERE s.action = 'doc.create') x")
unsealed=$(psql_b -d "$DB" -tA -c "SELECT count(*) FROM tokens.audit_unsealed")

log "pgbench: $SECS s per run, 4 clients"
floor=$(tps pgb_floor.sql)
peer=$(tps pgb_baseline_verify.sql)
peer_hot=$(tps pgb_baseline_hot.sql)
ours=$(tps pgb_ours_verify.sql)
ours_hot=$(tps pgb_ours_hot.sql)

log "server-side verification of 100k tokens in one statement (best of 3)"
FLOOR_BULK="SELECT count(t.id) FROM baseline.sample s JOIN baseline.tokens t ON t.token_hash = encode(sha256(convert_to(s.token, 'UTF8')), 'hex')"
# The floor as defined (hash + one index probe per token), and the plan the
# planner prefers for a whole table at once (a hash join: no probe at all).
floor_bulk=$(best_of_3 "SET enable_hashjoin = off; SET enable_mergejoin = off; $FLOOR_BULK")
floor_bulk_hash=$(best_of_3 "$FLOOR_BULK")
ours_bulk=$(best_of_3 "SELECT count(*) FROM bench.sample s, tokens.verify(s.token) v WHERE v.valid")

log "writes made by 100k verifications of 1k tokens"
VERIFY_1K="SELECT count(*) FROM (SELECT tokens.verify(s.token) FROM bench.sample s, generate_series(1, 100) WHERE s.g <= 1000) v"
stat_rows="SELECT coalesce(sum(n_tup_upd + n_tup_ins + n_tup_del), 0) FROM pg_stat_all_tables WHERE schemaname = 'tokens'"
rows_now() { psql_b -d "$DB" -tA -c "SELECT pg_stat_force_next_flush()" -c "$stat_rows" | tail -n 1; }
# Wait until the flushes of the runs above are over: no row written for two
# flush intervals in a row.
rows0=$(rows_now)
for _ in $(seq 1 30); do
  sleep 6
  rows1=$(rows_now)
  [ "$rows1" = "$rows0" ] && break
  rows0=$rows1
done
lsn0=$(psql_b -d "$DB" -tA -c "SELECT pg_current_wal_insert_lsn()")
# The statement's own WAL: EXPLAIN's WAL counters count this backend only.
wal_stmt=$(psql_b -d "$DB" -tA -c "EXPLAIN (ANALYZE, WAL, FORMAT JSON) $VERIFY_1K" | grep -o '"WAL Bytes": [0-9]*' | head -n 1 | grep -o '[0-9]*$')
# Any write would have given the verifying transaction an xid.
xid=$(psql_b -d "$DB" -tA -c "BEGIN" -c "$VERIFY_1K" -c "SELECT coalesce(pg_current_xact_id_if_assigned()::text, 'none')" -c "COMMIT" | sed -n '2p')
sleep 11 # two flush intervals
rows_flush=$(( $(rows_now) - rows0 ))
wal_after=$(psql_b -d "$DB" -tA -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn0')")

log "verify latency, 1 client, at 100k tokens"
lat_100k=$(latency_us pgb_ours_verify.sql)

log "verify TPS with a rate limit on every token (limits never reached)"
# Straight into the table: 100k set_rate_limit calls would add 100k audit
# rows. Each update is followed by VACUUM FULL so that both runs see the
# same compact table, and the plain run is measured before and after.
set_limits() {
  psql_b -d "$DB" -c "UPDATE tokens.token_store SET rate_requests = $1, rate_per = $2" \
    -c "VACUUM FULL tokens.token_store" -c "ANALYZE tokens.token_store" >/dev/null
}
set_limits NULL NULL
ours_plain_a=$(tps pgb_ours_verify.sql)
set_limits 2000000000 "'1 day'"
ours_limited=$(tps pgb_ours_verify.sql)
set_limits NULL NULL
ours_plain_b=$(tps pgb_ours_verify.sql)
ours_plain2=$(awk -v a="$ours_plain_a" -v b="$ours_plain_b" 'BEGIN { printf "%.1f", (a + b) / 2 }')

capped_section
owner_cost_section

log "RLS: the example policy over 1M rows"
psql_b -d "$DB" -f bench/setup_rls.sql >/dev/null
rls_none=$(tps pgb_rls_none.sql postgres 1)
rls_policy=$(tps pgb_rls_policy.sql bench_app 1)
rls_row=$(tps pgb_rls_per_row.sql bench_app 1)

log "the audit chain at 1M rows: sealing and verify_audit_chain()"
psql_b -d "$DB" -c "SELECT count(tokens.audit('bench.event', 'e:' || g)) FROM generate_series(1, 1000000 - (SELECT count(*) FROM tokens.audit_store)) g" >/dev/null
seal_1m=$(timed "SELECT tokens.seal_audit()")
chain_rows=$(psql_b -d "$DB" -tA -c "SELECT count(*) FROM tokens.audit_chain")
verify_chain=$(best_of_3 "SELECT tokens.verify_audit_chain()")
chain_rate=$(awk -v n="$chain_rows" -v ms="$verify_chain" 'BEGIN { if (ms == 0) print "n/a"; else printf "%d", n / (ms / 1000) }')

lat_big=""
if [ "$BIG" -gt 100000 ]; then
  log "adding $((BIG - 100000)) more tokens (straight into the table) for the latency at $BIG"
  psql_b -d "$DB" -c "INSERT INTO tokens.token_store (id, hash, prefix, name, kind, owner, created_at)
      SELECT gen_random_uuid(), sha256(int8send(g)), 'tbm_filler00', 'filler', 'service', 'group:filler', now()
        FROM generate_series(1, $BIG - 100000) g" -c "VACUUM ANALYZE tokens.token_store" -c "CHECKPOINT" >/dev/null
  # Warm the sample's index path as the 100k run had it warm.
  psql_b -d "$DB" -c "SELECT count(*) FROM bench.sample s, tokens.verify(s.token) v WHERE v.valid" >/dev/null
  lat_big=$(latency_us pgb_ours_verify.sql)
fi

cg_ours="" cg_peer="" cg_floor=""
if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
  log "instruction counts per verification (valgrind --tool=callgrind, single-user backend, 10k verifications)"
  cluster_stop "$DIR"
  N=10000
  instructions() { # instructions SQL: total instructions of a single-user backend running SQL
    local out="$DIR/callgrind.$RANDOM"
    echo "$1" | as_cluster_user valgrind --tool=callgrind --callgrind-out-file="$out" \
      "$PG_BIN/postgres" --single -D "$DIR/data" -c shared_preload_libraries=pg_tokens "$DB" >/dev/null 2>&1
    sed -n 's/^summary: \([0-9]*\)/\1/p; s/^totals: \([0-9]*\)/\1/p' "$out" | head -n 1
    rm -f "$out"
  }
  base=$(instructions "SELECT count(token) FROM bench.sample WHERE g <= $N")
  per() { awk -v x="$1" -v b="$base" -v n="$N" 'BEGIN { printf "%d", (x - b) / n }'; }
  cg_ours=$(per "$(instructions "SELECT count(*) FROM bench.sample s, tokens.verify(s.token) v WHERE s.g <= $N AND v.valid")")
  cg_floor=$(per "$(instructions "SELECT count(t.id) FROM baseline.sample s JOIN baseline.tokens t ON t.token_hash = encode(sha256(convert_to(s.token, 'UTF8')), 'hex') WHERE s.g <= $N")")
  cg_peer=$(per "$(instructions "SELECT count(baseline.verify(token)) FROM baseline.sample WHERE g <= $N")")
fi

echo
row "measure" "pg_tokens" "reference" "ratio"
row "verify TPS, random tokens (ref: floor)" "$ours" "$floor" "$(ratio "$ours" "$floor")"
row "verify TPS, random tokens (ref: peer)" "$ours" "$peer" "$(ratio "$ours" "$peer")"
row "verify TPS, one hot token (ref: floor)" "$ours_hot" "$floor" "$(ratio "$ours_hot" "$floor")"
row "peer TPS, random / hot (ref: floor)" "$peer / $peer_hot" "$floor" "$(ratio "$peer" "$floor") / $(ratio "$peer_hot" "$floor")"
row "verify TPS with a rate limit (ref: without, mean of before/after)" "$ours_limited" "$ours_plain2" "$(ratio "$ours_limited" "$ours_plain2")"
capped_rows
owner_cost_rows
row "verify latency us, 1 client, $BIG tokens (ref: 100k)" "${lat_big:-skipped}" "$lat_100k" "$(ratio "${lat_big:-0}" "$lat_100k")"
row "instructions per verify, callgrind (ref: floor)" "${cg_ours:-skipped}" "$cg_floor" "$(ratio "${cg_ours:-0}" "${cg_floor:-0}")"
row "instructions per verify, callgrind (ref: peer)" "${cg_ours:-skipped}" "$cg_peer" "$(ratio "${cg_ours:-0}" "${cg_peer:-0}")"
row "verify 100k in one statement, ms (ref: floor, index probes)" "$ours_bulk" "$floor_bulk" "$(ratio "$ours_bulk" "$floor_bulk")"
row "verify 100k in one statement, ms (ref: floor, hash join)" "$ours_bulk" "$floor_bulk_hash" "$(ratio "$ours_bulk" "$floor_bulk_hash")"
row "mint 100k, ms (ref: peer)" "$mint_ours" "$mint_peer" "$(ratio "$mint_ours" "$mint_peer")"
row "app txn TPS, 16 clients, tokens.audit (ref: plain INSERT)" "$app_audit16" "$app_plain16" "$(ratio "$app_audit16" "$app_plain16")"
row "app txn TPS, 1 client, tokens.audit (ref: plain INSERT)" "$app_audit1" "$app_plain1" "$(ratio "$app_audit1" "$app_plain1")"
row "  ... seal delay ms, median / p99 / max; left unsealed" "$seal_delay" "$unsealed" ""
row "seal_audit() of the rest of 1M events, ms" "$seal_1m" "" ""
row "verify_audit_chain() over $chain_rows rows, ms (rows/s)" "$verify_chain" "$chain_rate" ""
row "100k verifies of 1k tokens: WAL bytes of the statement" "$wal_stmt" "" ""
row "  ... xid of the verifying transaction (none = no write)" "$xid" "" ""
row "  ... rows written in the next 11 s (background flush)" "$rows_flush" "" ""
row "  ... WAL bytes in all, 2x100k verifies + flushes" "$wal_after" "" ""
# Time ratios (reference TPS / ours): 1.30x means the policy query takes 1.3 times as long.
row "RLS query TPS, policy (ref: no RLS, owner filter)" "$rls_policy" "$rls_none" "$(ratio "$rls_none" "$rls_policy") time"
row "RLS query TPS, per-row current_owner() (ref: same)" "$rls_row" "$rls_none" "$(ratio "$rls_none" "$rls_row") time"
