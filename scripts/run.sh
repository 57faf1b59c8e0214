#!/usr/bin/env bash
# The "run" command: installs what is missing, builds and installs the
# extension, starts a project-local PostgreSQL cluster, creates database
# pg_tokens with the extension and opens the console (tokens-console) on it.
# Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The cluster lives outside the clone when we are root: the postgres user
# must be able to reach it (a clone under /root is not readable by it).
if [ "$(id -u)" -eq 0 ]; then
  DIR=${PG_TOKENS_HOME:-/var/lib/pg_tokens/dev}
else
  DIR=${PG_TOKENS_HOME:-$REPO/.pg}
fi
PORT=${PG_TOKENS_PORT:-54329}
DB=${PG_TOKENS_DB:-pg_tokens}

bash "$REPO/scripts/setup.sh"
install_extension
cluster_start "$DIR" "$PORT"

psql_local() { "$PG_BIN/psql" -X -q -h "$DIR/sock" -p "$PORT" -U postgres "$@"; }
if [ "$(psql_local -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_local -d postgres -c "CREATE DATABASE $DB"
fi
# A cluster from an earlier checkout gets the newest version of the schema.
psql_local -d "$DB" -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_tokens;
ALTER EXTENSION pg_tokens UPDATE;
SQL

DSN="postgresql://postgres@/$DB?host=$DIR/sock&port=$PORT"
log "ready: $DSN"
log "stop it with: $([ "$(id -u)" -eq 0 ] && echo 'runuser -u postgres -- ')$PG_BIN/pg_ctl stop -D $DIR/data"
if [ -t 0 ] && [ -t 1 ]; then
  log "building the console (release)"
  (cd "$REPO" && cargo build --locked --release -p tokens-console)
  target_dir=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  log "opening tokens-console (psql: $PG_BIN/psql -h $DIR/sock -p $PORT -U postgres $DB)"
  exec "${target_dir:-$REPO/target}/release/tokens-console" --dsn "$DSN"
else
  log "no terminal: not opening a session"
fi
