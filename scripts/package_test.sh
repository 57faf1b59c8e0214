#!/usr/bin/env bash
# The package test: installs dist/'s PostgreSQL 15 packages with dpkg -i,
# creates the extension in a fresh cluster that preloads it, mints,
# verifies and reads usage (SQL and the packaged console), then removes
# the packages with dpkg -r and checks that the system is as it was.
#
# A development machine has the extension installed by `cargo pgrx
# install` in the same paths, which dpkg would overwrite and then delete.
# So the test runs in a mount namespace of its own in which PostgreSQL 15's
# lib/ and extension/ directories are private copies without any
# pg_tokens file: the package must bring everything, and the real files
# (mapped by running clusters) are never touched. dpkg's database and
# /usr/bin are the machine's own.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

MAJOR=15
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ARCH=$(dpkg --print-architecture)
EXT=postgresql-$MAJOR-pg-tokens
CONSOLE=tokens-console
for p in "$EXT" "$CONSOLE"; do
  [ -f "dist/${p}_${VERSION}_$ARCH.deb" ] || { echo "dist/${p}_${VERSION}_$ARCH.deb is missing: run bash scripts/package.sh $MAJOR" >&2; exit 1; }
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
    echo "$p is installed on this machine already: the test would remove it" >&2
    exit 1
  fi
done
[ "$(id -u)" -eq 0 ] || { echo "the package test needs root (dpkg -i)" >&2; exit 1; }
[ ! -e /usr/bin/tokens-console ] || { echo "/usr/bin/tokens-console exists and is no package's" >&2; exit 1; }

# What "as it was" means: the PostgreSQL directories' files and their
# checksums, and dpkg's view of both packages.
state() {
  (cd / && find "usr/lib/postgresql/$MAJOR/lib" "usr/share/postgresql/$MAJOR/extension" -type f -print0 |
    sort -z | xargs -0 sha256sum)
  dpkg-query -W -f='${Package} ${Status}\n' "$EXT" "$CONSOLE" 2>/dev/null || true
  ls -la /usr/bin/tokens-console 2>&1 || true
}
before=$(state)

work=$(mktemp -d /tmp/pg_tokens_package.XXXXXX)
chmod 755 "$work"
cleanup() {
  dpkg -r "$EXT" "$CONSOLE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

unshare -m --propagation private bash -s "$REPO" "$work" "$MAJOR" "$VERSION" "$ARCH" <<'INNER'
set -euo pipefail
REPO=$1 WORK=$2 MAJOR=$3 VERSION=$4 ARCH=$5
source "$REPO/scripts/lib.sh"
PG_BIN=/usr/lib/postgresql/$MAJOR/bin
lib=/usr/lib/postgresql/$MAJOR/lib
ext=/usr/share/postgresql/$MAJOR/extension
for d in "$lib" "$ext"; do
  mkdir -p "$WORK/copy$d"
  cp -a "$d/." "$WORK/copy$d/"
  rm -f "$WORK/copy$d"/pg_tokens*
  mount --bind "$WORK/copy$d" "$d"
done

log "package test: dpkg -i"
dpkg -i "$REPO/dist/postgresql-$MAJOR-pg-tokens_${VERSION}_$ARCH.deb" "$REPO/dist/tokens-console_${VERSION}_$ARCH.deb" >/dev/null
dpkg -L "postgresql-$MAJOR-pg-tokens" | grep -qx "$lib/pg_tokens.so"
test -x /usr/bin/tokens-console

dir=$WORK/cluster
mkdir -p "$dir/sock"
chown -R postgres:postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runuser -u postgres -- "$PG_BIN/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$dir/data" >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
  -o "-p $port -k $dir/sock -c listen_addresses='' -c shared_preload_libraries=pg_tokens" >/dev/null
trap 'runuser -u postgres -- "$PG_BIN/pg_ctl" stop -m immediate -D "$dir/data" >/dev/null 2>&1 || true' EXIT
q() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres -d postgres "$@"; }

q -c "CREATE EXTENSION pg_tokens"
[ "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_tokens'")" = "$VERSION" ]
read -r token id < <(q -F ' ' -c "SELECT token, id FROM tokens.mint('package test', ARRAY['read'])")
[ "$(q -c "SELECT valid FROM tokens.verify('$token', ARRAY['read'])")" = t ]
[ "$(q -c "SELECT status FROM tokens.verify('$token', ARRAY['write'])")" = forbidden ]
# Usage is counted in shared memory (the preloaded library), flushed by
# the background worker, and read back per minute.
for _ in $(seq 1 30); do
  uses=$(q -c "SELECT sum(count) FROM tokens.usage('$id', now() - interval '5 minutes', interval '5 minutes')")
  [ "$uses" = 1 ] && break
  sleep 1
done
[ "$uses" = 1 ] || { echo "usage says $uses verifications, not 1" >&2; exit 1; }
# The packaged console, against the packaged extension.
/usr/bin/tokens-console --version | grep -q "$VERSION"
PGHOST=$dir/sock PGPORT=$port PGUSER=postgres PGDATABASE=postgres /usr/bin/tokens-console audit verify >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" stop -m fast -w -D "$dir/data" >/dev/null

log "package test: dpkg -r"
dpkg -r "postgresql-$MAJOR-pg-tokens" tokens-console >/dev/null
for f in "$lib/pg_tokens.so" "$ext/pg_tokens.control" /usr/bin/tokens-console; do
  [ ! -e "$f" ] || { echo "dpkg -r left $f" >&2; exit 1; }
done
INNER

after=$(state)
if [ "$before" != "$after" ]; then
  echo "the package test changed the system:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
log "package test: the packages install, work and leave the system as it was"
